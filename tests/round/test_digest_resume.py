"""A model whose digest changed (links now followed, __pycache__ now left out)
never resumes, or mixes into, an item log written under the old digest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from fromscratch.bench import resolve_task
from fromscratch.bench.backends.local import LocalBackend
from fromscratch.bench.runner import LOG_SCHEMA, run_task
from fromscratch.errors import InputError


def _old_model_digest(root: Path) -> str:
    """bench's model digest before it moved to fromscratch.digests (kept __pycache__)."""
    h = hashlib.sha256()
    for p in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\n")
    return h.hexdigest()


def test_log_under_an_old_digest_is_refused_not_mixed(tiny_model: Path, tmp_path: Path) -> None:
    snap = tmp_path / "hub" / "models--org--tiny" / "snapshots" / ("1" * 40)
    blobs = tmp_path / "hub" / "models--org--tiny" / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir()
    for f in sorted(tiny_model.iterdir()):
        if f.is_file():
            blob = blobs / hashlib.sha256(f.read_bytes()).hexdigest()
            blob.write_bytes(f.read_bytes())
            (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    (snap / "__pycache__").mkdir()
    (snap / "__pycache__" / "modeling.cpython-311.pyc").write_bytes(b"interpreter output")

    backend = LocalBackend(snap)
    new = backend.describe()["model_sha256"]
    old = _old_model_digest(snap)
    assert old != new

    task = resolve_task("en-dates")
    task.items = task.items[:3]
    log = tmp_path / "items.jsonl"
    header = {"schema": LOG_SCHEMA, "task": task.name, "task_sha256": task.sha256(),
              "backend": {**backend.describe(), "model_sha256": old}}
    finished = {"item": task.items[0].item_id, "prompt_sha256": task.items[0].request.sha256(), "score": 1.0}
    log.write_text(json.dumps(header) + "\n" + json.dumps(finished) + "\n")
    before = log.read_bytes()
    with pytest.raises(InputError, match="another task, data or model"):
        run_task(task, backend, log, progress=False)
    assert log.read_bytes() == before
