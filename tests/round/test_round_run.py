"""A whole round on a trained tiny model: crash and resume, stage caching, verify."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fromscratch.cli import main
from sealed import TEAMS, write_human, write_tasks

pytestmark = pytest.mark.torch


def _write_round(root: Path, model: Path, items: int = 24) -> Path:
    """Three teams, four small benchmarks (subsets of the packs), human scores."""
    root.mkdir(parents=True, exist_ok=True)
    write_tasks(root, items)
    (root / "protocol.toml").write_text("""name = "t"
seed = 3
eliminate = 1
resamples = 300
weight_samples = 500
[pillars]
common = 40
individual = 10
expert = 35
[benchmarks]
particles = "common"
dates = "common"
[choices]
pillar = "individual"
a = ["kodates"]
b = ["units"]
c = ["kodates", "units"]
""")
    write_human(root)
    teams = "".join(f'\n[teams.{t}]\nmodel = "{model}"\n' for t in TEAMS)
    (root / "round.toml").write_text(f"""[round]
name = "t"
protocol = "protocol.toml"
human = "human.csv"
[benchmarks]
particles = "tasks/particles"
dates = "tasks/dates"
kodates = "tasks/kodates"
units = "tasks/units"
{teams}""")
    return root / "round.toml"


def _run(round_file: Path, out: Path, cache: Path, key: Path, summary: Path) -> subprocess.Popen:
    env = dict(os.environ, FROMSCRATCH_CACHE=str(cache))
    return subprocess.Popen([sys.executable, "-m", "fromscratch", "round", "run", str(round_file), "--out", str(out),
                             "--key", str(key), "--json", str(summary)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _logged(cache: Path) -> int:
    n = 0  # complete item lines (a torn last line does not count), minus each log's header
    for p in (cache / "round-stages" / "bench").glob("*.jsonl"):
        n += max(0, p.read_bytes().count(b"\n") - 1)
    return n


def _tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_killed_round_resumes_to_identical_outputs(tiny_model, tmp_path, monkeypatch):
    round_file = _write_round(tmp_path / "in", tiny_model, items=16)
    key = tmp_path / "key.pem"
    total = len(TEAMS) * 4 * 16
    # an uninterrupted run (in this process), with its own cache
    from fromscratch.round.run import run_round

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache-clean"))
    run_round(round_file, tmp_path / "clean", key_path=key)
    monkeypatch.delenv("FROMSCRATCH_CACHE")
    # the same round, killed (SIGKILL: no clean-up at all) after some items were logged
    cache = tmp_path / "cache"
    proc = _run(round_file, tmp_path / "out", cache, key, tmp_path / "s1.json")
    deadline = time.time() + 240
    while _logged(cache) < 30 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _logged(cache)
    assert 30 <= done < total
    again = _run(round_file, tmp_path / "out", cache, key, tmp_path / "s2.json")
    assert again.wait(timeout=300) == 0, again.stderr.read().decode()
    stats = json.loads((tmp_path / "s2.json").read_text())["stages"]["bench"]
    assert stats["items"] == total
    assert stats["reused"] >= done and stats["asked"] == total - stats["reused"]  # nothing asked twice
    for p in (cache / "round-stages" / "bench").glob("*.jsonl"):  # each item logged exactly once
        items = [json.loads(x)["item"] for x in p.read_text().splitlines()[1:]]
        assert len(items) == len(set(items)) == 16
    assert _tree(tmp_path / "out") == _tree(tmp_path / "clean")
    assert main(["verify", str(tmp_path / "out")]) == 0


def test_rerun_repeats_only_what_changed_and_verify_catches_edits(tiny_model, tmp_path, monkeypatch, capsys):
    from fromscratch.round.run import run_round

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    round_file = _write_round(tmp_path / "in", tiny_model, items=12)
    out = tmp_path / "out"
    first = run_round(round_file, out, key_path=tmp_path / "k.pem")
    assert first["stages"]["bench"]["asked"] == 3 * 4 * 12
    assert first["stages"]["audit"]["status"] == "skipped"
    ledger = (out / "ledger.jsonl").read_bytes()
    second = run_round(round_file, out, key_path=tmp_path / "k.pem")
    assert second["stages"]["bench"]["asked"] == 0 and second["stages"]["decision"]["status"] == "cached"
    assert (out / "ledger.jsonl").read_bytes() == ledger  # nothing changed, nothing appended
    # a fourth team submits: only its items are asked, and the ledger gains a signed section
    text = round_file.read_text() + f'\n[teams.d]\nmodel = "{tiny_model}"\n'
    round_file.write_text(text)
    proto = round_file.parent / "protocol.toml"
    proto.write_text(proto.read_text() + 'd = ["units"]\n')
    (round_file.parent / "human.csv").write_text((round_file.parent / "human.csv").read_text()
                                                 + "d,expert,r0,overall,0.55\nd,expert,r1,overall,0.6\n")
    third = run_round(round_file, out, key_path=tmp_path / "k.pem")
    assert third["stages"]["bench"]["asked"] == 4 * 12
    assert third["stages"]["ledger"]["status"] == "appended"
    decision = json.loads((out / "decision.json").read_text())
    assert {t["team"] for t in decision["teams"]} == {"a", "b", "c", "d"}
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()
    # any edited byte in an output is caught and named
    for rel in ("results.jsonl", "decision.json", "index.html", "bench.json"):
        p = out / rel
        original = p.read_bytes()
        p.write_bytes(original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
        assert main(["verify", str(out), "--no-recompute"]) == 4
        assert rel in capsys.readouterr().err
        p.write_bytes(original)
    assert main(["verify", str(out)]) == 0


def test_audits_feed_verdicts_decision_and_report(tiny_model, tmp_path, monkeypatch):
    """A registry holding the very model the teams submit: every audit finds reuse."""
    from fromscratch.round.run import run_round

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    round_file = _write_round(tmp_path / "in", tiny_model, items=6)
    text = round_file.read_text().replace('human = "human.csv"\n', 'human = "human.csv"\npolicy = "korea-2026"\n')
    text = text.replace("[benchmarks]", f'[registry]\nreferences = ["upstream={tiny_model}"]\n\n[benchmarks]', 1)
    round_file.write_text(text)
    summary = run_round(round_file, tmp_path / "out", key_path=tmp_path / "k.pem")
    assert summary["stages"]["audit"]["status"] == "done"
    assert summary["stages"]["audit"]["computed"] == 1 and summary["stages"]["audit"]["cached"] == 2  # same model
    out = tmp_path / "out"
    audit = json.loads((out / "audits" / "a.json").read_text())
    assert audit["verdict"] == "violation" and audit["references"][0]["verdict"] == "identical"
    assert json.loads((out / "verdicts.json").read_text()) == {t: "violation" for t in TEAMS}
    decision = json.loads((out / "decision.json").read_text())
    assert all(t["verdict"] == "violation" for t in decision["teams"])
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "upstream" in html and "#b2182b" in html  # the identical-component colour in the heat map
    entries = [json.loads(x) for x in (out / "ledger.jsonl").read_text().splitlines()]
    assert any(e["kind"] == "input" and e.get("role") == "reference" for e in entries)
    assert main(["verify", str(out)]) == 0
