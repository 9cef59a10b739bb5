"""The round-2 preset: four teams, three continue, 40/35/25 with a three-way benchmark part,
team picks committed at open and added to the sealed protocol only when revealed."""

from __future__ import annotations

from fromscratch.decide.api import decide
from fromscratch.decide.presets import preset_toml
from fromscratch.decide.protocol import load
from tests.generators.decide_synthetic import make_human, make_results, write_jsonl
from fromscratch.round.commit import compose_protocol


def test_round2_preset_structure_and_a_decision_with_revealed_picks(tmp_path):
    text = preset_toml("korea-2026-round2")
    (tmp_path / "sealed.toml").write_text(text)
    p = load(tmp_path / "sealed.toml")
    assert len(p.teams) == 4 and p.eliminate == 1
    bench = sum(p.pillars[x] for x in p.benchmark_pillars) + p.pillars[p.choice_pillar]
    assert (bench, p.pillars["expert"], p.pillars["user"]) == (40, 35, 25)
    assert set(p.benchmark_pillars) == {"national", "common"} and p.choice_pillar == "individual"
    assert p.choices.picks == {} and p.originality.gate == "disqualify"
    assert "PLACEHOLDERS" in text and "Sources:" in text
    picks = {t: [f"{t}-pick-1", f"{t}-pick-2"] for t in p.teams}
    (tmp_path / "protocol.toml").write_bytes(compose_protocol(text.encode(), picks, "preset"))
    q = load(tmp_path / "protocol.toml")
    assert {t: list(v) for t, v in q.choices.picks.items()} == picks
    levels = dict(zip(p.teams, (0.74, 0.70, 0.78, 0.60)))
    acc = {t: {b: lv for b in list(p.benchmarks) + [x for v in picks.values() for x in v]} for t, lv in levels.items()}
    write_jsonl(make_results(acc, 30, seed=2), tmp_path / "results.jsonl")
    crit = {k: list(v) for k, v in p.criteria.items()}
    write_jsonl(make_human({"expert": levels, "user": levels}, raters=4, criteria=crit, seed=3),
                tmp_path / "human.jsonl")
    d = decide(tmp_path / "protocol.toml", tmp_path / "results.jsonl", tmp_path / "human.jsonl", resamples=200)
    assert d["eliminated"] == ["motif-technologies"] and len(d["teams"]) - len(d["eliminated"]) == 3
    declared = {r["parameters"]["pillar"]: r["parameters"]["range"] for r in d["counterfactuals"] if r["kind"] == "weight"}
    assert declared["expert"] == [25.0, 45.0] and all(r["parameters"]["declared"] for r in d["counterfactuals"]
                                                       if r["kind"] == "weight")
