"""The sealed lifecycle without a model run: open, commit-reveal, refusals, changes after open.

Submissions here are folders with a file in them: `submit` only digests them, and
`run` refuses a changed round before any stage reads a model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sealed import tree, write_sealed_round

from fromscratch.cli import main
from fromscratch.round import ledger as L
from fromscratch.round.commit import commitment

POLICY = Path(__file__).parents[2] / "src" / "fromscratch" / "policy" / "presets" / "permissive.toml"


@pytest.fixture()
def opened(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    ref = tmp_path / "ref-model"
    ref.mkdir()
    (ref / "weights.bin").write_bytes(b"reference weights")
    rf, reveal = write_sealed_round(tmp_path / "in", registry=ref)
    shutil.copyfile(POLICY, tmp_path / "in" / "policy.toml")
    rf.write_text(rf.read_text().replace('policy = "korea-2026"', 'policy = "policy.toml"'))
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["round", "open", str(rf), "--out", str(out), "--key", str(tmp_path / "k.pem")]) == 0
    commit_line = capsys.readouterr().out.strip().splitlines()[-1]
    models = {}
    for t in "abc":
        models[t] = tmp_path / f"model-{t}"
        models[t].mkdir()
        (models[t] / "weights.bin").write_bytes(f"weights of {t}".encode())
    return {"out": out, "round": rf, "reveal": reveal, "key": tmp_path / "k.pem", "ref": ref, "models": models,
            "commitment": commit_line, "in": tmp_path / "in"}


def _submit(o, team, *extra):
    return main(["round", "submit", str(o["out"]), "--team", team, "--model", str(o["models"].get(team, o["ref"])),
                 "--key", str(o["key"]), *extra])


def test_open_seals_everything_and_prints_the_commitment(opened):
    out = opened["out"]
    entries, problems = L.read_entries(out / L.LEDGER)
    assert problems == [] and entries[0]["kind"] == "open" and entries[-1]["kind"] == "head"
    assert opened["commitment"] == entries[-1]["hash"]  # the head after open is the published commitment
    roles = {it["role"] for it in entries[0]["sealed"]}
    assert roles == {"round-file", "protocol", "policy", "rubric", "reference", "benchmark"}
    assert len([it for it in entries[0]["sealed"] if it["role"] == "benchmark"]) == 4
    assert all(len(it["data_sha256"]) == 64 for it in entries[0]["sealed"] if it["role"] == "benchmark")
    assert entries[0]["deadline"] == "2099-01-01T00:00:00+09:00"
    # team c's picks are only a hash; a and b published theirs
    assert entries[0]["teams"]["c"] == {"commitment": commitment("c", ["kodates", "units"], "5eed" * 8), "picks": None}
    import tomllib

    assert "c" not in tomllib.loads((out / "sealed" / "protocol.toml").read_text())["choices"]
    assert sorted(p.name for p in (out / "sealed").iterdir()) == ["policy.toml", "protocol.toml", "round.toml", "rubric.md"]
    assert main(["verify", str(out), "--head", opened["commitment"]]) == 0


def test_submissions_are_recorded_by_digest_and_refusals_change_nothing(opened, capsys):
    o = opened
    chain = [str(o["models"][t]) for t in "abc"]
    assert _submit(o, "a", "--chain", chain[0], chain[1], "--chain", chain[2]) == 2  # two forms mixed: refused
    capsys.readouterr()
    assert _submit(o, "a", "--chain", *chain) == 0
    assert capsys.readouterr().out.strip().startswith("head: ")
    entries, _ = L.read_entries(o["out"] / L.LEDGER)
    sub = entries[-2]
    assert sub["kind"] == "submission" and sub["team"] == "a" and sub["n"] == 1
    assert [c["path"] for c in sub["chain"]] == [str(o["models"][t]) for t in "abc"]
    before = tree(o["out"])
    bad_reveal = o["in"] / "bad-reveal.json"
    rv = json.loads(o["reveal"].read_text())
    bad_reveal.write_text(json.dumps(dict(rv, benchmarks=["units", "kodates"])))  # same picks, other order
    cases = [
        (("zed",), (), "does not know team"),
        (("a",), (), "already submitted"),
        (("c",), (), "must reveal"),
        (("c",), ("--reveal", str(bad_reveal)), "does not match"),
        (("b",), ("--reveal", str(o["reveal"])), "committed to no picks"),
    ]
    for (team,), extra, msg in cases:
        assert _submit(o, team, *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
        assert tree(o["out"]) == before  # nothing in the folder changed
    assert _submit(o, "c", "--reveal", str(o["reveal"])) == 0
    assert main(["verify", str(o["out"])]) == 0


def test_after_the_deadline_a_submission_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    rf, _ = write_sealed_round(tmp_path / "in", deadline="2020-01-01T00:00:00Z")
    out = tmp_path / "out"
    assert main(["round", "open", str(rf), "--out", str(out), "--key", str(tmp_path / "k.pem")]) == 0
    before = tree(out)
    capsys.readouterr()
    assert main(["round", "submit", str(out), "--team", "a", "--model", str(rf.parent), "--key", str(tmp_path / "k.pem")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "deadline" in err[0]
    assert tree(out) == before


def test_resubmission_only_when_sealed_as_allowed_and_the_ledger_keeps_both(tmp_path, monkeypatch):
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    rf, _ = write_sealed_round(tmp_path / "in", resubmission=True)
    out, key = tmp_path / "out", str(tmp_path / "k.pem")
    assert main(["round", "open", str(rf), "--out", str(out), "--key", key]) == 0
    for i in range(2):
        m = tmp_path / f"m{i}"
        m.mkdir()
        (m / "w").write_text(str(i))
        assert main(["round", "submit", str(out), "--team", "a", "--model", str(m), "--key", key]) == 0
    subs = [e for e in L.read_entries(out / L.LEDGER)[0] if e["kind"] == "submission"]
    assert [(s["team"], s["n"]) for s in subs] == [("a", 1), ("a", 2)]
    assert subs[0]["model"]["sha256"] != subs[1]["model"]["sha256"]
    assert main(["verify", str(out)]) == 0


@pytest.mark.parametrize("what", ["protocol", "policy", "reference", "benchmark", "rubric", "sealed-copy"])
def test_one_changed_byte_after_open_stops_run_and_fails_verify(opened, capsys, what):
    o = opened
    for t in "ab":
        assert _submit(o, t) == 0
    assert _submit(o, "c", "--reveal", str(o["reveal"])) == 0
    target = {"protocol": o["in"] / "protocol.toml", "policy": o["in"] / "policy.toml",
              "reference": o["ref"] / "weights.bin", "benchmark": o["in"] / "tasks" / "dates" / "test.jsonl",
              "rubric": o["in"] / "rubric.md", "sealed-copy": o["out"] / "sealed" / "protocol.toml"}[what]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    before = tree(o["out"])
    capsys.readouterr()
    assert main(["round", "run", str(o["out"]), "--key", str(o["key"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    named = "tasks/dates" if what == "benchmark" else str(target if what != "reference" else o["ref"])
    assert named in err[0] and "changed" in err[0], err
    assert tree(o["out"]) == before
    assert main(["verify", str(o["out"])]) == 4
    assert what.split("-")[0] in capsys.readouterr().err


def test_run_refuses_when_a_team_the_protocol_scores_never_submitted(opened, capsys):
    o = opened
    assert _submit(o, "a") == 0
    capsys.readouterr()
    assert main(["round", "run", str(o["out"]), "--key", str(o["key"])]) == 2
    assert "team 'b' has not submitted" in capsys.readouterr().err


def test_a_changed_submission_stops_run(opened, capsys):
    o = opened
    for t in "ab":
        assert _submit(o, t) == 0
    (o["models"]["b"] / "weights.bin").write_bytes(b"other weights")
    capsys.readouterr()
    assert main(["round", "run", str(o["out"]), "--key", str(o["key"])]) == 2
    err = capsys.readouterr().err
    assert "team 'b'" in err and "since submission" in err


def test_hostile_reveal_and_unsealable_round_files_are_one_line_errors(opened, tmp_path, capsys):
    o = opened
    for content in (b"\xff\xfe", b"[1, 2]", b'{"team": "c", "benchmarks": [], "nonce": "x"}',
                    b'{"team": "c", "benchmarks": ["../x"], "nonce": "x"}', b"{" * 70000):
        p = tmp_path / "r.json"
        p.write_bytes(content)
        capsys.readouterr()
        assert _submit(o, "c", "--reveal", str(p)) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    rf = o["round"]
    for old, new, msg in (('deadline = "2099-01-01T00:00:00+09:00"', 'deadline = "2099-01-01T00:00:00"', "time zone"),
                          ("[teams.a]", '[teams.a]\nmodel = "x"', "comes with `round submit`")):
        rf2 = tmp_path / "r2.toml"
        rf2.write_text(rf.read_text().replace(old, new))
        shutil.copytree(rf.parent, tmp_path / "in2", dirs_exist_ok=True)
        (tmp_path / "in2" / "round.toml").write_text(rf2.read_text())
        capsys.readouterr()
        assert main(["round", "open", str(tmp_path / "in2" / "round.toml"), "--out", str(tmp_path / "o2")]) == 2
        assert msg in capsys.readouterr().err
        assert not (tmp_path / "o2").exists()
    assert main(["round", "open", str(rf), "--out", str(o["out"])]) == 2  # the folder already holds a round
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    assert main(["round", "open", str(rf), "--out", str(tmp_path / "busy")]) == 2  # not an empty folder
    capsys.readouterr()
    assert main(["round", "run", str(rf), "--out", str(o["out"])]) == 2  # the one-call form into a sealed round
    assert "sealed round" in capsys.readouterr().err


def test_a_torn_submission_is_reported_by_verify_and_dropped_by_the_next_submit(opened, capsys):
    o = opened
    assert _submit(o, "a") == 0
    led = o["out"] / L.LEDGER
    raw = led.read_bytes()
    led.write_bytes(raw[:-40])  # power loss in the middle of a's signed head
    capsys.readouterr()
    assert main(["verify", str(o["out"])]) == 4
    assert "torn" in capsys.readouterr().err
    assert _submit(o, "b") == 0
    assert "dropped an interrupted append" in capsys.readouterr().err
    teams = [e["team"] for e in L.read_entries(led)[0] if e["kind"] == "submission"]
    assert teams == ["b"]  # a's submission never completed; every complete section is kept
    assert main(["verify", str(o["out"]), "--head", o["commitment"]]) == 0
    assert _submit(o, "a") == 0 and main(["verify", str(o["out"])]) == 0


def test_round_commit_writes_a_reveal_that_opens_its_commitment(tmp_path, capsys):
    from fromscratch.round.commit import check_reveal, read_reveal

    out = tmp_path / "alpha.json"
    assert main(["round", "commit", "--team", "alpha", "--benchmark", "kmmlu", "--benchmark", "docvqa",
                 "--out", str(out)]) == 0
    com = capsys.readouterr().out.strip().splitlines()[-1]
    rv = read_reveal(out)
    assert rv["benchmarks"] == ["kmmlu", "docvqa"] and len(rv["nonce"]) == 32
    check_reveal(rv, "alpha", com, out)  # does not raise
    assert main(["round", "commit", "--team", "alpha", "--benchmark", "kmmlu", "--out", str(out)]) == 2
    assert read_reveal(out) == rv  # never overwritten: a second nonce would be a second commitment


def test_verify_elsewhere_lists_what_it_cannot_redigest(opened, capsys):
    o = opened
    assert _submit(o, "a") == 0
    o["in"].rename(o["in"].with_name("moved"))  # the folder verified on a machine without the inputs
    o["ref"].rename(o["ref"].with_name("ref-moved"))
    capsys.readouterr()
    assert main(["verify", str(o["out"])]) == 0
    out = capsys.readouterr().out
    assert "not checked here" in out and "ref-model" in out and "tasks" in out
    assert out.strip().splitlines()[-1].startswith("head: ")
    sealed_copy = o["out"] / "sealed" / "rubric.md"
    sealed_copy.write_text(sealed_copy.read_text() + " ")
    assert main(["verify", str(o["out"])]) == 4  # what the folder holds is always checked


def test_hostile_inputs_through_the_real_command_line(opened, tmp_path):
    """As a user runs them: exit 2, one line on stderr, no traceback, for each broken input."""
    from sealed import cli

    o, cache = opened, tmp_path / "cache"
    (tmp_path / "bin.toml").write_bytes(b"\x00\xffnot toml")
    cases = [("round", "open", str(tmp_path / "bin.toml"), "--out", str(tmp_path / "x"))]
    led = o["out"] / L.LEDGER
    raw = led.read_bytes()
    cases.append(("round", "submit", str(o["out"]), "--team", "a", "--model", str(o["ref"]), "--reveal", "/dev/null"))
    bad = tmp_path / "forged"
    shutil.copytree(o["out"], bad)
    (bad / L.LEDGER).write_bytes(raw.replace(b'"resubmission":false', b'"resubmission":true'))
    cases.append(("round", "run", str(bad)))
    cases.append(("round", "submit", str(bad), "--team", "a", "--model", str(o["ref"])))
    for args in cases:
        r = cli(*args, cache=cache)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, (args, r.stderr)
    assert "does not verify" in cli("round", "run", str(bad), cache=cache).stderr


@pytest.mark.parametrize("forgery", ["late", "unknown-team", "bad-reveal", "second-submission", "after-results",
                                     "malformed"])
def test_verify_catches_lifecycle_violations_signed_with_the_round_key(opened, capsys, forgery):
    """Entries `submit` would refuse, appended and signed by someone holding the key: verify still fails."""
    from fromscratch.round.keys import load_or_create

    o = opened
    assert _submit(o, "a") == 0
    key = load_or_create(o["key"], o["out"])
    sub = [e for e in L.read_entries(o["out"] / L.LEDGER)[0] if e["kind"] == "submission"][0]
    body = {k: v for k, v in sub.items() if k not in ("seq", "prev", "hash")}
    if forgery == "late":
        body.update(team="b", time="2099-06-01T00:00:00.000000Z")
    elif forgery == "unknown-team":
        body.update(team="zed")
    elif forgery == "bad-reveal":
        body.update(team="c", reveal={"benchmarks": ["units"], "nonce": "5eed" * 8})
    elif forgery == "second-submission":
        body.update(n=2)
    elif forgery == "malformed":
        body = {"kind": "submission", "team": "b", "time": 7}
    else:
        L.append_section(o["out"], [{"kind": "run", "round": "t"}], key)
        body.update(team="b")
    L.append_section(o["out"], [body], key)
    capsys.readouterr()
    assert main(["verify", str(o["out"]), "--no-recompute"]) == 4
    err = capsys.readouterr().err
    want = {"late": "after the deadline", "unknown-team": "does not know", "bad-reveal": "does not match",
            "second-submission": "re-submission", "after-results": "after results",
            "malformed": "no valid time"}[forgery]
    assert want in err, err
