"""Where generated and downloaded material lives: one answer for every stage.

Fixture models, fingerprints, code corpora, round stage results and signing keys
are cached outside any output folder, so that a round folder lists only what the
round produced. ``$FROMSCRATCH_CACHE`` moves the whole cache (tests use it to
start cold); the default follows the XDG habit of ``~/.cache``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$FROMSCRATCH_CACHE`` or ``~/.cache/fromscratch``."""
    env = os.environ.get("FROMSCRATCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fromscratch"
