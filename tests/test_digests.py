"""Folder digests (fromscratch.digests.tree_sha256) on hub-cache layouts and hostile trees.

Shared by the round's input digests (round.digest.path_digest, memoised) and the
bench backend's model identity (bench.backends.local.model_digest).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fromscratch.bench.backends.local import model_digest
from fromscratch.digests import tree_files, tree_sha256
from fromscratch.errors import InputError
from fromscratch.round.digest import path_digest


def _snapshot(hub: Path, repo: str, rev: str, files: dict[str, bytes]) -> Path:
    """A Hugging Face hub cache snapshot: every file a relative link into blobs/."""
    base = hub / ("models--" + repo.replace("/", "--"))
    snap = base / "snapshots" / rev
    for name, data in files.items():
        blob = base / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snap / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (base / "refs").mkdir(exist_ok=True)
    (base / "refs" / "main").write_text(rev)
    return snap


def _plain(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


MODEL_A = {"config.json": b'{"hidden_size": 8}', "model.safetensors": b"A" * 100, "sub/tokenizer.json": b"{}"}
MODEL_B = {"config.json": b'{"hidden_size": 8}', "model.safetensors": b"B" * 100, "sub/tokenizer.json": b"{}"}


def _all_digests(path: Path, memo: Path) -> set[str]:
    """The three entry points agree; return their (single) value."""
    values = {tree_sha256(path), path_digest(path), path_digest(path, memo), model_digest(path)}
    assert len(values) == 1
    return values


def test_hub_snapshots_with_different_blobs_differ(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    a = _snapshot(hub, "org/alpha", "1" * 40, MODEL_A)
    b = _snapshot(hub, "org/beta", "2" * 40, MODEL_B)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert all(p.is_symlink() for p in a.rglob("*") if not p.is_dir())
    da, db = _all_digests(a, tmp_path / "memo"), _all_digests(b, tmp_path / "memo")
    assert da != db
    assert tree_sha256(empty) not in da | db  # the old bug: every snapshot hashed as an empty list
    assert [name for name, _, _ in tree_files(a)] == ["config.json", "model.safetensors", "sub/tokenizer.json"]


def test_same_content_same_digest_links_or_copies(tmp_path: Path) -> None:
    hub1, hub2 = tmp_path / "hub1", tmp_path / "hub2"
    s1 = _snapshot(hub1, "org/alpha", "1" * 40, MODEL_A)
    s2 = _snapshot(hub2, "other/name", "3" * 40, MODEL_A)
    copy = _plain(tmp_path / "copy", MODEL_A)
    assert _all_digests(s1, tmp_path / "memo") == _all_digests(s2, tmp_path / "memo") \
        == _all_digests(copy, tmp_path / "memo")


def test_plain_folder_digest_is_unchanged(tmp_path: Path) -> None:
    """No links: the digest is the one rounds recorded before links were followed
    (name order part by part: 'a/b' before 'a.txt'; __pycache__ left out)."""
    root = _plain(tmp_path / "m", {"a.txt": b"1", "a/b": b"2", "z": b"", "__pycache__/x.pyc": b"junk",
                                   "a/__pycache__/y.pyc": b"junk"})
    h = hashlib.sha256()
    for name, data in (("a/b", b"2"), ("a.txt", b"1"), ("z", b"")):
        h.update(name.encode() + b"\0" + data + b"\n")
    assert _all_digests(root, tmp_path / "memo") == {h.hexdigest()}
    single = hashlib.sha256(b"a.txt\0" + b"1" + b"\n").hexdigest()
    assert tree_sha256(root / "a.txt") == path_digest(root / "a.txt") == single


@pytest.mark.timeout(60)
def test_directory_link_loops_do_not_hang(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "hub", "org/alpha", "1" * 40, MODEL_A)
    before = tree_sha256(snap)
    (snap / "sub" / "up").symlink_to("..")          # a folder link back to an ancestor
    (snap / "self").symlink_to("self")              # a link to itself (ELOOP)
    (snap / "ping").symlink_to("pong")
    (snap / "pong").symlink_to("ping")              # two links to each other
    (snap / "gone").symlink_to("no-such-blob")      # dangling
    assert _all_digests(snap, tmp_path / "memo") == {before}


@pytest.mark.timeout(60)
def test_fifos_and_devices_are_never_read(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "hub", "org/alpha", "1" * 40, MODEL_A)
    before = tree_sha256(snap)
    fifo = snap.parent.parent / "blobs" / "fifo"
    os.mkfifo(fifo)                                  # opening it for reading would block forever
    (snap / "pipe.bin").symlink_to(os.path.relpath(fifo, snap))
    os.mkfifo(snap / "sub" / "direct-fifo")
    (snap / "null.bin").symlink_to("/dev/null")      # a device: read, it would add an empty entry
    assert [n for n, _, _ in tree_files(snap)] == ["config.json", "model.safetensors", "sub/tokenizer.json"]
    assert _all_digests(snap, tmp_path / "memo") == {before}
    with pytest.raises(InputError, match="not a regular file or folder"):
        tree_sha256(snap / "pipe.bin")


def test_repointed_link_is_not_served_from_the_memo(tmp_path: Path) -> None:
    """A snapshot link moved to another blob of the same size and mtime re-hashes."""
    snap = _snapshot(tmp_path / "hub", "org/alpha", "1" * 40, MODEL_A)
    blobs = snap.parent.parent / "blobs"
    other = blobs / "other"
    other.write_bytes(b"C" * 100)
    target = (snap / "model.safetensors").resolve()
    st = target.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    memo = tmp_path / "memo"
    first = path_digest(snap, memo)
    (snap / "model.safetensors").unlink()
    (snap / "model.safetensors").symlink_to(os.path.relpath(other, snap))
    second = path_digest(snap, memo)
    assert second != first
    assert second == tree_sha256(snap)


def test_missing_input_is_an_input_error(tmp_path: Path) -> None:
    for fn in (tree_sha256, path_digest, model_digest):
        with pytest.raises(InputError, match="not found"):
            fn(tmp_path / "nope")
    (tmp_path / "dangling").symlink_to("nowhere")
    with pytest.raises(InputError):
        tree_sha256(tmp_path / "dangling")
