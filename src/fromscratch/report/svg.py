"""Small inline-SVG charts (no JavaScript, no network, no plotting library).

Every label is escaped here; the functions return `Markup` so the autoescaping
template inserts them as SVG. Colours are fixed per relation/verdict so the
charts read the same in every report.
"""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

RELATION_COLOURS = {"identical": "#b2182b", "derived": "#ef8a62", "independent": "#67a9cf",
                    "inconclusive": "#bdbdbd", None: "#f0f0f0"}
TEAM_PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]


def _f(x: float) -> str:
    return f"{x:.1f}"


def totals_chart(teams: list[dict[str, Any]], width: int = 640) -> Markup:
    """Each team's total as a dot with its confidence interval; eliminated in red."""
    if not teams:
        return Markup("")
    lo = min(min(t["ci"][0], t["total"]) for t in teams)
    hi = max(max(t["ci"][1], t["total"]) for t in teams)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad
    left, right, row = 130, 20, 28
    h = row * len(teams) + 40
    sx = lambda v: left + (v - lo) / (hi - lo) * (width - left - right)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" class="chart">']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        x = sx(v)
        parts.append(f'<line x1="{_f(x)}" y1="10" x2="{_f(x)}" y2="{h - 25}" stroke="#e0e0e0"/>'
                     f'<text x="{_f(x)}" y="{h - 10}" font-size="11" text-anchor="middle">{v:.1f}</text>')
    for i, t in enumerate(teams):
        y = 25 + i * row
        colour = "#c62828" if t.get("eliminated") else "#1565c0"
        parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">{escape(str(t["team"]))}</text>')
        parts.append(f'<line x1="{_f(sx(t["ci"][0]))}" y1="{y}" x2="{_f(sx(t["ci"][1]))}" y2="{y}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<circle cx="{_f(sx(t["total"]))}" cy="{y}" r="5" fill="{colour}">'
                     f'<title>{escape(str(t["team"]))}: {t["total"]:.3f} [{t["ci"][0]:.3f}, {t["ci"][1]:.3f}]</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(pairs: list[tuple[str, float]], width: int = 640, vmax: float = 1.0, fmt: str = "{:.0%}") -> Markup:
    """Horizontal bars for values in [0, vmax]."""
    if not pairs:
        return Markup("")
    left, right, row = 130, 60, 24
    h = row * len(pairs) + 10
    span = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" class="chart">']
    for i, (label, v) in enumerate(pairs):
        y = 5 + i * row
        w = max(0.0, min(1.0, v / vmax if vmax else 0.0)) * span
        parts.append(f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{_f(w)}" height="15" fill="#ef6c00"/>'
                     f'<text x="{_f(left + w + 5)}" y="{y + 15}" font-size="11">{escape(fmt.format(v))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def sensitivity_grid(sens: dict[str, Any], team_order: list[str], width: int = 640) -> Markup:
    """Pillars x weight factors; each cell coloured by the team eliminated there."""
    rows = sens.get("pillars") or []
    factors = sens.get("factors") or []
    if not rows or not factors:
        return Markup("")
    colour = {t: TEAM_PALETTE[i % len(TEAM_PALETTE)] for i, t in enumerate(team_order)}
    left, top, cw, ch = 120, 24, (width - 130) / len(factors), 26
    h = top + ch * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_f(h)}" role="img" class="chart">']
    for j, f in enumerate(factors):
        parts.append(f'<text x="{_f(left + cw * j + cw / 2)}" y="16" font-size="11" text-anchor="middle">×{f:g}</text>')
    for i, r in enumerate(rows):
        y = top + i * ch
        parts.append(f'<text x="{left - 8}" y="{_f(y + 17)}" font-size="12" text-anchor="end">{escape(str(r["pillar"]))}</text>')
        for j, c in enumerate(r["cells"]):
            team = c.get("eliminated")
            fill = colour.get(team, "#bdbdbd")
            stroke = ' stroke="#000" stroke-width="2"' if c["factor"] == 1.0 else ""
            label = escape(str(team)) if team is not None else "–"
            parts.append(f'<rect x="{_f(left + cw * j)}" y="{_f(y)}" width="{_f(cw - 2)}" height="{ch - 2}" '
                         f'fill="{fill}" opacity="{1.0 if c.get("same") else 0.55}"{stroke}>'
                         f'<title>{escape(str(r["pillar"]))} ×{c["factor"]:g}: {label}</title></rect>'
                         f'<text x="{_f(left + cw * j + cw / 2 - 1)}" y="{_f(y + 16)}" font-size="10" '
                         f'text-anchor="middle" fill="#fff">{label[:8]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def component_heatmap(components: list[dict[str, Any]], width: int = 640) -> Markup:
    """One cell per candidate component (in model order), coloured by its relation
    to the reference; hover shows the name, similarity and p-value."""
    if not components:
        return Markup("")
    per_row = 16
    cw = (width - 10) / per_row
    ch = 22
    n_rows = (len(components) + per_row - 1) // per_row
    h = n_rows * ch + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" class="chart">']
    for i, c in enumerate(components):
        x, y = 5 + (i % per_row) * cw, 3 + (i // per_row) * ch
        rel = c.get("relation")
        fill = RELATION_COLOURS.get(rel, "#f0f0f0")
        sim = c.get("similarity")
        pv = c.get("p_value")
        tip = f'{c.get("name")}: {rel}'
        if sim is not None:
            tip += f", similarity {float(sim):.3f}"
        if pv is not None:
            tip += f", p = {float(pv):.2g}"
        short = str(c.get("name", ""))
        short = short.replace("layers.", "L").replace("vision.", "v.").replace("attention", "att")
        parts.append(f'<rect x="{_f(x)}" y="{y}" width="{_f(cw - 2)}" height="{ch - 2}" fill="{fill}">'
                     f'<title>{escape(tip)}</title></rect>'
                     f'<text x="{_f(x + 2)}" y="{y + 14}" font-size="8">{escape(short[:11])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
