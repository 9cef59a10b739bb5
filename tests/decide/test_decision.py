"""End-to-end decisions on synthetic rounds whose truth is known."""

from __future__ import annotations

import json

import pytest

from fromscratch.decide.api import decide
from fromscratch.jsonio import dumps


@pytest.fixture(scope="module")
def clear_decision(clear_loser):
    return decide(clear_loser / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=1000)


def test_clear_loser_is_robust(clear_decision):
    d = clear_decision
    assert d["schema"] == "fromscratch.decision/1"
    assert d["eliminated"] == ["e"]
    rows = {t["team"]: t for t in d["teams"]}
    assert rows["e"]["p_eliminated"] > 0.99
    assert rows["e"]["rank"] == 5 and rows["e"]["rank_interval"] == [5, 5]
    assert all(rows[t]["p_eliminated"] < 0.01 for t in "abcd")
    rob = d["robustness"]
    assert rob["class"] == "robust" and rob["statement"].startswith("robust")
    assert rob["p_same_decision"] > 0.99
    assert rob["min_weight_change_to_flip"] is None or rob["min_weight_change_to_flip"] >= 0.10
    for t in d["teams"]:
        assert t["ci"][0] <= t["total"] <= t["ci"][1]
    assert d["tests"][0]["eliminated"] == "e" and d["tests"][0]["significant"]


def test_contract_keys_present(clear_decision):
    d = clear_decision
    for key in ("schema", "protocol_sha256", "teams", "eliminated", "robustness"):
        assert key in d
    for t in d["teams"]:
        for key in ("team", "total", "ci", "rank", "rank_interval", "p_eliminated", "selection_advantage"):
            assert key in t
    for key in ("class", "statement", "p_same_decision", "min_weight_change_to_flip"):
        assert key in d["robustness"]


def test_official_totals_follow_the_definitions(clear_loser, clear_decision):
    """Recompute one team's total by hand from the raw tables."""
    rows = [json.loads(x) for x in (clear_loser / "results.jsonl").read_text().splitlines()]
    hum = [json.loads(x) for x in (clear_loser / "human.jsonl").read_text().splitlines()]

    def bmean(team, bench):
        xs = [r["score"] for r in rows if r["team"] == team and r["benchmark"] == bench]
        return sum(xs) / len(xs)

    def hpillar(team, pillar):
        raters = sorted({r["rater"] for r in hum if r["team"] == team and r["pillar"] == pillar})
        per = []
        for rt in raters:
            xs = [r["score"] for r in hum if r["team"] == team and r["pillar"] == pillar and r["rater"] == rt]
            per.append(sum(xs) / len(xs))
        return sum(per) / len(per)

    team = "c"
    common = sum(bmean(team, f"c{i}") for i in range(4)) / 4
    indiv = (bmean(team, "p5") + bmean(team, "p6")) / 2
    want = 30 * common + 10 * indiv + 35 * hpillar(team, "expert") + 25 * hpillar(team, "user")
    got = next(t for t in clear_decision["teams"] if t["team"] == team)["total"]
    assert got == pytest.approx(want, rel=1e-12)


def test_near_tie_is_fragile_with_half_chances(near_tie):
    d = decide(near_tie / "round.toml", near_tie / "results.jsonl", resamples=2000)
    rows = {t["team"]: t for t in d["teams"]}
    assert d["eliminated"] == ["e"]
    assert 0.35 < rows["e"]["p_eliminated"] < 0.65
    assert 0.35 < rows["d"]["p_eliminated"] < 0.65
    assert rows["d"]["p_eliminated"] + rows["e"]["p_eliminated"] == pytest.approx(1.0, abs=0.02)
    rob = d["robustness"]
    assert rob["class"] == "fragile" and rob["statement"].startswith("fragile: ")
    assert "flips if" in rob["statement"]
    assert rob["p_same_decision"] < 0.7
    assert not d["tests"][0]["significant"]


def test_planted_selection_advantage_recovered(planted_selection):
    f = planted_selection
    d = decide(f / "round.toml", f / "results.jsonl", resamples=1000)
    rows = {t["team"]: t for t in d["teams"]}
    a = rows["a"]
    lo, hi = a["selection_advantage_ci"]
    assert lo <= 0.15 <= hi
    assert a["selection_advantage"] == pytest.approx(0.15, abs=0.06)
    assert lo > 0
    for t in "bcde":
        lo, hi = rows[t]["selection_advantage_ci"]
        assert lo <= 0.0 <= hi or abs(rows[t]["selection_advantage"]) < 0.05
    sel = d["selection"]
    assert sel["applied_to_all"]["available"]
    assert set(sel["cross"]) == set("abcde")


