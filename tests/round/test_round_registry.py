"""`round run --registry LOC` / `[registry] fingerprints` and `--dask`: the same verdicts as the
equivalent `--against` references, the registry sealed by digest, the Dask path byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fromscratch.cli import main

from sealed import write_sealed_round

MODELS = {"a": "llama-s1", "b": "llama-s0-ft", "c": "llava-transplant"}  # independent, derived, copied encoder
REFS = {"open-llama": "llama-s0", "open-encoder": "bert-s0"}


@pytest.fixture(scope="module")
def fp_registry(zoo, tmp_path_factory) -> Path:
    """The round's two references plus two unrelated models, as a fingerprint registry."""
    from fromscratch.registry.api import add

    loc = tmp_path_factory.mktemp("fp-registry") / "registry"
    for name, model in {**REFS, "other-llama": "llama-s2", "other-tokb": "llama-tokb"}.items():
        add(zoo.path(model), name, registry=loc)
    return loc


def _round(root: Path, zoo, registry_lines: str) -> tuple[Path, Path]:
    rf, reveal = write_sealed_round(root, items=4, registry=zoo.path("llama-s0"))
    text = rf.read_text()
    old = f'references = ["upstream={zoo.path("llama-s0")}"]'
    assert old in text
    rf.write_text(text.replace(old, registry_lines))
    return rf, reveal


def _opened(root: Path, zoo, registry_lines: str, key: Path) -> Path:
    """A sealed round opened in ROOT/out with every team submitted."""
    rf, reveal = _round(root / "in", zoo, registry_lines)
    out = root / "out"
    assert main(["round", "open", str(rf), "--out", str(out), "--key", str(key)]) == 0
    for team, model in MODELS.items():
        argv = ["round", "submit", str(out), "--team", team, "--model", str(zoo.path(model)), "--key", str(key)]
        assert main(argv + (["--reveal", str(reveal)] if team == "c" else [])) == 0
    return out


def _sealed_run(root: Path, zoo, registry_lines: str, key: Path, *run_args: str) -> Path:
    out = _opened(root, zoo, registry_lines, key)
    assert main(["round", "run", str(out), "--key", str(key), *run_args]) == 0
    return out


def _entries(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "ledger.jsonl").read_text().splitlines()]


