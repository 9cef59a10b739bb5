"""Fixtures for disguise and gauntlet tests: a private fingerprint cache, the zoo."""

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
    pytest.importorskip("torch")
    from fromscratch.zoo import build_zoo

    return build_zoo()
