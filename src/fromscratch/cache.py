"""Where generated and downloaded material lives: one answer for every stage.

Fixture models, fingerprints, code corpora, round stage results and signing keys
are cached outside any output folder, so that a round folder lists only what the
round produced. ``$FROMSCRATCH_CACHE`` moves the whole cache (tests use it to
start cold); the default follows the XDG habit of ``~/.cache``.
"""

from __future__ import annotations

from pathlib import Path

from fromscratch.constants import cache_home


def cache_dir() -> Path:
    """``$FROMSCRATCH_CACHE`` or ``~/.cache/fromscratch``."""
    return cache_home()
