"""Terminal table and self-contained HTML for lineage results.

The HTML has no external resources: styles inline, the heat maps inline SVG
(candidate layer x component kind for one reference, candidate layer x
reference for an audit), colour = -log10 p capped at 20; every value is
escaped by jinja2's autoescape.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

CAP = 20.0


def _layer_key(c: dict[str, Any]) -> str:
    prefix = c["name"].split("layers.")[0] if "layers." in c["name"] else ""
    return f"{prefix}{c['layer']}"


def _strength(p: float) -> float:
    return min(CAP, -math.log10(max(p, 1e-300))) if p < 1 else 0.0


def svg_heatmap(rows: list[str], cols: list[str], values: dict[tuple[str, str], float], title: str) -> str:
    if not rows or not cols:
        return ""
    cw, rh, left, top = 90, 16, 110, 40
    w, h = left + cw * len(cols) + 10, top + rh * len(rows) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for j, c in enumerate(cols):
        out.append(f'<text x="{left + j * cw + cw / 2}" y="{top - 8}" font-size="11" text-anchor="middle">'
                   f'{escape(c[:14])}</text>')
    for i, r in enumerate(rows):
        y = top + i * rh
        out.append(f'<text x="{left - 6}" y="{y + rh - 4}" font-size="11" text-anchor="end">{escape(r)}</text>')
        for j, c in enumerate(cols):
            v = values.get((r, c))
            if v is None:
                fill = "#f5f5f5"
                label = "not compared"
            else:
                t = v / CAP
                red = 255
                gb = int(235 - 200 * t)
                fill = f"rgb({red},{gb},{gb})" if v > 2 else f"rgb({int(215 - 20 * t)},{int(235 - 10 * t)},{int(215 - 20 * t)})"
                label = f"-log10 p = {v:.1f}"
            out.append(f'<rect x="{left + j * cw}" y="{y}" width="{cw - 2}" height="{rh - 2}" fill="{fill}">'
                       f'<title>{escape(r)} / {escape(c)}: {label}</title></rect>')
    out.append("</svg>")
    return "".join(out)


def heatmap_for(obj: dict[str, Any]) -> str:
    comps = [c for c in obj["components"] if c["layer"] is not None]
    rows = sorted({_layer_key(c) for c in comps}, key=lambda s: (s.rstrip("0123456789"), int("0" + "".join(ch for ch in s if ch.isdigit()))))
    kinds = [k for k in ("attention", "mlp", "experts", "router", "norm") if any(c["kind"] == k for c in comps)]
    vals: dict[tuple[str, str], float] = {}
    for c in comps:
        if c["relation"] == "inconclusive" and "evidence" not in c and c["relation"] != "identical":
            continue
        key = (_layer_key(c), c["kind"])
        vals[key] = max(vals.get(key, 0.0), CAP if c["relation"] == "identical" else _strength(c["p_value"]))
    return svg_heatmap(rows, kinds, vals, "evidence per candidate layer and component kind (-log10 p)")


def audit_heatmap(refs: list[dict[str, Any]]) -> str:
    rows: list[str] = []
    vals: dict[tuple[str, str], float] = {}
    cols = [Path(r["reference"]["path"]).name or r["reference"]["path"] for r in refs]
    for col, r in zip(cols, refs):
        for c in r["components"]:
            key = _layer_key(c) if c["layer"] is not None else c["name"]
            if key not in rows:
                rows.append(key)
            if c["relation"] == "inconclusive" and "evidence" not in c:
                continue
            v = CAP if c["relation"] == "identical" else _strength(c["p_value"])
            vals[(key, col)] = max(vals.get((key, col), 0.0), v)
    return svg_heatmap(rows, cols, vals, "evidence per candidate layer and reference (-log10 p)")


def render_html(objs: list[dict[str, Any]], *, audit: bool = False) -> str:
    from fromscratch.report.templating import environment

    env = environment("fromscratch.lineage", trim=False)
    tpl = env.get_template("compare.html.j2")
    maps = [heatmap_for(o) for o in objs]
    if audit and objs:
        maps[0] = audit_heatmap(objs) + maps[0]
    return tpl.render(references=objs, candidate=objs[0]["candidate"] if objs else {"path": ""}, heatmaps=maps)


def print_table(obj: dict[str, Any], console=None) -> None:
    """A compact rich table: one row per component, verdict line first."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        import sys

        # a log file or pipe gets full names rather than an 80-column squeeze
        console = Console() if sys.stdout.isatty() else Console(width=180)
    style = {"identical": "bold red", "derived": "red", "independent": "green", "inconclusive": "yellow"}
    console.print(f"[bold]{obj['candidate']['path']}[/] vs [bold]{obj['reference']['path']}[/]: "
                  f"[{style[obj['verdict']]}]{obj['verdict']}[/] (p = {obj['p_value']:.3g}, shared "
                  f"{obj['shared_parameter_fraction']:.3f}, coverage {obj['coverage']:.3f})")
    table = Table(show_lines=False)
    for col in ("component", "reference", "relation", "p", "similarity", "note"):
        table.add_column(col, no_wrap=col in ("component", "reference", "relation"))
    for c in obj["components"]:
        ref = c["reference_name"] or ""
        note = c.get("reason", "")
        if c.get("naive_cosine") is not None:
            note = f"naive cosine {c['naive_cosine']:.3f} (not evidence) " + note
        table.add_row(c["name"], ref, f"[{style[c['relation']]}]{c['relation']}[/]", f"{c['p_value']:.2g}",
                      f"{c['similarity']:.3f}", note)
    console.print(table)
