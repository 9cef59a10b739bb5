"""A team's checkpoint chain in a sealed round: submitted by digest, checked by the audit stage with
the team's declared init scheme (`round submit --chain-init`), and refused when a checkpoint changes."""

from __future__ import annotations

import json

import pytest

from fromscratch.cli import main

from sealed import write_sealed_round


@pytest.fixture(scope="module")
def chains():
    pytest.importorskip("torch")
    from fromscratch.zoo.chains import build_chains

    return build_chains()


def test_declared_scheme_decides_the_init_test_and_a_changed_checkpoint_is_refused(chains, tmp_path, monkeypatch,
                                                                                  capsys):
    import shutil

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    scaled = chains["chains"]["g05"]  # a scaled-residual init: its config.json's initializer_range is not enough
    assert scaled["init_options"] == ["residual=scaled"]
    rf, reveal = write_sealed_round(tmp_path / "in", items=4, registry=chains["references"]["ref-a"])
    out, key = tmp_path / "out", str(tmp_path / "k.pem")
    assert main(["round", "open", str(rf), "--out", str(out), "--key", key]) == 0
    copy = [tmp_path / "copy" / f"{i}" for i in range(len(scaled["checkpoints"]))]
    for src, dst in zip(scaled["checkpoints"], copy):
        shutil.copytree(src, dst)
    argv = ["round", "submit", str(out), "--model", scaled["model"], "--key", key]
    chain = [x for c in scaled["checkpoints"] for x in ("--chain", c)]
    assert main(argv + ["--team", "a"] + chain + ["--chain-init", "family=gaussian"]) == 2  # refused at submit
    assert main(argv + ["--team", "a"] + chain + ["--chain-init", "residual=scaled"]) == 0
    assert main(argv + ["--team", "b"] + chain) == 0
    assert main(argv + ["--team", "c", "--reveal", str(reveal)] + [x for c in copy for x in ("--chain", str(c))]) == 0
    assert main(["round", "run", str(out), "--key", key]) == 0
    a, b = (json.loads((out / "audits" / f"{t}.json").read_text())["chain"] for t in ("a", "b"))
    assert a["verdict"] == "valid" and a["init"]["scheme"]["residual"] == "scaled"
    assert b["verdict"] == "invalid" and (b["first_failure"]["step"], b["first_failure"]["check"]) == (0, "init")
    sub = [json.loads(x) for x in (out / "ledger.jsonl").read_text().splitlines() if '"submission"' in x]
    assert [len(e["chain"]) for e in sub] == [len(copy)] * 3 and sub[0]["chain_init"] == ["residual=scaled"]
    assert main(["verify", str(out)]) == 0
    before = (out / "ledger.jsonl").read_bytes()
    (copy[2] / "config.json").write_text((copy[2] / "config.json").read_text() + " ")
    capsys.readouterr()
    assert main(["round", "run", str(out), "--key", key]) == 2
    assert "chain[2] changed or vanished since submission" in capsys.readouterr().err
    assert (out / "ledger.jsonl").read_bytes() == before
