"""Fixtures for disguise and gauntlet tests: a private fingerprint cache (the zoo comes
from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_fingerprint_cache(private_fingerprint_cache):
    """Every test here uses the temporary fingerprint cache (see tests/conftest.py)."""
