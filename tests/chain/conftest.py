"""Session-wide chain material (genuine and forged checkpoint chains, built once and cached)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def chains():
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    from fromscratch.zoo.chains import build_chains

    return build_chains()


@pytest.fixture(scope="session")
def verified(chains):
    """``verified(name)``: the chain's fromscratch.chain/1 result against both references (memoised)."""
    from fromscratch.chain.api import verify_chain

    memo: dict[str, dict] = {}
    refs = [("ref-a", chains["references"]["ref-a"]), ("ref-b", chains["references"]["ref-b"])]

    def run(name: str) -> dict:
        if name not in memo:
            e = chains["chains"][name]
            memo[name] = verify_chain(e["checkpoints"], model=e["model"], references=refs,
                                      init_options=e["init_options"])
        return memo[name]

    return run
