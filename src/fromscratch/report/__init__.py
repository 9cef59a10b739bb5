"""The round report: one self-contained static HTML page, Korean and English.

`build_report_data` gathers the JSON files of a round folder (decision,
sensitivity map, audits, benchmark summary) into one dict; `render_report`
turns that dict into HTML with a Jinja2 template (autoescaped) and inline SVG
charts. Every number on the page comes from those JSON files — the template
formats, it never computes. No script, font or style is fetched: the page
works offline and the language toggle is pure CSS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.artifacts.hfdir import load_json

__all__ = ["build_report_data", "render_report"]


def _read(path: Path) -> Any:
    return load_json(path) if path.is_file() else None


def build_report_data(out_dir: str | Path, name: str, stages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out_dir = Path(out_dir)
    audits = {}
    adir = out_dir / "audits"
    if adir.is_dir():
        for p in sorted(adir.glob("*.json")):
            audits[p.stem] = _read(p)
    return {"name": name, "stages": stages, "decision": _read(out_dir / "decision.json"),
            "sensitivity": _read(out_dir / "sensitivity.json"), "audits": audits,
            "bench": _read(out_dir / "bench.json"), "seal": _read(out_dir / "protocol.seal.json")}


def render_report(data: dict[str, Any]) -> str:
    from fromscratch.report import svg
    from fromscratch.report.templating import environment, with_pointers

    env = environment("fromscratch.report")
    data = with_pointers(data)  # every formatted figure names its place in the round's JSON files
    decision = data.get("decision") or {}
    teams = sorted(decision.get("teams") or [], key=lambda t: t.get("rank", 0))
    charts = {
        "totals": svg.totals_chart(teams),
        "p_elim": svg.bars([(str(t["team"]), float(t.get("p_eliminated") or 0.0)) for t in teams]),
        "sensitivity": svg.sensitivity_grid(data.get("sensitivity") or {}, [t["team"] for t in teams]),
        "heat": {team: [(ref.get("label") or ref.get("reference", {}).get("path", "?"),
                         svg.component_heatmap(ref.get("components") or []))
                        for ref in (audit or {}).get("references") or []]
                 for team, audit in (data.get("audits") or {}).items()},
    }
    bench_rows = (data.get("bench") or {}).get("summary") or []
    bench_names = sorted({r["benchmark"] for r in bench_rows})
    bench_table = {}
    for r in bench_rows:
        bench_table.setdefault(r["team"], {})[r["benchmark"]] = r
    tpl = env.get_template("report.html.jinja")
    return tpl.render(d=data, decision=decision, teams=teams, charts=charts, colours=svg.RELATION_COLOURS,
                      bench_names=bench_names, bench_table=bench_table,
                      palette={t["team"]: svg.TEAM_PALETTE[i % len(svg.TEAM_PALETTE)] for i, t in enumerate(teams)})
