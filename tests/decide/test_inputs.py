"""Protocol validation and sealing, and strict reading of the result tables."""

from __future__ import annotations

import json

import pytest

from fromscratch.decide import protocol as proto_mod
from fromscratch.decide.api import decide
from fromscratch.decide.presets import preset_toml
from tests.generators.decide_synthetic import write_csv
from fromscratch.errors import InputError

from .conftest import protocol_text


def _write(path, text):
    path.write_text(text)
    return path


def test_preset_is_valid_and_has_round1_structure(tmp_path):
    p = proto_mod.load(_write(tmp_path / "r.toml", preset_toml("korea-2026-round1")))
    assert p.pillars == {"national": 10, "common": 20, "individual": 10, "expert": 35, "user": 25}
    assert sum(1 for v in p.benchmarks.values() if v == "common") == 13
    assert p.choices.pillar == "individual" and all(len(v) == 2 for v in p.choices.picks.values())
    assert p.choices.picks["naver-cloud"] == ("textvqa", "docvqa")
    assert p.human_pillars == ["expert", "user"] and p.eliminate == 1
    assert p.originality.gate == "disqualify"


def test_seal_ignores_layout_but_not_content(tmp_path):
    a = _write(tmp_path / "a.toml", 'name = "x"\nseed = 1\n[pillars]\np = 1\nq = 2\n')
    b = _write(tmp_path / "b.toml", '# comment\nseed = 1\nname = "x"\n\n[pillars]\nq = 2\np = 1\n')
    c = _write(tmp_path / "c.toml", 'name = "x"\nseed = 1\neliminate = 1\n[pillars]\np = 1\nq = 2\n')
    assert proto_mod.seal(a) == proto_mod.seal(b)
    assert proto_mod.seal(a) != proto_mod.seal(c)  # an explicit default is still a change of the text
    assert len(proto_mod.seal(a)) == 64


@pytest.mark.parametrize("body,needle", [
    ('name = "x"\nseed = 1\n[pillars]\np = -1\n', "weight"),
    ('name = "x"\nseed = 1\nnormalisation = "best"\n[pillars]\np = 1\n', "normalisation"),
    ('name = "x"\nseed = 1\n[pillars]\np = 1\n[benchmarks]\nb = "nope"\n', "unknown pillar"),
    ('name = "x"\nseed = 1\nsurprise = 3\n[pillars]\np = 1\n', "surprise"),
    ('name = "x"\n[pillars]\np = 1\n', "seed"),
    ('name = "x"\nseed = 1\nwhen = 2026-01-15\n[pillars]\np = 1\n', "when"),
    ('name = = "x"\n', "TOML"),
])
def test_bad_protocols_are_one_line_input_errors(tmp_path, body, needle):
    path = _write(tmp_path / "bad.toml", body)
    with pytest.raises(InputError) as exc:
        proto_mod.load(path)
    line = exc.value.one_line()
    assert str(path) in line and needle in line and "\n" not in line


def _round(tmp_path, rows, extra=""):
    common = ["c0", "c1"]
    picks = {"a": ["p1"], "b": ["p2"]}
    _write(tmp_path / "round.toml", protocol_text(extra=extra, picks=picks, human=False, common=common))
    res = tmp_path / "results.jsonl"
    res.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "round.toml", res


def _rows(n=20):
    rows = []
    for team, bias in (("a", 0.1), ("b", 0.0)):
        for b in ("c0", "c1", {"a": "p1", "b": "p2"}[team]):
            rows += [{"team": team, "benchmark": b, "item": i, "score": float((i + (team == "a")) % 2)} for i in range(n)]
    return rows


def test_exact_tie_follows_the_tie_policy(tmp_path):
    pr, res = _round(tmp_path, _rows())  # both teams score exactly 10 of 20 everywhere
    d = decide(pr, res, resamples=200)
    assert d["eliminated"] == []  # spare-all
    assert d["robustness"]["class"] == "fragile" and d["robustness"]["min_weight_change_to_flip"] == 0.0
    pr, res = _round(tmp_path, _rows(), extra='tie_policy = "eliminate-all"')
    assert decide(pr, res, resamples=200)["eliminated"] == ["a", "b"]
    pr, res = _round(tmp_path, _rows(), extra='tie_policy = "lottery"')
    assert len(decide(pr, res, resamples=200)["eliminated"]) == 1


@pytest.mark.parametrize("mutate,needle", [
    (lambda rows: rows + [dict(rows[0])], "duplicate row"),
    (lambda rows: [dict(r, score=1.5) if i == 3 else r for i, r in enumerate(rows)], "outside [0, 1]"),
    (lambda rows: [dict(r, score="high") if i == 3 else r for i, r in enumerate(rows)], "not a number"),
    (lambda rows: rows + [{"team": "zed", "benchmark": "c0", "item": 0, "score": 1.0}], "unknown team"),
    (lambda rows: rows + [{"team": "a", "benchmark": "mmlu", "item": 0, "score": 1.0}], "unknown benchmark"),
    (lambda rows: [r for r in rows if not (r["team"] == "b" and r["benchmark"] == "c1" and r["item"] == 5)], "lacks 1 of 20 items"),
    (lambda rows: [r for r in rows if not (r["team"] == "b" and r["benchmark"] == "p2")], "no results"),
    (lambda rows: [{k: v for k, v in r.items() if k != "score"} for r in rows], "missing column"),
])
def test_bad_results_are_refused_with_the_file_named(tmp_path, mutate, needle):
    pr, res = _round(tmp_path, mutate(_rows()))
    with pytest.raises(InputError) as exc:
        decide(pr, res, resamples=200)
    line = exc.value.one_line()
    assert str(res) in line and needle in line and "\n" not in line


