"""Where generated and downloaded material lives: one answer for every stage.

Fixture models, fingerprints, code corpora, round stage results and signing keys
are cached outside any output folder, so that a round folder lists only what the
round produced. ``$FROMSCRATCH_CACHE`` moves the whole cache (tests use it to
start cold); the default follows the XDG habit of ``~/.cache``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fromscratch.constants import cache_home


def cache_dir() -> Path:
    """``$FROMSCRATCH_CACHE`` or ``~/.cache/fromscratch``."""
    return cache_home()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if needed).

    Cached material (chains, null banks, downloaded wheels) is built by whichever process
    asks first; the lock makes a second process wait and then reuse what the first built.
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
