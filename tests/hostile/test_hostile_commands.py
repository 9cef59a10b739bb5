"""Hostile model files through `compare`, `audit` and `round run`, as separate processes.

Each run must end with exit 2 and exactly one stderr line naming the hostile file, no
traceback, and no code from the file executed (a pickle payload would create a marker file).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.artifacts.writers import tiny_llama, write_safetensors, write_zip


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile(root: Path, marker: Path) -> dict[str, Path]:
    good = tiny_llama(seed=0, layers=1)[0]
    st = write_safetensors(root / "st" / "model.safetensors", good)
    data = st.read_bytes()
    (root / "truncated").mkdir()
    (root / "truncated" / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (root / "keylength.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40))
    (root / "pickle").mkdir()
    write_zip(root / "pickle" / "payload.pt", {"archive/data.pkl": pickle.dumps(_Payload(marker), protocol=2)})
    write_zip(root / "slip.pt", {"archive/data.pkl": pickle.dumps({}, protocol=2), "../../outside.txt": b"x"})
    return {"truncated": root / "truncated" / "truncated.safetensors", "gguf": root / "keylength.gguf",
            "pickle": root / "pickle" / "payload.pt", "zip-slip": root / "slip.pt"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    marker = root / "EXECUTED"
    good = write_safetensors(root / "good" / "model.safetensors", *tiny_llama(seed=1, layers=1))
    return root, marker, good.parent, _hostile(root, marker)


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FROMSCRATCH_CACHE=str(cache), FROMSCRATCH_LINEAGE_CACHE=str(cache / "fp"))
    env.pop("FROMSCRATCH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "fromscratch", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def _refused(proc: subprocess.CompletedProcess, bad: Path | tuple[Path, ...], marker: Path) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert any(b.name in lines[0] for b in (bad if isinstance(bad, tuple) else (bad,))), lines[0]
    assert not marker.exists(), "code from the file was executed"


@pytest.mark.parametrize("kind", ["truncated", "gguf", "pickle", "zip-slip"])
def test_compare_refuses_hostile_files_on_either_side(files, kind, tmp_path):
    root, marker, good, bad = files
    _refused(_cli("compare", str(bad[kind]), str(good), cache=tmp_path), bad[kind], marker)
    _refused(_cli("compare", str(good), str(bad[kind]), "--json", str(tmp_path / "c.json"), cache=tmp_path),
             bad[kind], marker)
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("kind", ["truncated", "pickle"])
def test_audit_refuses_hostile_candidates_and_references(files, kind, tmp_path):
    root, marker, good, bad = files
    _refused(_cli("audit", str(bad[kind]), "--against", str(good), "--policy", "korea-2026", cache=tmp_path),
             bad[kind], marker)
    _refused(_cli("audit", str(good), "--against", f"ref={bad[kind]}", cache=tmp_path), bad[kind], marker)


def test_round_run_refuses_hostile_submissions(files, tmp_path):
    """Both teams submit hostile files (a runnable model would need torch and a tokenizer)."""
    root, marker, good, bad = files
    from fromscratch.bench.packs import pack_path

    task = tmp_path / "tasks" / "dates"
    task.mkdir(parents=True)
    src = pack_path("en-dates").parent
    (task / "test.jsonl").write_text("\n".join((src / "test.jsonl").read_text().splitlines()[:4]) + "\n")
    (task / "task.yaml").write_text((src / "task.yaml").read_text().replace("task: en-dates", "task: dates"))
    (tmp_path / "protocol.toml").write_text('name = "t"\nseed = 1\neliminate = 1\nresamples = 200\n'
                                            '[pillars]\ncommon = 1\n[benchmarks]\ndates = "common"\n')
    (tmp_path / "round.toml").write_text(f'[round]\nname = "t"\nprotocol = "protocol.toml"\n'
                                         f'[benchmarks]\ndates = "tasks/dates"\n'
                                         f'[teams.a]\nmodel = "{bad["truncated"]}"\n[teams.b]\nmodel = "{bad["pickle"]}"\n')
    out = tmp_path / "out"
    proc = _cli("round", "run", str(tmp_path / "round.toml"), "--out", str(out), "--key", str(tmp_path / "k.pem"),
                cache=tmp_path / "cache")
    # the round's benchmark stage may meet a submission before the audit does; it must refuse
    # it the same way, naming the submitted file or its folder
    _refused(proc, (bad["pickle"], bad["truncated"], bad["pickle"].parent, bad["truncated"].parent), marker)
