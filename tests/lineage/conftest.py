"""Shared fixtures for lineage tests: a private fingerprint cache and zoo fingerprints (the zoo comes from tests/conftest.py)."""

from __future__ import annotations


import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_fingerprint_cache(private_fingerprint_cache):
    """Every test here uses the temporary fingerprint cache (see tests/conftest.py)."""


@pytest.fixture(scope="session")
def zoo_fp(zoo):
    """name -> fingerprint of a zoo model, computed once per session."""
    from fromscratch.lineage.fingerprint import build_fingerprint

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = build_fingerprint(zoo.path(name), use_cache=False)
        return cache[name]

    return get
