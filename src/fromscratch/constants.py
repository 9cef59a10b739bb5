"""Every environment variable fromscratch reads, in one place.

Values are read when asked for, not at import, so a test (or a long-lived process) that
sets a variable sees it take effect. Nothing else in the package reads ``os.environ``
except the zoo builder, whose source is part of the zoo's cache key.

=============================  ===========================================================
``FROMSCRATCH_CACHE``          the whole cache (zoo, fingerprints, corpora, stage results,
                               keys); default ``~/.cache/fromscratch``
``FROMSCRATCH_LINEAGE_CACHE``  fingerprints only; default the cache above
``FROMSCRATCH_DEBUG``          any value: a bug shows its traceback instead of one line
``FROMSCRATCH_ZOO_WORKERS``    processes used to build the fixture zoo
``HF_HUB_CACHE``,              where a Hugging Face hub cache may be, in the order
``HUGGINGFACE_HUB_CACHE``,     ``huggingface_hub`` looks (hub ids are resolved offline,
``HF_HOME``,                   from these folders only)
``XDG_CACHE_HOME``
=============================  ===========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

FROMSCRATCH_CACHE = "FROMSCRATCH_CACHE"
FROMSCRATCH_LINEAGE_CACHE = "FROMSCRATCH_LINEAGE_CACHE"
FROMSCRATCH_DEBUG = "FROMSCRATCH_DEBUG"
FROMSCRATCH_ZOO_WORKERS = "FROMSCRATCH_ZOO_WORKERS"


def _get(name: str) -> str | None:
    return os.environ.get(name) or None


def cache_home() -> Path:
    """``$FROMSCRATCH_CACHE`` or ``~/.cache/fromscratch``."""
    env = _get(FROMSCRATCH_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fromscratch"


def lineage_cache() -> Path:
    """``$FROMSCRATCH_LINEAGE_CACHE`` or the project cache."""
    env = _get(FROMSCRATCH_LINEAGE_CACHE)
    return Path(env) if env else cache_home()


def zoo_workers() -> int | None:
    """``$FROMSCRATCH_ZOO_WORKERS`` as a process count (at least 1), or None when unset."""
    env = _get(FROMSCRATCH_ZOO_WORKERS)
    return max(1, int(env)) if env else None


def debug() -> bool:
    return _get(FROMSCRATCH_DEBUG) is not None


def hub_cache_dirs() -> list[Path]:
    """Where a Hugging Face cache may live, in the order huggingface_hub looks."""
    dirs: list[Path] = []
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if _get(name):
            dirs.append(Path(os.environ[name]))
    if _get("HF_HOME"):
        dirs.append(Path(os.environ["HF_HOME"]) / "hub")
    if _get("XDG_CACHE_HOME"):
        dirs.append(Path(os.environ["XDG_CACHE_HOME"]) / "huggingface" / "hub")
    dirs.append(Path.home() / ".cache" / "huggingface" / "hub")
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen
