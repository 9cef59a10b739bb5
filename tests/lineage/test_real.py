"""Real checkpoints from registry packages (marked ``real``; skipped offline).

SmolLM2-135M vs Gemma-3-270M must be independent; SmolLM2 against its own
re-quantised (Q4_1 -> Q8_0) copy and against a permuted (residual stream,
MLP units, heads, sign flips) re-quantised copy must be derived or identical.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from realmodels import real_model

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def persistent_cache():
    """Real-model fingerprints are worth keeping between sessions (the tool's normal cache)."""
    from fromscratch.zoo import cache_dir

    old = os.environ.get("FROMSCRATCH_LINEAGE_CACHE")
    os.environ["FROMSCRATCH_LINEAGE_CACHE"] = str(Path(cache_dir()) / "lineage-real")
    yield Path(os.environ["FROMSCRATCH_LINEAGE_CACHE"])
    if old is None:
        os.environ.pop("FROMSCRATCH_LINEAGE_CACHE", None)
    else:
        os.environ["FROMSCRATCH_LINEAGE_CACHE"] = old


@pytest.fixture(scope="module")
def smollm_variants(persistent_cache):
    from tests.generators.gguf_variants import write_variant

    src = real_model("smollm2-gguf")
    out = persistent_cache / "variants"
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, perm in (("requant", False), ("permuted", True)):
        # v2: the first writer gave every MLP a one-unit permutation when attention tensors came first
        dst = out / f"smollm2-{name}-v2-q8_0.gguf"
        if not dst.exists():
            tmp = dst.with_suffix(".tmp")
            write_variant(src, tmp, permute=perm, seed=11)
            tmp.replace(dst)
        paths[name] = dst
    return src, paths


def test_smollm2_vs_gemma3_independent(persistent_cache):
    from fromscratch.lineage.api import compare

    obj = compare(real_model("smollm2-gguf"), real_model("gemma3-gguf"))
    assert obj["verdict"] == "independent"
    assert obj["p_value"] > 0.01
    assert not [c for c in obj["components"] if c["relation"] in ("identical", "derived")]


@pytest.mark.parametrize("variant", ["requant", "permuted"])
def test_smollm2_vs_own_copy_derived(smollm_variants, variant):
    from fromscratch.lineage.api import compare

    src, paths = smollm_variants
    obj = compare(paths[variant], src)
    assert obj["verdict"] in ("derived", "identical")
    assert obj["p_value"] < 1e-6
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp", "embedding")]
    assert all(c["relation"] in ("derived", "identical") and c["p_value"] < 1e-6 for c in blocks)
    assert obj["shared_parameter_fraction"] > 0.99
    cand = obj["candidate"]["parameters"]
    assert cand == obj["reference"]["parameters"]  # a faithful copy: every tensor keeps its shape


SMOL_DISGUISES = ["rotated", "rotated-drift20", "rescaled", "rotated-permuted", "rotated-no-tokenizer"]


@pytest.fixture(scope="module")
def smollm_disguised(persistent_cache):
    """SmolLM2-135M disguised with ``fromscratch.disguise`` (F16 safetensors, kept in the real-model cache)."""
    from fromscratch import disguise as dz

    make = {"rotated": lambda m: dz.rotate(m, 1), "rotated-drift20": lambda m: dz.drift(dz.rotate(m, 2), 3, 0.2),
            "rescaled": lambda m: dz.rescale(m, 4), "rotated-permuted": lambda m: dz.permute_units(dz.rotate(m, 5), 6),
            # shipped without tokenizer files: the reference's id-keyed probes meet the copy's
            "rotated-no-tokenizer": lambda m: replace(dz.rotate(m, 7), tokenizer=None, tokenizer_files={})}
    src = real_model("smollm2-gguf")
    out = persistent_cache / "disguised"
    paths, base = {}, None
    for name in SMOL_DISGUISES:
        dst = out / f"smollm2-{name}"
        if not (dst / "model.safetensors").exists():
            base = base or dz.load(src)
            tmp = out / f"smollm2-{name}.tmp"
            dz.save(make[name](base), tmp, dtype="F16")
            tmp.replace(dst)
        paths[name] = dst
    return src, paths


@pytest.mark.slow
@pytest.mark.parametrize("name", SMOL_DISGUISES)
def test_smollm2_disguised_copy_is_derived_block_by_block(smollm_disguised, name):
    from fromscratch.lineage.api import compare

    src, paths = smollm_disguised
    obj = compare(paths[name], src)
    assert obj["verdict"] == "derived"
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp")]
    assert len(blocks) == 60
    wrong = [(c["name"], c["relation"], c["p_value"], c["reference_layer"]) for c in blocks
             if c["relation"] != "derived" or c["p_value"] >= 1e-6 or c["reference_layer"] != c["layer"]]
    assert not wrong, wrong[:5]
    if name.startswith("rotated"):
        # the untied head of a rotated copy: the embeddings' orthogonal map carried over (tied reference)
        head = next(c for c in obj["components"] if c["name"] == "lm_head")
        assert head["relation"] == "derived" and head["p_value"] < 1e-6, head["p_value"]
