"""Session-wide access to the fixture zoo (built once, then cached on disk)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def zoo():
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    import os
    from pathlib import Path

    from fromscratch.zoo import Zoo, build_zoo

    prebuilt = os.environ.get("FROMSCRATCH_TEST_ZOO")  # a zoo built elsewhere (e.g. `fromscratch zoo --out`)
    if prebuilt:
        return Zoo.load(Path(prebuilt))
    return build_zoo()