def test_registry_gives_the_verdicts_of_the_equivalent_references(zoo, fp_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    refs = ", ".join(f'"{n}={zoo.path(m)}"' for n, m in REFS.items())
    plain = _sealed_run(tmp_path / "plain", zoo, f"references = [{refs}]", tmp_path / "k.pem")
    reg = _sealed_run(tmp_path / "reg", zoo, f'fingerprints = "{fp_registry}"', tmp_path / "k.pem")
    want = json.loads((plain / "verdicts.json").read_text())
    assert want["b"] == "violation" and want["c"] == "violation"  # the material has something to find
    assert json.loads((reg / "verdicts.json").read_text()) == want
    for team in MODELS:
        a = json.loads((plain / "audits" / f"{team}.json").read_text())
        b = json.loads((reg / "audits" / f"{team}.json").read_text())
        found = {r["label"]: r["verdict"] for r in b["references"]}
        reuse = ("identical", "derived")  # what the pre-filter must not pass over
        assert {r["label"]: r["verdict"] for r in a["references"] if r["verdict"] in reuse} == \
               {k: v for k, v in found.items() if v in reuse}, team
        assert b["fingerprint_registry"]["models"] == 4 and set(b["fingerprint_registry"]["added"]) == set(found)
    assert "open-llama" in json.loads((reg / "audits" / "b.json").read_text())["fingerprint_registry"]["added"]
    # sealed at open by digest, and the run's input names the same digest
    entries = _entries(reg)
    sealed = [it for it in entries[0]["sealed"] if it["role"] == "fingerprint-registry"]
    used = [e for e in entries if e["kind"] == "input" and e.get("role") == "fingerprint-registry"]
    assert len(sealed) == 1 and sealed[0]["models"] == 4
    assert [u["sha256"] for u in used] == [sealed[0]["sha256"]] and used[0]["sealed_at_open"] is True
    assert main(["verify", str(reg)]) == 0


def test_a_changed_or_other_registry_is_refused(zoo, fp_registry, tmp_path, monkeypatch, capsys):
    import shutil

    from fromscratch.registry.api import add

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    mine = tmp_path / "registry"
    shutil.copytree(fp_registry, mine)
    key = tmp_path / "k.pem"
    out = _opened(tmp_path, zoo, f'fingerprints = "{mine}"', key)
    before = (out / "ledger.jsonl").read_bytes()
    assert main(["round", "run", str(out), "--key", str(key), "--registry", str(fp_registry / "nope")]) == 2
    assert main(["round", "run", str(out), "--key", str(key), "--registry", str(tmp_path / "in")]) == 2
    assert "not a fingerprint registry" in capsys.readouterr().err
    add(zoo.path("llama-s3"), "late-entry", registry=mine)  # a model registered after the round was opened
    assert main(["round", "run", str(out), "--key", str(key)]) == 2
    assert "fingerprint registry changed since the round was opened" in capsys.readouterr().err
    assert main(["verify", str(out)]) == 4
    assert "fingerprint registry changed since the round was opened" in capsys.readouterr().err
    (mine / "index.sqlite").rename(mine / "index.moved")
    assert main(["round", "run", str(out), "--key", str(key)]) == 2
    assert "its index is gone" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(fp_registry, other)
    assert main(["round", "run", str(out), "--key", str(key), "--registry", str(other)]) == 2
    assert (out / "ledger.jsonl").read_bytes() == before


def test_run_time_registry_is_recorded_and_dask_needs_one(zoo, fp_registry, tmp_path, monkeypatch, capsys):
    """A registry named only at `round run` is recorded in the run's section (not sealed)."""
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    key = tmp_path / "k.pem"
    out = _sealed_run(tmp_path, zoo, "", key, "--registry", str(fp_registry))
    used = [e for e in _entries(out) if e["kind"] == "input" and e.get("role") == "fingerprint-registry"]
    assert len(used) == 1 and used[0]["sealed_at_open"] is False and used[0]["models"] == 4
    assert json.loads((out / "verdicts.json").read_text())["b"] == "violation"
    assert main(["verify", str(out)]) == 0
    from fromscratch.errors import InputError
    from fromscratch.round.lifecycle import run_sealed

    before = (out / "ledger.jsonl").read_bytes()
    with pytest.raises(InputError, match="no registry"):
        run_sealed(out, key_path=key, client=object())  # --dask without a registry: refused, nothing written
    assert (out / "ledger.jsonl").read_bytes() == before


@pytest.mark.slow
def test_dask_round_is_byte_identical(zoo, fp_registry, tmp_path, monkeypatch):
    """`round run --registry LOC --dask ADDRESS` on a two-worker LocalCluster: the same audit bytes."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    try:
        outs = []
        for tag, extra in (("local", []), ("dask", ["--dask", cluster.scheduler_address])):
            monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / f"cache-{tag}"))  # cold stage caches
            outs.append(_sealed_run(tmp_path / tag, zoo, f'fingerprints = "{fp_registry}"', tmp_path / "k.pem", *extra))
    finally:
        cluster.close()
    for name in ["verdicts.json", "decision.json"] + [f"audits/{t}.json" for t in MODELS]:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_one_call_round_takes_a_registry_from_the_round_file(zoo, fp_registry, tmp_path, monkeypatch):
    """The unsealed form: `[registry] fingerprints` (refused when missing), recorded as a run input."""
    from test_round_run import _write_round

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    rf = _write_round(tmp_path / "in", zoo.path("llama-s0-ft"), items=4)
    rf.write_text(rf.read_text().replace('human = "human.csv"\n', 'human = "human.csv"\npolicy = "korea-2026"\n'
                                         f'\n[registry]\nfingerprints = "{tmp_path / "missing"}"\n'))
    assert main(["round", "run", str(rf), "--out", str(tmp_path / "x"), "--key", str(tmp_path / "k.pem")]) == 2
    rf.write_text(rf.read_text().replace(str(tmp_path / "missing"), str(fp_registry)))
    out = tmp_path / "out"
    assert main(["round", "run", str(rf), "--out", str(out), "--key", str(tmp_path / "k.pem")]) == 0
    assert json.loads((out / "verdicts.json").read_text()) == {"a": "violation", "b": "violation", "c": "violation"}
    assert json.loads((out / "audits" / "a.json").read_text())["fingerprint_registry"]["added"][0] == "open-llama"
    used = [e for e in _entries(out) if e["kind"] == "input" and e.get("role") == "fingerprint-registry"]
    assert len(used) == 1 and used[0]["sealed_at_open"] is False and used[0]["path"] == str(fp_registry.resolve())
