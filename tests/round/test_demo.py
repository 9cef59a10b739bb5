"""The demo's round: valid inputs always; a full run when the zoo is already built."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fromscratch.decide.protocol import load as load_protocol
from fromscratch.round.config import load_round
from fromscratch.round.commit import commitment, read_reveal
from fromscratch.round.demo import CHAIN_REFERENCES, CHAINS, MATERIAL, REFERENCES, TEAMS, submissions, write_inputs


class _FakeZoo:
    """Stands in for the zoo's *paths* only: the inputs writer needs locations, not models."""

    def __init__(self, root):
        self.root = root

    def path(self, name):
        p = self.root / name
        p.mkdir(parents=True, exist_ok=True)
        return p


def _fake_chains(root: Path) -> dict:
    """`demo_chains()`'s shape with empty folders (the inputs writer needs locations only)."""
    def folder(name: str) -> str:
        (root / name).mkdir(parents=True, exist_ok=True)
        return str(root / name)

    subs = {k: {"chain": [folder(f"{k}/step-{i}") for i in range(3)], "model": folder(f"{k}/step-2"),
                "init_options": [], "description": k} for k in ("genuine", "forged")}
    return {**subs, "references": {"ref-a": folder("ref-a"), "ref-b": folder("ref-b")}}


def test_demo_inputs_are_a_valid_round(tmp_path):
    chains = _fake_chains(tmp_path / "chains")
    rf = write_inputs(_FakeZoo(tmp_path / "zoo"), tmp_path / "in", chains=chains)
    spec = load_round(rf)
    proto = load_protocol(rf.parent / "protocol.toml")
    assert sorted(spec.teams) == sorted(TEAMS) and len(spec.teams) == 7
    assert proto.choices is not None and proto.originality.gate == "disqualify"
    assert proto.choices.picks == {}  # sealed without the picks: each team committed to its own
    subs = submissions(_FakeZoo(tmp_path / "zoo"), rf.parent, chains)
    for team, t in spec.teams.items():
        assert t.model is None and Path(subs[team]["code"]).is_dir() and Path(subs[team]["bom"]).is_file()
        want = chains[CHAINS[team]] if team in CHAINS else None
        assert subs[team]["chain"] == ([] if want is None else want["chain"])
        assert want is None or subs[team]["model"] == want["model"]
        rv = read_reveal(subs[team]["reveal"])
        assert rv["benchmarks"] == TEAMS[team][1]
        assert t.commitment == commitment(team, rv["benchmarks"], rv["nonce"])
    assert {spec.labelled(r)[0] for r in spec.registry.references} == set(REFERENCES) | set(CHAIN_REFERENCES)
    assert (MATERIAL / "refcode" / "openinfer" / "attention.py").is_file()
    # the demo's copied code really is a copy of the reference (same structure), minus the licence header
    ref = (MATERIAL / "refcode" / "openinfer" / "attention.py").read_text()
    cand = (MATERIAL / "teams" / "net" / "code" / "netllm" / "attn.py").read_text()
    assert "Copyright" in ref and "Copyright" not in cand
    assert ref.count("np.") == cand.count("np.")
    human = (rf.parent / "human.csv").read_text().splitlines()
    assert len(human) == 1 + 2 * len(TEAMS) * 3 * 2


@pytest.mark.slow
def test_full_demo_when_the_zoo_is_built(tmp_path, request):
    """Minutes long: runs only when asked for (pytest -m slow tests/round)."""
    expr = request.config.getoption("markexpr") or ""
    if "slow" not in expr or "not slow" in expr:
        pytest.skip("the full demo runs only with -m slow")
    pytest.importorskip("torch")
    from fromscratch.cli import main
    from fromscratch.zoo import find_zoo

    if find_zoo() is None:
        pytest.skip("fixture zoo not built yet (fromscratch zoo)")
    t0 = time.time()
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "index.html").is_file()
    assert main(["verify", str(tmp_path / "demo")]) == 0
    assert time.time() - t0 < 600
    from fromscratch.round import ledger as L

    kinds = [e["kind"] for e in L.read_entries(tmp_path / "demo" / L.LEDGER)[0]]
    assert kinds[0] == "open" and kinds.count("submission") == len(TEAMS)
