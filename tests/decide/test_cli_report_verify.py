"""CLI contract (`protocol init/seal`, `decide`), the HTML report and bundle verification."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from fromscratch.cli import main
from fromscratch.decide.api import decide, render_html, verify_decision_bundle
from fromscratch.decide.presets import preset_toml
from fromscratch.decide.protocol import load
from tests.generators.decide_synthetic import make_human, make_results, write_jsonl
from fromscratch.jsonio import write_json


@pytest.fixture(scope="module")
def preset_round(tmp_path_factory):
    """Synthetic results for the round-1 preset's benchmarks and teams."""
    folder = tmp_path_factory.mktemp("preset")
    (folder / "round.toml").write_text(preset_toml("korea-2026-round1"))
    p = load(folder / "round.toml")
    levels = dict(zip(p.teams, (0.78, 0.74, 0.70, 0.55, 0.80)))
    acc = {}
    for team, lv in levels.items():
        acc[team] = {b: lv for b in p.benchmarks}
        acc[team].update({b: lv for b in p.choices.picks[team]})
    write_jsonl(make_results(acc, 30, seed=2), folder / "results.jsonl")
    crit = {k: list(v) for k, v in p.criteria.items()}
    write_jsonl(make_human({"expert": levels, "user": levels}, raters=4, criteria=crit, seed=3), folder / "human.jsonl")
    return folder


