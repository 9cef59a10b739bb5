"""A sealed round evaluated on the trained tiny model: crash safety, idempotence, --head.

One sealed folder (open + three submissions) is copied for each scenario, so every
copy has the same ledger bytes (the open and submission entries carry times) and an
uninterrupted run of one copy is the reference the others must equal byte for byte.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sealed import cli, tree, write_sealed_round

from fromscratch.cli import main
from fromscratch.round import ledger as L

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def submitted(tiny_model, tmp_path_factory):
    """(sealed folder after submissions, key, scratch root); teams submit the registry's own model."""
    root = tmp_path_factory.mktemp("sealed")
    rf, reveal = write_sealed_round(root / "in", items=4, registry=tiny_model)
    out, key, cache = root / "sealed", root / "k.pem", root / "cache-open"
    assert cli("round", "open", str(rf), "--out", str(out), "--key", str(key), cache=cache).returncode == 0
    for t in "abc":
        extra = ["--reveal", str(reveal)] if t == "c" else []
        r = cli("round", "submit", str(out), "--team", t, "--model", str(tiny_model), "--key", str(key), *extra,
                cache=cache)
        assert r.returncode == 0, r.stderr
    return out, key, root


@pytest.fixture(scope="module")
def clean(submitted):
    out, key, root = submitted
    ref = root / "clean"
    shutil.copytree(out, ref)
    r = cli("round", "run", str(ref), "--key", str(key), "--json", str(root / "clean.json"), cache=root / "cache-clean")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == f"head: {L.read_entries(ref / L.LEDGER)[0][-1]['hash']}"
    return ref, root / "cache-clean"


def test_lifecycle_run_verifies_and_reruns_change_nothing(submitted, clean, capsys):
    _, key, root = submitted
    ref, cache = clean
    summary = json.loads((root / "clean.json").read_text())
    assert summary["stages"]["audit"]["status"] == "done" and summary["stages"]["bench"]["asked"] == 3 * 4 * 4
    kinds = [e["kind"] for e in L.read_entries(ref / L.LEDGER)[0]]
    assert kinds[0] == "open" and kinds.index("run") > max(i for i, k in enumerate(kinds) if k == "submission")
    proto = (ref / "protocol.toml").read_text()
    assert '"c" = ["kodates", "units"]' in proto  # the revealed picks, added to the sealed protocol
    decision = json.loads((ref / "decision.json").read_text())
    assert decision["selection"]["picks"]["c"] == ["kodates", "units"]
    html = (ref / "index.html").read_text(encoding="utf-8")
    assert "submission" in html and L.read_entries(ref / L.LEDGER)[0][4]["hash"] in html  # timeline, commitment
    assert main(["verify", str(ref)]) == 0
    before = tree(ref)
    again = cli("round", "run", str(ref), "--key", str(key), cache=cache)
    assert again.returncode == 0 and tree(ref) == before  # idempotent: not one byte changes
    late = cli("round", "submit", str(ref), "--team", "a", "--model", str(ref), "--key", str(key), cache=cache)
    assert late.returncode == 2 and "closed" in late.stderr and tree(ref) == before


@pytest.mark.parametrize("stage", ["bench", "audit", "decision", "report", "ledger"])
def test_kill_at_every_stage_boundary_then_rerun_is_identical(submitted, clean, stage):
    out, key, root = submitted
    ref, _ = clean
    work, cache = root / f"kill-{stage}", root / f"cache-{stage}"
    shutil.copytree(out, work)
    killed = cli("round", "run", str(work), "--key", str(key), cache=cache, crash_after=stage)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no clean-up ran
    assert L.read_entries(work / L.LEDGER)[0][-1]["kind"] == "head"
    assert not any(e["kind"] == "run" for e in L.read_entries(work / L.LEDGER)[0])  # nothing half-committed
    r = cli("round", "run", str(work), "--key", str(key), "--json", str(root / f"{stage}.json"), cache=cache)
    assert r.returncode == 0, r.stderr
    st = json.loads((root / f"{stage}.json").read_text())["stages"]
    assert st["bench"]["asked"] == 0 and st["bench"]["reused"] == 3 * 4 * 4  # no finished item asked again
    assert st["audit"]["computed"] == 0  # no finished audit run again
    if stage != "bench" and stage != "audit":
        assert st["decision"]["status"] == "cached"
    assert tree(work) == tree(ref)
    assert main(["verify", str(work)]) == 0


def _torn_rerun(ref: Path, work: Path, key: Path, cache: Path, offsets) -> None:
    from fromscratch.round.lifecycle import run_sealed

    raw = (ref / L.LEDGER).read_bytes()
    start = raw.rstrip(b"\n").rfind(b"\n") + 1  # the last line (the run's signed head)
    want = tree(ref)
    for cut in offsets(start, len(raw)):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(ref, work)
        (work / L.LEDGER).write_bytes(raw[:cut])
        run_sealed(work, key_path=key)
        assert tree(work) == want, f"ledger cut at byte {cut - start} of its last line"


def test_torn_last_line_is_resumed(submitted, clean, monkeypatch):
    """A spread of offsets in the default run; every offset with -m slow."""
    _, key, root = submitted
    ref, cache = clean
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(cache))
    _torn_rerun(ref, root / "torn", key, cache,
                lambda a, b: sorted({a, a + 1, a + 2, (a + b) // 2, b - 3, b - 2, b - 1}))
    # every offset: the recovered ledger is the complete part, which verifies as a whole
    raw = (ref / L.LEDGER).read_bytes()
    start = raw.rstrip(b"\n").rfind(b"\n") + 1
    full = L.read_entries(ref / L.LEDGER)[0]
    before_run = next(i for i, e in enumerate(full) if e["kind"] == "run")
    for cut in range(start, len(raw)):
        fixed = L.recovered(raw[:cut])
        kept = fixed if fixed is not None else raw[:cut]
        entries, problems = L.parse_entries(kept)
        assert problems == [] and L.check_chain(entries) == [] and entries[-1]["kind"] == "head"
        # the unsigned run section goes as a whole (its head was torn); a head that lost only
        # its newline is whole and kept
        assert len(entries) == (len(full) if cut == len(raw) - 1 else before_run)


@pytest.mark.slow
def test_torn_last_line_at_every_offset_reruns_identically(submitted, clean, monkeypatch, request):
    """About 150 s (one in-process re-run per byte): runs only with -m slow."""
    expr = request.config.getoption("markexpr") or ""
    if "slow" not in expr or "not slow" in expr:
        pytest.skip("every offset runs only with -m slow")
    _, key, root = submitted
    ref, cache = clean
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(cache))
    _torn_rerun(ref, root / "torn-all", key, cache, lambda a, b: range(a, b))


def test_dropped_trailing_sections_are_caught_by_head(submitted, clean, capsys):
    out, _, root = submitted
    ref, _ = clean
    head = L.read_entries(ref / L.LEDGER)[0][-1]["hash"]
    rolled = root / "rolled-back"
    shutil.copytree(out, rolled)  # the folder as it was before the run: older outputs, shorter ledger
    assert main(["verify", str(rolled)]) == 0  # on its own it is a valid (earlier) state
    capsys.readouterr()
    assert main(["verify", str(rolled), "--head", head]) == 4
    assert "no longer contains" in capsys.readouterr().err
    assert main(["verify", str(ref), "--head", head]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"head: {head}"
