"""Model locations in the round file may be hub ids, resolved from the local HF cache only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from fromscratch.cli import main
from fromscratch.digests import tree_sha256
from fromscratch.errors import InputError
from fromscratch.round.config import load_round
from fromscratch.round.digest import path_digest

COMMIT = "c0ffee" + "0" * 34


def _hub_cache(hub: Path, repo: str, src: Path, commit: str = COMMIT) -> Path:
    """A huggingface_hub-shaped cache entry: blobs by hash, snapshot links, refs/main."""
    base = hub / ("models--" + repo.replace("/", "--"))
    snap, blobs = base / "snapshots" / commit, base / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir(exist_ok=True)
    for f in sorted(src.iterdir()):
        if f.is_file():
            blob = blobs / hashlib.sha256(f.read_bytes()).hexdigest()
            blob.write_bytes(f.read_bytes())
            (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    (base / "refs").mkdir(exist_ok=True)
    (base / "refs" / "main").write_text(commit)
    return snap


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache that is the only one looked at (no user cache leaks in)."""
    hub = tmp_path / "hub"
    hub.mkdir()
    for var in ("HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    return hub


def _files(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "llama", "hidden_size": 8}')
    (root / "model.safetensors").write_bytes(b"not really weights, digested by content" * 3)
    (root / "tokenizer.json").write_text('{"model": {"type": "BPE"}}')
    return root


def test_hub_ids_resolve_to_the_snapshot_and_its_content_digest(tmp_path, offline_hub):
    plain = _files(tmp_path / "plain")
    snap = _hub_cache(offline_hub, "org/tiny", plain)
    other = _hub_cache(offline_hub, "org/ref", _files(tmp_path / "plain-ref"), commit="ab" * 20)
    local = _files(tmp_path / "in" / "acme" / "local")  # an existing relative path shaped like a hub id
    (tmp_path / "in" / "round.toml").write_text("""[round]
name = "t"
protocol = "protocol.toml"
[registry]
references = ["up=org/ref", "org/tiny@main", "acme/local"]
[teams.a]
model = "org/tiny"
tokenizer = "org/tiny@c0ffee0000000000000000000000000000000000"
""")
    spec = load_round(tmp_path / "in" / "round.toml")
    loc = spec.location(spec.teams["a"].model, "team a: model")
    assert loc.path == snap and loc.hub_id == "org/tiny"
    assert spec.location(spec.teams["a"].tokenizer, "team a: tokenizer").path == snap  # revision = commit
    # what is digested is the snapshot's content: equal to the same files in a plain folder
    assert path_digest(loc.path, tmp_path / "memo") == tree_sha256(plain)
    refs = [spec.labelled_location(r, "reference") for r in spec.registry.references]
    assert [(n, loc.path, loc.hub_id) for n, loc in refs] == [
        ("up", other, "org/ref"), ("tiny@main", snap, "org/tiny@main"), ("local", local, None)]
    # an existing path beside the round file wins over a cached hub id of the same shape
    _hub_cache(offline_hub, "acme/local", plain)
    assert spec.location("acme/local", "x") == (local, None)
    # not hub-shaped, or a hub role turned off: the plain "not found"
    with pytest.raises(InputError, match="team a: code not found"):
        spec.location("org/tiny", "team a: code", hub=False)
    with pytest.raises(InputError, match="neither a path .* nor a hub id in the local Hugging Face cache"):
        spec.location("org/absent", "team a: model")
    with pytest.raises(InputError, match="neither a path"):
        spec.location("org/tiny@no-such-ref", "team a: model")


@pytest.mark.torch
def test_round_run_digests_a_hub_snapshot_into_the_ledger(tiny_model, tmp_path, offline_hub):
    """A full round: team a and a reference named by hub id; the ledger holds the snapshot's digest."""
    from fromscratch.bench.packs import pack_path
    from fromscratch.round.run import run_round

    snap = _hub_cache(offline_hub, "org/tiny", tiny_model)
    root = tmp_path / "in"
    task = root / "tasks" / "dates"
    task.mkdir(parents=True)
    src = pack_path("en-dates").parent
    rows = (src / "test.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    (task / "test.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (task / "task.yaml").write_text((src / "task.yaml").read_text(encoding="utf-8").replace(
        "task: en-dates", "task: dates"), encoding="utf-8")
    (root / "protocol.toml").write_text('name = "t"\nseed = 1\neliminate = 1\nresamples = 200\n'
                                        'weight_samples = 200\n[pillars]\ncommon = 100\n[benchmarks]\ndates = "common"\n')
    copy = shutil.copytree(tiny_model, root / "b-model")
    (root / "round.toml").write_text("""[round]
name = "t"
protocol = "protocol.toml"
policy = "korea-2026"
[registry]
references = ["upstream=org/tiny"]
[benchmarks]
dates = "tasks/dates"
[teams.a]
model = "org/tiny"
tokenizer = "org/tiny"
[teams.b]
model = "b-model"
""")
    summary = run_round(root / "round.toml", tmp_path / "out", key_path=tmp_path / "k.pem")
    assert summary["stages"]["bench"]["status"] == "done"
    assert summary["stages"]["audit"]["status"] == "done"
    entries = [json.loads(line) for line in (tmp_path / "out" / "ledger.jsonl").read_text().splitlines()]
    inputs = {(e["role"], e.get("team") or e.get("name")): e for e in entries if e.get("kind") == "input"}
    digest = tree_sha256(tiny_model)
    for key in (("model", "a"), ("tokenizer", "a"), ("reference", "upstream")):
        assert inputs[key]["path"] == str(snap) and inputs[key]["hub_id"] == "org/tiny"
        assert inputs[key]["sha256"] == digest
    assert inputs[("model", "b")]["path"] == str(copy) and "hub_id" not in inputs[("model", "b")]
    assert inputs[("model", "b")]["sha256"] == digest  # same files, same digest, wherever they live
    bench = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert {r["backend"]["model_sha256"] for r in bench["runs"]} == {digest}
    assert main(["verify", str(tmp_path / "out"), "--no-recompute"]) == 0


def test_unknown_hub_id_exits_2_with_one_line(tmp_path, offline_hub, capsys):
    (tmp_path / "protocol.toml").write_text('name = "t"\nseed = 1\neliminate = 1\n[pillars]\ncommon = 100\n'
                                            '[benchmarks]\ndates = "common"\n')
    (tmp_path / "round.toml").write_text('[round]\nname = "t"\nprotocol = "protocol.toml"\n'
                                         '[benchmarks]\ndates = "en-dates"\n'
                                         '[teams.alpha]\nmodel = "org/never-cached"\n')
    capsys.readouterr()
    assert main(["round", "run", str(tmp_path / "round.toml"), "--out", str(tmp_path / "out"),
                 "--key", str(tmp_path / "k.pem")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "org/never-cached" in err and "team alpha: model" in err
    assert "neither a path" in err and "hub id" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything is written
    # a registry reference is named the same way
    (tmp_path / "m").mkdir()
    (tmp_path / "round.toml").write_text('[round]\nname = "t"\nprotocol = "protocol.toml"\n'
                                         '[registry]\nreferences = ["up=org/gone"]\n'
                                         '[benchmarks]\ndates = "en-dates"\n[teams.alpha]\nmodel = "m"\n')
    assert main(["round", "run", str(tmp_path / "round.toml"), "--out", str(tmp_path / "out2"),
                 "--key", str(tmp_path / "k2.pem")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reference up" in err and "org/gone" in err


def test_a_sealed_round_submission_by_hub_id_records_the_snapshot(tmp_path, offline_hub, monkeypatch):
    from sealed import write_sealed_round

    from fromscratch.round import ledger as L

    snap = _hub_cache(offline_hub, "team-a/model", _files(tmp_path / "src"))
    rf, _ = write_sealed_round(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["round", "open", str(rf), "--out", str(out), "--key", str(tmp_path / "k.pem")]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["round", "submit", str(out), "--team", "a", "--model", "team-a/model",
                 "--key", str(tmp_path / "k.pem")]) == 0
    sub = [e for e in L.read_entries(out / L.LEDGER)[0] if e["kind"] == "submission"][0]
    assert sub["model"]["hub_id"] == "team-a/model" and sub["model"]["path"] == str(snap)
    assert sub["model"]["sha256"] == tree_sha256(snap)
    assert main(["round", "submit", str(out), "--team", "b", "--model", "team-a/absent",
                 "--key", str(tmp_path / "k.pem")]) == 2
