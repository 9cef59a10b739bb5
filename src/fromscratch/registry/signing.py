"""Signed fingerprint exports: a published fingerprint is checked before it is trusted.

An export is one zip file with three members::

    entry.json        the registry entry (digest, format, architecture, claims, ...),
                      the SHA-256 of fingerprint.npz and the signer's Ed25519 public key
    fingerprint.npz   the canonical fingerprint bytes
    signature         Ed25519 signature of entry.json's bytes

The signing key is the project's Ed25519 key handling (``round.keys``), kept at
``<cache>/registry-keys/signing.pem`` unless ``--key`` names another. Import
refuses (exit 2) any file whose signature, fingerprint hash or layout does not
hold; ``--trust PUBKEY`` additionally requires a given signer.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fromscratch.artifacts.hfdir import parse_json
from fromscratch.errors import InputError
from fromscratch.registry import fpfile
from fromscratch.registry.store import Registry

EXPORT_SCHEMA = "fromscratch.registry-export/1"
MEMBERS = ("entry.json", "fingerprint.npz", "signature")
MAX_BYTES = 1 << 31  # 2 GiB: far above any fingerprint, far below a model
_EPOCH = (1980, 1, 1, 0, 0, 0)


def default_key_path() -> Path:
    from fromscratch.cache import cache_dir

    return cache_dir() / "registry-keys" / "signing.pem"


def public_hex(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def export_entry(reg: Registry, name: str, out: Path, *, key_path: Path | None = None) -> dict[str, Any]:
    from fromscratch.round.keys import load_or_create

    entry = reg.get(name)
    if entry is None:
        raise InputError(name, f"not registered in {reg.root}")
    fp_bytes = fpfile.to_bytes(reg.load(entry))
    key = load_or_create(key_path or default_key_path(), Path(out).resolve())
    head = {"schema": EXPORT_SCHEMA, "entry": entry.as_json(),
            "fingerprint_sha256": hashlib.sha256(fp_bytes).hexdigest(), "public_key": public_hex(key)}
    head_bytes = json.dumps(head, sort_keys=True, indent=1).encode()
    sig = key.sign(head_bytes)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for member, data in zip(MEMBERS, (head_bytes, fp_bytes, sig)):
            info = zipfile.ZipInfo(member, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    out.write_bytes(buf.getvalue())
    return head


def _read_members(path: Path) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a fingerprint export: {exc}") from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if sorted(names) != sorted(MEMBERS):
            raise InputError(path, f"not a fingerprint export: members {names}")
        if sum(i.file_size for i in infos) > MAX_BYTES:
            raise InputError(path, "export too large to be a fingerprint")
        try:
            return {i.filename: zf.read(i) for i in infos}
        except (zipfile.BadZipFile, OSError) as exc:  # CRC mismatch: bytes changed
            raise InputError(path, f"damaged export: {exc}") from None


def verify_export(path: Path, *, trust: str | None = None) -> tuple[dict[str, Any], bytes]:
    """(header, fingerprint bytes) of an export whose signature and hashes hold; InputError otherwise."""
    path = Path(path)
    m = _read_members(path)
    try:
        head = parse_json(m["entry.json"], path)
        if not isinstance(head, dict):
            raise InputError(path, "unreadable export header: not a JSON object")
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(head["public_key"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"unreadable export header: {exc}") from None
    try:
        pub.verify(m["signature"], m["entry.json"])
    except InvalidSignature:
        raise InputError(path, "signature does not verify: the export was changed after signing") from None
    if head.get("schema") != EXPORT_SCHEMA:
        raise InputError(path, f"unknown export schema {head.get('schema')!r}")
    if hashlib.sha256(m["fingerprint.npz"]).hexdigest() != head.get("fingerprint_sha256"):
        raise InputError(path, "fingerprint bytes do not match the signed SHA-256 (tampered)")
    if trust is not None and head["public_key"] != trust.strip().lower():
        raise InputError(path, f"signed by {head['public_key']}, not by the trusted key")
    return head, m["fingerprint.npz"]


def import_entry(reg: Registry, path: Path, *, name: str | None = None, trust: str | None = None,
                 replace: bool = False) -> dict[str, Any]:
    head, data = verify_export(path, trust=trust)
    try:
        fp = fpfile.from_bytes(data)
    except Exception as exc:  # any parse failure of signed-but-malformed content
        raise InputError(path, f"signed fingerprint does not parse: {exc}") from None
    e = head["entry"]
    reg.put(name or e["name"], fp, digest=e["digest"], source=e.get("source"),
            origin=f"import:{head['public_key'][:16]}", replace=replace)
    return head
