"""The round's append-only, hash-chained, Ed25519-signed ledger.

``DIR/ledger.jsonl`` holds one entry per line, each line exactly the RFC 8785
canonical JSON of the entry (so a changed byte anywhere — even whitespace —
is detected). Every entry carries ``seq``, ``prev`` (the previous entry's hash)
and ``hash`` = SHA-256 of the canonical JSON of the entry without ``hash``.

Every write appends one *section* that ends with a ``head`` entry whose Ed25519
signature covers the chain up to it. A sealed round starts with an ``open``
section (what was sealed, by digest), then one ``submission`` section per
submission, then the run sections. A run section holds a ``run`` entry, the
sealed ``protocol``, every ``input`` (models, code, declarations, human scores —
by digest, with the path they were read from) and every ``output`` file under
DIR (path, size, SHA-256). The newest section that lists outputs is
authoritative for which files DIR must hold; older sections stay as history.
A re-run whose section would be identical to the last one appends nothing, so
re-running an unchanged round changes no byte.

A section is appended atomically: the whole new ledger is written to a
temporary file, fsync'ed and renamed over the old one. Should a ledger still
end in a torn line (a disk that lied about fsync, a copy cut short),
`recover` drops the incomplete tail — a torn last line and any unsigned
entries after the last head — and keeps every complete section, so the
interrupted command can simply be run again.

The public key is written to ``DIR/ledger.pub`` (PEM) and into each head; the
private key never goes into DIR (see `keys.py`). Anyone can check a folder
with ``fromscratch verify DIR`` and, to rule out a re-signed forgery, compare
the key fingerprint it prints with the one the agency published.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fromscratch.artifacts.hfdir import parse_json
from fromscratch.digests import file_sha256 as file_sha256  # re-exported: run.py hashes inputs through the ledger
from fromscratch.errors import InputError

LEDGER = "ledger.jsonl"
PUBKEY = "ledger.pub"
SCHEMA = "fromscratch.ledger/1"
GENESIS = "0" * 64
#: files in DIR that the ledger itself consists of (not listed as outputs)
LEDGER_FILES = (LEDGER, PUBKEY)


def canonical(obj: Any) -> bytes:
    return rfc8785.dumps(obj)


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_fingerprint(pub_b64: str) -> str:
    """SHA-256 of the raw public key, the short form to publish and compare."""
    try:
        raw = base64.b64decode(pub_b64, validate=True)
    except ValueError:  # binascii.Error: a tampered key is reported by the signature check
        return "SHA256:invalid-key"
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def list_outputs(out_dir: Path) -> list[dict[str, Any]]:
    """Every file under DIR except the ledger's own, sorted by path."""
    rows = []
    for p in sorted(out_dir.rglob("*")):
        rel = p.relative_to(out_dir).as_posix()
        if p.is_symlink():
            rows.append({"path": rel, "bytes": -1, "sha256": "symlink"})
            continue
        if not p.is_file() or rel in LEDGER_FILES:
            continue
        rows.append({"path": rel, "bytes": p.stat().st_size, "sha256": file_sha256(p)})
    return rows


