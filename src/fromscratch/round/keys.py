"""The round's signing key: generated once per round, kept outside the round folder.

Default location: ``<cache>/round-keys/<sha256 of the folder's absolute path>.pem``
(mode 0600), so re-running a round into the same folder signs with the same key.
An agency passes ``--key PATH`` to keep it somewhere safer (an HSM export, an
offline disk); the public key is always written into the folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fromscratch.errors import InputError


def default_key_path(out_dir: Path) -> Path:
    from fromscratch.cache import cache_dir

    tag = hashlib.sha256(str(Path(out_dir).resolve()).encode()).hexdigest()[:24]
    return cache_dir() / "round-keys" / f"{tag}.pem"


def load_or_create(path: Path, out_dir: Path) -> Ed25519PrivateKey:
    path = Path(path)
    if path.resolve().is_relative_to(Path(out_dir).resolve()):
        raise InputError(path, "the private signing key must not live inside the round folder")
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError):
            raise InputError(path, "not an unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError(path, "not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key