@pytest.mark.parametrize("rule", ["zero", "skip"])
def test_missing_items_rules(tmp_path, rule):
    rows = [r for r in _rows() if not (r["team"] == "b" and r["benchmark"] == "c1" and r["item"] < 4)]
    pr, res = _round(tmp_path, rows, extra=f'missing_items = "{rule}"')
    d = decide(pr, res, resamples=200)
    b = next(t for t in d["teams"] if t["team"] == "b")
    # b scores 1 on odd items: 10 of 20 (zero rule: missing 0,2 are even -> still 0, missing 1,3 -> 0)
    want = 8 / 20 if rule == "zero" else 8 / 16
    assert b["benchmarks"]["c1"] == pytest.approx(want)
    assert any("lacks 4 of 20 items" in w for w in d["warnings"])


def test_csv_and_parquet_read_like_jsonl(tmp_path):
    pr, res = _round(tmp_path, _rows())
    write_csv(_rows(), tmp_path / "results.csv")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = _rows()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "results.parquet")
    base = decide(pr, res, resamples=200)
    for other in ("results.csv", "results.parquet"):
        d = decide(pr, tmp_path / other, resamples=200)
        assert [t["total"] for t in d["teams"]] == [t["total"] for t in base["teams"]]
        assert d["robustness"] == base["robustness"]


def test_human_table_checks(tmp_path):
    text = protocol_text(human=True, picks={"a": ["p1"], "b": ["p2"]}, common=["c0", "c1"])
    text += '[criteria]\nexpert = ["x", "y"]\n'
    _write(tmp_path / "round.toml", text)
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    rows = [{"team": t, "pillar": p, "rater": f"r{r}", "criterion": c, "score": 0.5}
            for t in "ab" for p in ("expert", "user") for r in range(3) for c in (("x", "y") if p == "expert" else ("z",))]
    hp = tmp_path / "human.jsonl"
    hp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    decide(tmp_path / "round.toml", tmp_path / "results.jsonl", hp, resamples=200)
    bad = rows + [dict(rows[0], pillar="vibes")]
    hp.write_text("".join(json.dumps(r) + "\n" for r in bad))
    with pytest.raises(InputError, match="unknown human pillar"):
        decide(tmp_path / "round.toml", tmp_path / "results.jsonl", hp, resamples=200)
    bad = [dict(r, criterion="w") if i == 0 else r for i, r in enumerate(rows)]
    hp.write_text("".join(json.dumps(r) + "\n" for r in bad))
    with pytest.raises(InputError, match="criteria differ"):
        decide(tmp_path / "round.toml", tmp_path / "results.jsonl", hp, resamples=200)
    with pytest.raises(InputError, match="need a human-scores table"):
        decide(tmp_path / "round.toml", tmp_path / "results.jsonl", None, resamples=200)


@pytest.mark.parametrize("name,body,needle", [
    ("deep.jsonl", "[" * 100000 + "]" * 100000 + "\n", "not valid JSON"),
    ("list.jsonl", "[1, 2]\n", "JSON object"),
    ("extra.csv", "team,benchmark,item,score\na,c0,1,0.5,9\n", "more fields"),
    ("nohdr.csv", "x,y\n1,2\n", "missing column"),
    ("junk.parquet", "PAR1 not really", "Parquet"),
    ("empty.jsonl", "", "no rows"),
    ("nan.jsonl", '{"team": "a", "benchmark": "c0", "item": 1, "score": NaN}\n', "outside"),
    ("obj.jsonl", '{"team": {"x": 1}, "benchmark": "c0", "item": 1, "score": 1}\n', "must be a string"),
])
def test_hostile_tables_are_input_errors(tmp_path, name, body, needle):
    from fromscratch.decide.tables import read_results

    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(InputError) as exc:
        read_results(path)
    assert needle in exc.value.one_line() and str(path) in exc.value.one_line()


def test_cluster_column_widens_the_interval(tmp_path):
    """Items that come in passages of 10 sharing one outcome carry far less information than
    independent items: the cluster bootstrap sees it, the item bootstrap does not."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for team, p in (("a", 0.7), ("b", 0.5)):
        for b in ("c0", "c1", {"a": "p1", "b": "p2"}[team]):
            for c in range(20):
                x = float(rng.random() < p)
                rows += [{"team": team, "benchmark": b, "item": f"{c}-{i}", "score": x, "cluster": f"passage-{c}"}
                         for i in range(10)]
    pr, res = _round(tmp_path, rows)
    clustered = decide(pr, res, resamples=400)
    plain_rows = [{k: v for k, v in r.items() if k != "cluster"} for r in rows]
    (tmp_path / "plain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in plain_rows))
    plain = decide(pr, tmp_path / "plain.jsonl", resamples=400)
    assert [t["total"] for t in clustered["teams"]] == [t["total"] for t in plain["teams"]]
    width = lambda d: d["teams"][0]["ci"][1] - d["teams"][0]["ci"][0]  # noqa: E731
    assert width(clustered) > 2.0 * width(plain)
    assert clustered["benchmarks"][0]["clusters"] == 20 and plain["benchmarks"][0]["clusters"] is None
    bad = [dict(r, cluster="elsewhere") if i == 5 else r for i, r in enumerate(rows)]
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad))
    with pytest.raises(InputError, match="elsewhere|cluster"):
        decide(pr, tmp_path / "bad.jsonl", resamples=200)