def test_protocol_init_seal_and_decide(preset_round, tmp_path, capsys):
    assert main(["protocol", "init", "--preset", "korea-2026-round1"]) == 0
    assert capsys.readouterr().out == preset_toml("korea-2026-round1")
    f = preset_round
    seal = tmp_path / "round.seal.json"
    assert main(["protocol", "seal", str(f / "round.toml"), "--out", str(seal)]) == 0
    digest = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert json.loads(seal.read_text())["sha256"] == digest
    out = tmp_path / "d.json"
    html = tmp_path / "d.html"
    rc = main(["decide", "--protocol", str(f / "round.toml"), "--seal", str(seal), "--results", str(f / "results.jsonl"),
               "--human", str(f / "human.jsonl"), "--resamples", "300", "--json", str(out), "--html", str(html)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["protocol_sha256"] == digest
    assert d["eliminated"] == ["nc-ai"]
    assert html.read_text().startswith("<!DOCTYPE html>")
    shap = d["influence"]["shapley"]  # 23 players: estimated from permutations, still adds up exactly
    assert not shap["exact"] and len(shap["values"]) > 16
    assert sum(v["value"] for v in shap["values"]) == pytest.approx(d["influence"]["boundary"]["margin"], rel=1e-9)


def test_protocol_changed_after_sealing_is_refused(preset_round, tmp_path, capsys):
    f = preset_round
    seal = tmp_path / "seal.json"
    assert main(["protocol", "seal", str(f / "round.toml"), "--out", str(seal)]) == 0
    edited = tmp_path / "round.toml"
    edited.write_text((f / "round.toml").read_text().replace("eliminate = 1", "eliminate = 2"))
    capsys.readouterr()
    rc = main(["decide", "--protocol", str(edited), "--seal", str(seal), "--results", str(f / "results.jsonl"),
               "--human", str(f / "human.jsonl"), "--resamples", "200", "--json", str(tmp_path / "x.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "changed after sealing" in err[0] and str(edited) in err[0]
    assert not (tmp_path / "x.json").exists()


def test_cli_bad_input_is_exit_2(preset_round, tmp_path, capsys):
    rc = main(["decide", "--protocol", str(preset_round / "round.toml"), "--results", str(tmp_path / "none.jsonl"),
               "--json", "-"])
    assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["protocol", "init", "--preset", "nowhere-2030"]) == 2


def test_cli_json_is_byte_identical(preset_round, tmp_path):
    f = preset_round
    outs = []
    for i in range(2):
        out = tmp_path / f"d{i}.json"
        assert main(["decide", "--protocol", str(f / "round.toml"), "--results", str(f / "results.jsonl"),
                     "--human", str(f / "human.jsonl"), "--resamples", "200", "--json", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


NUMBER = r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)"  # a number standing alone, not part of a name or hash


def _numbers(obj, acc):
    if isinstance(obj, bool) or obj is None:
        return acc
    if isinstance(obj, (int, float)):
        acc.append(float(obj))
    elif isinstance(obj, str):
        acc.extend(float(x) for x in re.findall(NUMBER, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _numbers(k, acc)
            _numbers(v, acc)
    elif isinstance(obj, list):
        for v in obj:
            _numbers(v, acc)
    return acc


def test_every_number_in_the_html_comes_from_the_json(clear_loser):
    d = decide(clear_loser / "round.toml", clear_loser / "results.jsonl", clear_loser / "human.jsonl", resamples=300)
    html = render_html(d)
    assert "http://" not in html and "https://" not in html and "<script" not in html
    text = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # drop tags (and the SVG geometry in their attributes)
    source = _numbers(d, [])
    tokens = re.findall(NUMBER, text)
    assert len(tokens) > 50
    for tok in tokens:
        digits = len(tok.split(".")[1]) if "." in tok else 0
        ok = any(f"{x:.{digits}f}" == tok or (digits == 0 and f"{x:g}" == tok) for x in source)
        assert ok, f"number {tok} in the HTML is not in the decision JSON"


def test_verify_bundle_holds_and_catches_tampering(clear_loser, tmp_path):
    for name in ("round.toml", "results.jsonl", "human.jsonl"):
        shutil.copy(clear_loser / name, tmp_path / name)
    d = decide(tmp_path / "round.toml", tmp_path / "results.jsonl", tmp_path / "human.jsonl", resamples=200)
    write_json(d, tmp_path / "decision.json")
    assert verify_decision_bundle(tmp_path) == []
    assert verify_decision_bundle(tmp_path / "decision.json") == []
    # a published number edited
    pub = json.loads((tmp_path / "decision.json").read_text())
    pub["teams"][0]["total"] += 1.0
    (tmp_path / "decision.json").write_text(json.dumps(pub))
    probs = verify_decision_bundle(tmp_path)
    assert len(probs) == 1 and "/teams/0/total" in probs[0]
    write_json(d, tmp_path / "decision.json")
    # an input edited
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["score"] = 1.0 - row["score"]
    lines[0] = json.dumps(row)
    (tmp_path / "results.jsonl").write_text("\n".join(lines) + "\n")
    probs = verify_decision_bundle(tmp_path)
    assert probs and "results file changed" in probs[0]
    (tmp_path / "results.jsonl").unlink()
    assert "missing" in verify_decision_bundle(tmp_path)[0]
    assert verify_decision_bundle(tmp_path / "nowhere") != []


def test_decide_output_convention(tmp_path, capsys):
    """Like the other commands: with --json PATH or --html a summary on stdout; --json - and no
    output option at all give the JSON alone on stdout (decide's documented default)."""
    import json

    from fromscratch.cli import main
    from tests.generators import decide_synthetic as s

    acc = {t: {"b": 0.4 + 0.1 * i} for i, t in enumerate("abc")}
    s.write_jsonl(s.make_results(acc, items=30), tmp_path / "r.jsonl")
    (tmp_path / "p.toml").write_text('name = "x"\nseed = 1\nresamples = 200\nweight_samples = 200\n'
                                     'eliminate = 1\n[pillars]\ncommon = 1\n[benchmarks]\nb = "common"\n')
    base = ["decide", "--protocol", str(tmp_path / "p.toml"), "--results", str(tmp_path / "r.jsonl")]
    for extra in ([], ["--json", "-"]):
        assert main(base + extra) == 0
        assert json.loads(capsys.readouterr().out)["schema"] == "fromscratch.decision/1"
    assert main(base + ["--json", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "d.json").read_text())
    assert out.startswith(f"eliminated: {doc['eliminated'][0]}; robustness: {doc['robustness']['class']}")
    assert len(out.splitlines()) == 1
