"""Each published counterfactual row equals a full decision under the protocol with that one change."""

from __future__ import annotations

import pytest

from fromscratch.decide.api import decide

from .conftest import COMMON, PICKS, write_round

PILLARS = {"common": 30.0, "individual": 10.0, "expert": 35.0, "user": 25.0}


def protocol(eliminate=1, normalisation="raw", pillars=None, gate="disqualify", penalty=0.0, verdicts=None,
             ranges=None, tie="spare-all", cf_penalty=None) -> str:
    pillars = pillars or PILLARS
    lines = ['name = "cf"', "seed = 11", f"eliminate = {eliminate}", f'normalisation = "{normalisation}"',
             f'tie_policy = "{tie}"', "weight_samples = 200", "[pillars]"]
    lines += [f"{p} = {w!r}" for p, w in pillars.items()]
    lines += ["[benchmarks]"] + [f'{c} = "common"' for c in COMMON]
    lines += ["[random_baseline]"] + [f"{c} = 0.25" for c in COMMON]
    lines += ["[choices]", 'pillar = "individual"'] + [f'{t} = ["{a}", "{b}"]' for t, (a, b) in PICKS.items()]
    lines += ["[originality]", f'gate = "{gate}"', f"penalty = {penalty!r}"]
    lines += ["[originality.verdicts]"] + [f'{t} = "{v}"' for t, v in (verdicts or {}).items()]
    lines += ["[counterfactuals]"] + ([f"penalty = {cf_penalty!r}"] if cf_penalty else [])
    lines += ["[counterfactuals.weights]"] + [f"{p} = [{lo!r}, {hi!r}]" for p, (lo, hi) in (ranges or {}).items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def close_round(tmp_path_factory):
    """Five teams near each other, so different rules really eliminate different teams."""
    levels = {"a": 0.70, "b": 0.67, "c": 0.66, "d": 0.65, "e": 0.64}
    benches = COMMON + [p for v in PICKS.values() for p in v]
    acc = {t: {b: v + (0.05 if b in PICKS[t] else 0.0) - 0.02 * (i % 3) for i, b in enumerate(benches)}
           for t, v in levels.items()}
    hm = {"expert": {"a": 0.6, "b": 0.7, "c": 0.62, "d": 0.75, "e": 0.66},
          "user": {"a": 0.7, "b": 0.6, "c": 0.72, "d": 0.6, "e": 0.74}}
    return write_round(tmp_path_factory.mktemp("cf"), acc, hm, items=120, seed=9)


def _decide(folder, text, name):
    p = folder / f"{name}.toml"
    p.write_text(text)
    return decide(p, folder / "results.jsonl", folder / "human.jsonl", resamples=100)


def _brute(folder, base: dict, row: dict, i: int) -> list[str]:
    """The row's one change applied to the protocol, decided in full."""
    kw = dict(base)
    par = row["parameters"]
    if row["kind"] == "eliminate":
        kw["eliminate"] = par["eliminate"]
    elif row["kind"] == "without-team-chosen":
        kw["pillars"] = dict(PILLARS, **{par["pillar"]: 0.0})
    elif row["kind"] == "normalisation":
        kw["normalisation"] = par["normalisation"]
    elif row["kind"] == "originality-gate":
        kw["gate"] = par["gate"]
        kw["penalty"] = par.get("penalty", kw.get("penalty", 0.0))
    elif row["kind"] == "weight":
        kw["pillars"] = dict(PILLARS, **{par["pillar"]: par["weight"]})
    else:
        raise AssertionError(row["kind"])
    return _decide(folder, protocol(**kw), f"brute-{i}")["eliminated"]


@pytest.mark.parametrize("base", [
    {"gate": "disqualify", "verdicts": {"b": "violation"}, "ranges": {"expert": [20.0, 50.0], "user": [0.0, 40.0]}},
    {"gate": "penalty", "penalty": 0.3, "verdicts": {"a": "violation"}, "eliminate": 2},
    {"gate": "none", "verdicts": {"c": "violation"}, "cf_penalty": 0.5, "tie": "lottery"},
], ids=["disqualify", "penalty", "report-only-lottery"])
def test_every_row_matches_a_brute_force_decision(close_round, base):
    decision = _decide(close_round, protocol(**base), "official")
    rows = decision["counterfactuals"]
    kinds = {r["kind"] for r in rows}
    assert kinds == {"eliminate", "without-team-chosen", "normalisation", "originality-gate", "weight"}
    n_teams = 5 - len(decision["disqualified"])
    assert sorted(r["parameters"]["eliminate"] for r in rows if r["kind"] == "eliminate") == \
        [k for k in range(1, n_teams) if k != base.get("eliminate", 1)]
    assert len([r for r in rows if r["kind"] == "weight"]) == 2 * len(PILLARS)
    assert len([r for r in rows if r["kind"] == "normalisation"]) == 3  # all but raw; target-relative undeclared
    for i, row in enumerate(rows):
        assert row["eliminated"] == _brute(close_round, base, row, i), row["change"]
        assert row["same_decision"] == (row["eliminated"] == decision["eliminated"])
        assert row["change"] and row["change_ko"]
    # the rows are not all the same: the round is close enough for rules to matter
    assert len({tuple(r["eliminated"]) for r in rows}) >= 3
    declared = [r for r in rows if r["kind"] == "weight" and r["parameters"]["declared"]]
    assert {(r["parameters"]["pillar"], r["parameters"]["weight"]) for r in declared} <= \
        {("expert", 20.0), ("expert", 50.0), ("user", 0.0), ("user", 40.0)}


def test_bad_counterfactual_ranges_are_refused(close_round):
    from fromscratch.errors import InputError

    for ranges in ({"nope": [1.0, 2.0]}, {"expert": [40.0, 30.0]}):
        with pytest.raises(InputError, match="counterfactuals"):
            _decide(close_round, protocol(ranges=ranges), "bad")
