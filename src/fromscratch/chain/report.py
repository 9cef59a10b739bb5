"""The chain verification as one self-contained HTML page (inline CSS and SVG, no scripts)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2


def change_chart(steps: list[dict[str, Any]]) -> str:
    """Inline SVG: log10 change per step, flagged steps in red."""
    vals = [(s["to"], s["change"], s["flag"]) for s in steps if s["change"] > 0]
    if not vals:
        return ""
    logs = [math.log10(c) for _, c, _ in vals]
    lo, hi = min(logs), max(logs)
    span = (hi - lo) or 1.0
    w, h, left, top = 40 + 28 * len(vals), 160, 40, 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + left}" height="{h + 30}" role="img" '
             'aria-label="change per step (log scale)">']
    for i, ((to, c, flag), lg) in enumerate(zip(vals, logs)):
        bh = 10 + (lg - lo) / span * (h - 20)
        x = left + 28 * i
        colour = "#c0392b" if flag else "#4a7fb5"
        parts.append(f'<rect x="{x}" y="{top + h - bh}" width="20" height="{bh}" fill="{colour}">'
                     f'<title>step {to}: change {c:.4g}{" (" + flag + ")" if flag else ""}</title></rect>')
        parts.append(f'<text x="{x + 10}" y="{top + h + 14}" font-size="10" text-anchor="middle">{to}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(obj: dict[str, Any]) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("fromscratch.chain", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["p"] = lambda v: "–" if v is None else ("< 1e-300" if float(v) == 0 else f"{float(v):.3g}")
    chart = jinja2.filters.Markup(change_chart(obj["steps"]))  # built from numbers only
    return env.get_template("chain.html.jinja").render(c=obj, chart=chart)


def write_html(obj: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(obj), encoding="utf-8")
