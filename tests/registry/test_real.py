"""The default registry of real models: search finds what pairwise compare finds (marked real, slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from realmodels import real_model

pytestmark = [pytest.mark.real, pytest.mark.slow]

#: small enough to compare every pair in a test; the large ones are covered by the benchmark
KEYS = ["tiny-gguf", "minilm-safetensors", "minilm-onnx", "whisper-tiny-ct2", "whisper-base-ct2",
        "e5-small", "e5-small-enpt", "akiki", "smollm2-gguf"]


@pytest.fixture(scope="module")
def real_registry(tmp_path_factory):
    from fromscratch.lineage.fingerprint import build_fingerprint
    from fromscratch.registry.store import Registry
    from fromscratch.zoo import cache_dir

    os.environ["FROMSCRATCH_LINEAGE_CACHE"] = str(Path(cache_dir()) / "lineage-real")
    reg = Registry(tmp_path_factory.mktemp("realreg"))
    fps = {}
    for k in KEYS:
        fps[k] = build_fingerprint(real_model(k))
        reg.put(k, fps[k], digest=f"real:{k}", source=None)
    return reg, fps


def test_search_finds_what_compare_finds_on_real_models(real_registry):
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.registry.search import search_fingerprint

    reg, fps = real_registry
    problems = []
    for cand in KEYS:
        found = {m["name"] for m in search_fingerprint(fps[cand], reg)["matches"]} - {cand}
        pairwise = {r for r in KEYS if r != cand
                    and compare_fingerprints(fps[cand], fps[r])["verdict"] in ("identical", "derived")}
        if not pairwise <= found:
            problems.append(f"{cand}: compare finds {sorted(pairwise)}, search {sorted(found)}")
        if found - pairwise:
            problems.append(f"{cand}: search flags {sorted(found - pairwise)} that compare does not")
    assert not problems, "\n".join(problems)
