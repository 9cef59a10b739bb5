"""The gauntlet as a terminal table and as one self-contained HTML page (inline CSS, no scripts).

Both are rendered from the ``fromscratch.gauntlet/1`` JSON alone, in the style
of the audit report, so anyone holding the JSON can re-create them.
"""

from __future__ import annotations

from typing import Any

import jinja2


def _p(value: Any) -> str:
    if value is None:
        return "–"
    value = float(value)
    return "< 1e-300" if value == 0.0 else f"{value:.3g}"


def _diff(row: dict[str, Any]) -> str:
    d = row.get("max_logit_diff")
    if d is None:
        return "–"
    scale = row.get("logit_scale") or 0.0
    return f"{d:.2g}" + (f" (of {scale:.3g})" if scale else "")


def render_html(obj: dict[str, Any]) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fromscratch.disguise", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["p"] = _p
    env.filters["diff"] = _diff
    return env.get_template("gauntlet.html.jinja").render(g=obj)


def print_table(obj: dict[str, Any], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    if console is None:
        import sys

        console = Console() if sys.stdout.isatty() else Console(width=180)
    m = obj["model"]
    console.print(f"[bold]{m['path']}[/] ({m['format']}, {m['parameters']:,} parameters, {m['layers']} blocks): "
                  f"caught [bold]{obj['caught']}[/] of {obj['total']} disguises"
                  + (f"; missed: [red]{', '.join(obj['missed'])}[/]" if obj["missed"] else ""))
    table = Table(show_lines=False)
    for col in ("disguise", "same function", "max |dlogit|", "verdict", "p", "caught", "kept blocks derived"):
        table.add_column(col, no_wrap=col in ("disguise", "verdict"))
    for r in obj["disguises"]:
        fp = {True: "[green]yes[/]", False: "[red]NO[/]", None: "–"}[r["function_preserved"]]
        b = r.get("blocks")
        blocks = "–" if not b else f"{b['derived']}/{b['kept']}" + (
            f", re-init flagged {b['reinitialised_flagged']}/{b['reinitialised']}" if b["reinitialised"] else "")
        caught = "[green]caught[/]" if r["caught"] else ("[yellow]not run[/]" if r["verdict"] == "not-run"
                                                         else "[red]MISSED[/]")
        table.add_row(r["name"], fp, _diff(r), r["verdict"], _p(r.get("p_value")), caught, blocks)
    console.print(table)