def test_same_seed_gives_identical_bytes(clear_loser):
    args = (clear_loser / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl")
    one = dumps(decide(*args, resamples=300))
    two = dumps(decide(*args, resamples=300))
    assert one == two


def test_seed_changes_the_draws(clear_loser, tmp_path):
    text = (clear_loser / "round.toml").read_text().replace("seed = 7", "seed = 8")
    (tmp_path / "round.toml").write_text(text)
    one = decide(clear_loser / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=300)
    two = decide(tmp_path / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=300)
    assert one["teams"][0]["total"] == two["teams"][0]["total"]
    assert one["teams"][0]["ci"] != two["teams"][0]["ci"]


def test_originality_gate_disqualifies_in_addition(clear_loser, tmp_path):
    text = (clear_loser / "round.toml").read_text() + '\n[originality]\ngate = "disqualify"\nverdicts = {b = "violation"}\n'
    (tmp_path / "round.toml").write_text(text)
    d = decide(tmp_path / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=200)
    assert d["eliminated"] == ["b", "e"]
    assert d["disqualified"] == ["b"]
    rows = {t["team"]: t for t in d["teams"]}
    assert rows["b"]["p_eliminated"] == 1.0 and rows["b"]["verdict"] == "violation"


def test_verdicts_file_and_penalty(clear_loser, tmp_path):
    text = (clear_loser / "round.toml").read_text() + '\n[originality]\ngate = "penalty"\npenalty = 0.5\n'
    (tmp_path / "round.toml").write_text(text)
    (tmp_path / "verdicts.json").write_text(json.dumps({"a": {"verdict": "violation"}, "b": "compliant"}))
    d = decide(tmp_path / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=200,
               verdicts_path=tmp_path / "verdicts.json")
    base = decide(clear_loser / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=200)
    ta = next(t for t in d["teams"] if t["team"] == "a")["total"]
    tb = next(t for t in base["teams"] if t["team"] == "a")["total"]
    assert ta == pytest.approx(tb * 0.5)
    assert d["eliminated"] == ["a"]


def test_normalisation_sensitivity_lists_every_kind(clear_decision):
    kinds = [n["normalisation"] for n in clear_decision["normalisations"]]
    assert kinds == ["raw", "random-baseline", "target-relative", "zscore", "rank"]
    by = {n["normalisation"]: n for n in clear_decision["normalisations"]}
    assert by["target-relative"]["available"] is False
    assert by["zscore"]["eliminated"] == ["e"] and by["rank"]["eliminated"] == ["e"]


def test_shapley_adds_up_to_the_margin(clear_decision):
    inf = clear_decision["influence"]
    total = sum(v["value"] for v in inf["shapley"]["values"])
    assert total == pytest.approx(inf["boundary"]["margin"], rel=1e-9)
    assert inf["shapley"]["margin"] == pytest.approx(inf["boundary"]["margin"], rel=1e-12)
    assert len(inf["leave_one_out"]) == len(clear_decision["benchmarks"])


def test_statistical_tie_spares_when_the_protocol_says_so(near_tie, tmp_path):
    text = (near_tie / "round.toml").read_text().replace("eliminate = 1", 'eliminate = 1\nstatistical_tie = "spare"')
    (tmp_path / "round.toml").write_text(text)
    d = decide(tmp_path / "round.toml", near_tie / "results.jsonl", resamples=500)
    assert d["eliminated"] == [] and d["spared"] == ["e"] and d["eliminated_on_score"] == ["e"]


def test_random_baseline_and_target_relative(clear_loser, tmp_path):
    base = (clear_loser / "round.toml").read_text()
    rb = base.replace("eliminate = 1", 'eliminate = 1\nnormalisation = "random-baseline"') + "\n[random_baseline]\nc0 = 0.25\n"
    (tmp_path / "rb.toml").write_text(rb)
    args = (clear_loser / "results.jsonl", clear_loser / "human.jsonl")
    d = decide(tmp_path / "rb.toml", *args, resamples=200)
    row = d["teams"][0]
    assert row["normalised"]["c0"] == pytest.approx((row["benchmarks"]["c0"] - 0.25) / 0.75)
    assert row["normalised"]["c1"] == row["benchmarks"]["c1"]
    tr = base.replace("eliminate = 1", 'eliminate = 1\nnormalisation = "target-relative"')
    (tmp_path / "tr.toml").write_text(tr)
    from fromscratch.errors import InputError

    with pytest.raises(InputError, match=r"needs \[targets\."):
        decide(tmp_path / "tr.toml", *args, resamples=200)
    picks = {"a": ["p1", "p2"], "b": ["p3", "p4"], "c": ["p5", "p6"], "d": ["p7", "p8"], "e": ["p9", "p10"]}
    tables = "".join(f"\n[targets.{t}]\n" + "".join(f"{b} = 0.8\n" for b in ["c0", "c1", "c2", "c3"] + picks[t]) for t in picks)
    (tmp_path / "tr.toml").write_text(tr + tables)
    d = decide(tmp_path / "tr.toml", *args, resamples=200)
    row = d["teams"][0]
    assert row["normalised"]["c2"] == pytest.approx(row["benchmarks"]["c2"] / 0.8)
    assert next(n for n in d["normalisations"] if n["normalisation"] == "target-relative")["available"]


def test_pairwise_probabilities(clear_decision, near_tie):
    above = clear_decision["bootstrap"]["p_above"]
    assert above["a"]["e"] == 1.0 and above["e"]["a"] == 0.0
    d = decide(near_tie / "round.toml", near_tie / "results.jsonl", resamples=1000)
    pa = d["bootstrap"]["p_above"]
    assert 0.3 < pa["d"]["e"] < 0.7
    assert pa["d"]["e"] + pa["e"]["d"] <= 1.0 + 1e-12
