"""Shared fixtures for lineage tests: the zoo (built once, cached) and its fingerprints."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_fingerprint_cache(tmp_path_factory):
    """Fingerprints of throw-away test models go to a temporary cache, not the user's."""
    old = os.environ.get("FROMSCRATCH_LINEAGE_CACHE")
    os.environ["FROMSCRATCH_LINEAGE_CACHE"] = str(tmp_path_factory.mktemp("fingerprints"))
    yield
    if old is None:
        os.environ.pop("FROMSCRATCH_LINEAGE_CACHE", None)
    else:
        os.environ["FROMSCRATCH_LINEAGE_CACHE"] = old


@pytest.fixture(scope="session")
def zoo():
    """The fixture zoo (interface 2); built on first use and cached on disk."""
    pytest.importorskip("torch")
    from fromscratch.zoo import build_zoo

    return build_zoo()


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