def parse_entries(raw: bytes, name: str = LEDGER) -> tuple[list[dict[str, Any]], list[str]]:
    problems: list[str] = []
    entries: list[dict[str, Any]] = []
    if raw and not raw.endswith(b"\n"):
        problems.append(f"{name}: does not end with a newline (torn last line: an interrupted append; "
                        "re-running the interrupted command resumes)")
    for n, line in enumerate(raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"), 1):
        try:
            obj = parse_json(line, name)
        except InputError:
            problems.append(f"{name} line {n}: not JSON")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{name} line {n}: not an object")
            continue
        if canonical(obj) != line:
            problems.append(f"{name} line {n}: not in canonical form (changed bytes)")
        entries.append(obj)
    return entries, problems


def check_chain(entries: list[dict[str, Any]]) -> list[str]:
    """Hash chain, sequence numbers and every head's signature."""
    problems: list[str] = []
    prev = GENESIS
    for i, e in enumerate(entries):
        where = f"ledger entry {i}"
        if e.get("seq") != i:
            problems.append(f"{where}: sequence number {e.get('seq')!r}, expected {i}")
        if e.get("prev") != prev:
            problems.append(f"{where}: chain broken (prev does not match the entry before)")
        h = entry_hash(e)
        if e.get("hash") != h:
            problems.append(f"{where}: hash does not match its content")
        if e.get("kind") == "head":
            try:
                pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(e["public_key"], validate=True))
                pub.verify(base64.b64decode(e["signature"], validate=True), str(e["prev"]).encode())
            except (KeyError, ValueError, TypeError, InvalidSignature):
                problems.append(f"{where}: signature invalid")
        prev = e.get("hash", h)
    if entries and entries[-1].get("kind") != "head":
        problems.append("ledger: last entry is not a signed head (unsigned entries appended)")
    return problems


