"""Fixtures for registry tests: the zoo, a private cache, registries built once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from regtools import ROOTS, fill  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Fingerprints, registries and signing keys of tests go to a temporary cache."""
    old = {k: os.environ.get(k) for k in ("FROMSCRATCH_LINEAGE_CACHE",)}
    os.environ["FROMSCRATCH_LINEAGE_CACHE"] = str(tmp_path_factory.mktemp("fingerprints"))
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def zoo_fp(zoo):
    from fromscratch.lineage.fingerprint import build_fingerprint

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = build_fingerprint(zoo.path(name))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def zoo_registry(tmp_path_factory, zoo, zoo_fp):
    """The zoo's independently trained models plus 100 generated fingerprints."""
    from fromscratch.registry.store import Registry

    names = [n for n in ROOTS if n in {e.name for e in zoo.entries}]
    return fill(Registry(tmp_path_factory.mktemp("zooreg")), zoo, zoo_fp, names, bulk=100)
