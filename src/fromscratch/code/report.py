"""Terminal summary and self-contained HTML (side-by-side matched regions) for `fromscratch code`."""

from __future__ import annotations

from pathlib import Path

from fromscratch.report.templating import environment

_MAX_PAIRS_PER_FILE = 20
_MAX_LINES = 80


def _lines(text: str, span: list[int]) -> str:
    lines = text.splitlines()
    a, b = max(1, span[0]), min(len(lines), span[1])
    chunk = lines[a - 1:b]
    if len(chunk) > _MAX_LINES:
        chunk = chunk[:_MAX_LINES] + [f"… ({len(lines[a - 1:b]) - _MAX_LINES} more lines)"]
    return "\n".join(chunk)


def write_html(result: dict, candidate: Path, ref_text, path: str | Path) -> None:
    """Render the report; `ref_text(name)` returns a reference file's text (or None)."""
    env = environment("fromscratch.code", trim=False, keep_trailing_newline=True)
    by_file: dict[str, list[dict]] = {}
    for m in result["matches"]:
        by_file.setdefault(m["candidate_file"], []).append(m)
    files = []
    for f in result["files"]:
        cpath = candidate if candidate.is_file() else candidate / f["file"]
        try:
            ctext = cpath.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            ctext = ""
        pairs = []
        for m in sorted(by_file.get(f["file"], []), key=lambda m: -m["score"])[:_MAX_PAIRS_PER_FILE]:
            rtext = ref_text(m["reference_file"]) or ""
            pairs.append({**m, "left": _lines(ctext, m["candidate_lines"]), "right": _lines(rtext, m["reference_lines"])})
        files.append({**f, "pairs": pairs})
    html = env.get_template("code.html.jinja").render(
        candidate=str(candidate), files=files, n_refs=result["references"]["files"], thresholds=result["thresholds"])
    Path(path).write_text(html, encoding="utf-8")


def print_summary(result: dict) -> None:
    """One row per candidate file: relation; every origin with the rules that made it one, a line each, as in
    the HTML report (a declared origin and the model whose interface the file keeps can both be there), else
    the best reference; code, identifier and interface scores, p-values, attribution."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    table = Table(title=f"code reuse ({result['references']['files']} reference files)")
    for col in ("file", "relation", "origins (or best reference)", "rules", "code", "names", "keys / modules", "p",
                "port p", "attributed"):
        table.add_column(col)
    for f in result["files"]:
        top = f["ranking"][0] if f["ranking"] else None
        port = f.get("port_test") or {}
        iface = f.get("interface_test") or {}
        details = f.get("origin_details") or []
        table.add_row(
            f["file"], f["relation"],
            "\n".join(d["reference_file"] for d in details) if details else top["reference_file"] if top else "—",
            "\n".join("+".join(d["rules"]) + (f" via {d['via']}" if d.get("via") else "") for d in details)
            if details else "—",
            f"{top['code_score']:.3f}" if top else "—",
            f"{top['identifier_score']:.3f}" if top else "—",
            f"{iface['statistic']:.2f} / {iface['module_share']:.2f}" if iface else "—",
            f"{top['p_value']:.2g}" if top and top["p_value"] is not None else "—",
            f"{port['p_value']:.2g}" if port.get("p_value") is not None else "—",
            "—" if f["attribution"]["attributed"] is None else str(f["attribution"]["attributed"]).lower(),
        )
    console.print(table)
    console.print("code: code score against the best reference (copied at >= "
                  f"{result['thresholds']['file_copied']}); names: identifier overlap; "
                  "keys / modules: shares of the best reference's configuration keys and module names the file "
                  f"has (rule `interface` at >= {result['thresholds'].get('interface', '—')} each); "
                  "port p: the port test's p-value (docs/code.md)")