def sections(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The entries split after each head (a trailing unsigned remainder is its own part)."""
    out: list[list[dict[str, Any]]] = [[]]
    for e in entries:
        out[-1].append(e)
        if e.get("kind") == "head":
            out.append([])
    return [s for s in out if s]


def last_section(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parts = sections(entries)
    return parts[-1] if parts else []


def files_section(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest section that lists the folder's files (the one `verify` checks them against)."""
    for part in reversed(sections(entries)):
        if any(e.get("kind") == "output" for e in part):
            return part
    return []


def recovered(raw: bytes) -> bytes | None:
    """The ledger bytes without an interrupted append's remains; None when nothing is to drop.

    Drops a torn last line (one without its newline that is not a whole canonical
    entry) and any unsigned entries after the last head. Nothing is dropped when the
    complete part does not verify: that is tampering, not a crash.
    """
    lines = raw.split(b"\n")
    tail, complete = lines[-1], lines[:-1]
    if tail:  # no final newline: keep the line only if it is a whole canonical entry
        try:
            whole = canonical(parse_json(tail, None)) == tail
        except InputError:
            whole = False
        if whole:
            complete.append(tail)
    entries = []
    for line in complete:
        try:
            entries.append(parse_json(line, None))
        except InputError:
            return None
        if not isinstance(entries[-1], dict):
            return None
    last_head = max((i for i, e in enumerate(entries) if e.get("kind") == "head"), default=-1)
    if last_head >= 0 and check_chain(entries[:last_head + 1]):
        return None
    new = b"".join(line + b"\n" for line in complete[:last_head + 1])
    return None if new == raw else new


def recover(path: Path) -> str | None:
    """Apply `recovered` to the ledger file (atomically); a one-line note when it dropped anything."""
    if not path.is_file():
        return None
    raw = path.read_bytes()
    new = recovered(raw)
    if new is None:
        return None
    from fromscratch.round.outdir import write_atomic

    write_atomic(path, new)
    return f"{path.name}: dropped an interrupted append ({len(raw) - len(new)} bytes); every complete section kept"


def read_entries(path: Path, *, as_recovered: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Entries and the problems found reading them (not the chain checks).

    With ``as_recovered``, the entries as `recover` would leave them (the file is not changed).
    """
    if not path.is_file():
        return [], [f"{path.name}: missing"]
    raw = path.read_bytes()
    if as_recovered:
        raw = recovered(raw) or raw
    return parse_entries(raw, path.name)


def _payload(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if k not in {"seq", "prev", "hash", "signature", "run"}}


def append_section(out_dir: Path, body: list[dict[str, Any]], key: Ed25519PrivateKey,
                   before_commit: Callable[[], None] | None = None) -> bool:
    """Append a section (body = entries without chain fields) and a signed head, atomically.

    Returns False when the section equals the last one (nothing appended).
    ``before_commit`` runs after the new ledger is on disk under its temporary
    name and before the rename that commits it (the crash tests stop there).
    """
    path = out_dir / LEDGER
    entries, problems = read_entries(path) if path.exists() else ([], [])
    problems += check_chain(entries) if entries else []
    if problems:
        raise InputError(path, "existing ledger does not verify, refusing to append: " + problems[0])
    pub_b64 = public_key_b64(key.public_key())
    head_payload = {"kind": "head", "algorithm": "Ed25519", "public_key": pub_b64}
    new_payloads = [_payload(e) for e in body] + [head_payload]
    if entries and [_payload(e) for e in last_section(entries)] == new_payloads:
        return False
    runs = sum(1 for e in entries if e.get("kind") == "run")
    prev = entries[-1]["hash"] if entries else GENESIS
    lines = []
    seq = len(entries)
    for e in body:
        e = dict(e)
        if e.get("kind") == "run":
            e["run"] = runs + 1
        e.update(seq=seq, prev=prev)
        e["hash"] = entry_hash(e)
        lines.append(canonical(e))
        prev, seq = e["hash"], seq + 1
    head = dict(head_payload, seq=seq, prev=prev,
                signature=base64.b64encode(key.sign(prev.encode())).decode())
    head["hash"] = entry_hash(head)
    lines.append(canonical(head))
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    from fromscratch.round.outdir import PARTIAL, fsync_dir, write_atomic

    if not (out_dir / PUBKEY).is_file() or (out_dir / PUBKEY).read_bytes() != pem:
        write_atomic(out_dir / PUBKEY, pem)
    old = path.read_bytes() if path.is_file() else b""
    tmp = path.with_name(f"{PARTIAL}{os.getpid()}-{path.name}")
    with tmp.open("wb") as fh:
        fh.write(old + b"".join(line + b"\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())
    if before_commit is not None:
        before_commit()
    os.replace(tmp, path)
    fsync_dir(out_dir)
    return True


def verify_dir(out_dir: Path, *, expected_key: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """All problems of a round folder, and facts to print (key fingerprint, counts)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return [f"{out_dir}: not a folder"], {}
    if not (out_dir / LEDGER).is_file():
        return [f"{LEDGER}: missing (not a round folder, or its ledger was removed)"], {}
    entries, problems = read_entries(out_dir / LEDGER)
    problems += check_chain(entries)
    facts: dict[str, Any] = {"entries": len(entries)}
    section = files_section(entries)
    heads = [e for e in last_section(entries) if e.get("kind") == "head"]
    if heads:
        pub = heads[-1].get("public_key", "")
        facts["key_fingerprint"] = key_fingerprint(pub) if pub else None
        pem_path = out_dir / PUBKEY
        if not pem_path.is_file():
            problems.append(f"{PUBKEY}: missing")
        else:
            try:
                key = serialization.load_pem_public_key(pem_path.read_bytes())
                if not isinstance(key, Ed25519PublicKey) or public_key_b64(key) != pub:
                    problems.append(f"{PUBKEY}: does not match the key that signed the ledger")
            except ValueError:
                problems.append(f"{PUBKEY}: unreadable")
        if expected_key and expected_key not in {pub, facts.get("key_fingerprint")}:
            problems.append("ledger signed by a different key than the one expected")
    listed = {e["path"]: e for e in section if e.get("kind") == "output" and "path" in e}
    facts["files"] = len(listed)
    present = {r["path"]: r for r in list_outputs(out_dir)}
    for rel, e in sorted(listed.items()):
        got = present.get(rel)
        if got is None:
            problems.append(f"{rel}: missing")
        elif got["sha256"] != e.get("sha256") or got["bytes"] != e.get("bytes"):
            problems.append(f"{rel}: changed (SHA-256 differs from the ledger)")
    for rel in sorted(set(present) - set(listed)):
        problems.append(f"{rel}: extra file not in the ledger")
    return problems, facts
