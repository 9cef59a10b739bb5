"""A self-contained HTML page for a search result (no scripts, no external assets)."""

from __future__ import annotations

from html import escape
from typing import Any


def _row(cells: list[Any]) -> str:
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def render_html(obj: dict[str, Any]) -> str:
    pf = obj["prefilter"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>fromscratch search</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head><body>",
        f"<h1>Search: {escape(str(obj['candidate']['path']))}</h1>",
        f"<p>Verdict <b>{escape(obj['verdict'])}</b>; {obj['searched']} registered models searched; "
        f"{len(pf['passed'])} passed the pre-filter and got the full test. "
        f"Multiple comparisons: {escape(obj['multiple_comparisons'])}.</p>",
        "<h2>Matches</h2><table><tr><th>model</th><th>verdict</th><th>p (corrected)</th>"
        "<th>shared parameters</th><th>coverage</th></tr>",
    ]
    parts += [_row([m["name"], m["verdict"], f"{m['p_value']:.3g}", f"{m['shared_parameter_fraction']:.1%}",
                    f"{m['coverage']:.1%}"]) for m in obj["matches"]]
    parts.append("</table><h2>Components</h2><table><tr><th>component</th><th>kind</th><th>from</th></tr>")
    for c in obj["components"]:
        src = ", ".join(f"{m['model']} ({m['relation']}, p={m['p_value']:.3g})" for m in c["matches"]) or "-"
        parts.append(_row([c["name"], c["kind"], src]))
    parts.append("</table><h2>Pre-filter</h2><table><tr><th>model</th><th>routes</th><th>hashes</th>"
                 "<th>anchor</th><th>identity</th></tr>")
    for r in pf["passed"]:
        parts.append(_row([r["name"], "+".join(r["routes"]), r["shared_hashes"], r["anchor_score"], r["identity_score"]]))
    parts.append(f"</table><p>{len(pf['passed_over'])} models passed over (listed in the JSON).</p>"
                 "<h2>Blind spots</h2><ul>")
    parts += [f"<li>{escape(b)}</li>" for b in pf["blind_spots"]]
    parts.append("</ul></body></html>\n")
    return "".join(parts)
