"""End to end on synthetic trained-like checkpoints written as HF directories.

Fast (under ~15 s) and independent of the zoo: every disguise the issue lists
that can be made by editing weights, plus a small false-positive bank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.generators import lineage_synthetic as sy
from fromscratch.lineage.api import audit, compare
from tests.generators.lineage_calibration import quick_bank

SHAPE = sy.Shape()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lineage-syn")
    base = sy.random_llama(0, SHAPE)
    words = sy.vocab_words(SHAPE.vocab)
    out = {
        "base": sy.write_model(base, root / "base"),
        "sibling": sy.write_model(sy.random_llama(1, SHAPE), root / "sibling"),
        "finetuned-permuted": sy.write_model(sy.perturb(sy.permute(base, 5, SHAPE), 6, 0.3), root / "ftperm"),
        "pruned": sy.write_model(sy.relayer(base, [0, 2]), root / "pruned"),
        "upscaled": sy.write_model(sy.relayer(base, [0, 1, 1, 2, 2]), root / "upscaled"),
        "width": sy.write_model(sy.prune_units(base, 0.6, 7), root / "width"),
        "f16": sy.write_model(base, root / "f16", dtype="F16"),
    }
    sd, new_words = sy.reorder_vocab(base, words, 8, extra=40)
    out["vocab"] = sy.write_model(sd, root / "vocab", vocab=new_words)
    return out


def _by_name(obj):
    return {c["name"]: c for c in obj["components"]}


def test_sibling_is_independent(models):
    obj = compare(models["sibling"], models["base"])
    assert obj["verdict"] == "independent" and obj["p_value"] > 0.01
    assert not [c for c in obj["components"] if c["relation"] in ("identical", "derived")]
    norms = [c for c in obj["components"] if c["kind"] == "norm"]
    assert norms and all(c["naive_cosine"] > 0.9 for c in norms)  # the trap: high cosine, no evidence


@pytest.mark.parametrize("variant", ["finetuned-permuted", "pruned", "upscaled", "width", "vocab"])
def test_disguised_copies_are_derived(models, variant):
    obj = compare(models[variant], models["base"])
    assert obj["verdict"] == "derived", obj["verdict"]
    comps = _by_name(obj)
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp")]
    assert blocks and all(c["relation"] in ("derived", "identical") and c["p_value"] < 1e-6 for c in blocks)
    assert comps["embed_tokens"]["relation"] in ("derived", "identical")
    assert obj["shared_parameter_fraction"] > 0.9


def test_layer_maps(models):
    comps = _by_name(compare(models["pruned"], models["base"]))
    assert comps["layers.1.mlp"]["reference_layer"] == 2
    comps = _by_name(compare(models["upscaled"], models["base"]))
    assert [comps[f"layers.{i}.attention"]["reference_layer"] for i in range(5)] == [0, 1, 1, 2, 2]


def test_dtype_copy_is_identical(models):
    obj = compare(models["f16"], models["base"])
    assert obj["verdict"] == "identical"


def test_audit_applies_reference_correction(models):
    obj = audit(models["finetuned-permuted"], [models["sibling"], models["base"]])
    assert obj["schema"] == "fromscratch.audit/1"
    assert [r["verdict"] for r in obj["references"]] == ["independent", "derived"]
    assert obj["verdict"] == "derived"
    assert "Bonferroni x2" in obj["references"][0]["multiple_comparisons"]


def test_deterministic_given_seed(models):
    from fromscratch.jsonio import dumps

    a = dumps(compare(models["finetuned-permuted"], models["base"], seed=3))
    b = dumps(compare(models["finetuned-permuted"], models["base"], seed=3))
    assert a == b


def test_quick_false_positive_bank():
    summary = quick_bank(6)
    assert summary["component_pairs"] >= 250
    assert summary["below_threshold"] == 0
    # conservative tests: no more small p-values than nominal (with slack for 250 draws)
    assert summary["below_0.01"] <= 0.01 * summary["component_pairs"] + 3 * np.sqrt(summary["component_pairs"] * 0.01)


def test_results_do_not_depend_on_worker_threads(models):
    """Anchor components and block groups run on two threads; one thread gives the same components."""
    from fromscratch.jsonio import dumps
    from fromscratch.lineage.compare import Comparison
    from fromscratch.lineage.fingerprint import build_fingerprint

    cand, ref = build_fingerprint(models["finetuned-permuted"]), build_fingerprint(models["base"])
    one, two = Comparison(cand, ref, seed=1), Comparison(cand, ref, seed=1)
    a, b = one._tested_components(workers=1), two._tested_components(workers=2)
    assert list(a) == list(b) and dumps(a) == dumps(b)
    assert any(r.get("p_raw", 1.0) < 1e-6 for r in a.values())  # something was actually found


def test_candidate_work_shared_across_references_changes_nothing(models):
    """audit shares the candidate's prepared profiles and whitened tables between references."""
    from fromscratch.jsonio import dumps
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.lineage.compare import CandidateMemo
    from fromscratch.lineage.fingerprint import build_fingerprint

    cand = build_fingerprint(models["finetuned-permuted"])
    refs = [build_fingerprint(models[n]) for n in ("sibling", "base", "pruned")]
    memo = CandidateMemo(cand)
    shared = [dumps(compare_fingerprints(cand, r, seed=2, shared=memo)) for r in refs]
    alone = [dumps(compare_fingerprints(cand, r, seed=2)) for r in refs]
    assert shared == alone
    with pytest.raises(ValueError):
        compare_fingerprints(refs[0], refs[1], shared=memo)


@pytest.mark.parametrize("name", ["base", "f16"])
def test_fingerprint_with_reused_decode_buffer_equals_fresh_arrays(models, name, monkeypatch):
    """The pass decodes every tensor into one reused buffer; the fingerprint is bit-identical without it."""
    from fromscratch.artifacts.safetensors_reader import SafetensorsReader
    from fromscratch.lineage.fingerprint import build_fingerprint

    reused = build_fingerprint(models[name], use_cache=False)
    monkeypatch.setattr(SafetensorsReader, "reads_into", False)
    fresh = build_fingerprint(models[name], use_cache=False)
    assert reused.meta == fresh.meta
    assert sorted(reused.arrays) == sorted(fresh.arrays) and any(k.startswith("prof|") for k in fresh.arrays)
    for k, v in fresh.arrays.items():
        assert reused.arrays[k].dtype == v.dtype and reused.arrays[k].tobytes() == v.tobytes(), k
