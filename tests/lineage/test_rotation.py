"""The rotation- and rescale-robust tier on the zoo, with the disguises of ``fromscratch.disguise``.

Copies of llama-s0 rotated (norm gains folded, orthogonal residual map),
rotated then drifted by 20 %, rescaled (MLP units, heads, norm gains) and
rotated then unit/head-permuted must be derived on every block with p < 1e-6,
each block mapped to its own reference layer; a rotated seed sibling and the
rotated near-identical-norm model must stay independent with nothing flagged.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from fromscratch import disguise as dz
from fromscratch.lineage import responses
from fromscratch.lineage.api import compare_fingerprints
from fromscratch.lineage.fingerprint import build_fingerprint

DISGUISES = {
    "rotated": lambda m: dz.rotate(m, 1),
    "rotated-drift20": lambda m: dz.drift(dz.rotate(m, 2), 3, 0.2),
    "rescaled": lambda m: dz.rescale(m, 4),
    "rotated-permuted": lambda m: dz.permute_units(dz.rotate(m, 5), 6),
    # shipped without tokenizer files: rows are paired by id, probes too
    "rotated-no-tokenizer": lambda m: replace(dz.rotate(m, 7), tokenizer=None, tokenizer_files={}),
}


@pytest.fixture(scope="module")
def disguised(zoo, tmp_path_factory):
    root = tmp_path_factory.mktemp("disguised")
    cache: dict = {}

    def get(name: str, source: str = "llama-s0"):
        key = (name, source)
        if key not in cache:
            out = root / f"{source}-{name}"
            dz.save(DISGUISES[name](dz.load(zoo.path(source))), out)
            cache[key] = build_fingerprint(out, use_cache=False)
        return cache[key]

    return get


@pytest.mark.parametrize("name", sorted(DISGUISES))
def test_disguised_copy_is_derived_block_by_block(name, disguised, zoo_fp):
    obj = compare_fingerprints(disguised(name), zoo_fp("llama-s0"))
    assert obj["verdict"] == "derived"
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp")]
    assert len(blocks) == 8
    wrong = [(c["name"], c["relation"], c["p_value"], c["reference_layer"]) for c in blocks
             if c["relation"] != "derived" or c["p_value"] >= 1e-6 or c["reference_layer"] != c["layer"]]
    assert not wrong, wrong
    if name.startswith("rotated"):
        # the residual coordinates are gone: the token-response tier found them, and says so
        assert all(c["evidence"]["statistic"].startswith("token-response") for c in blocks)
        assert all(c["evidence"]["views"]["p"] < 1e-6 for c in blocks)
        emb = next(c for c in obj["components"] if c["name"] == "embed_tokens")
        assert emb["relation"] == "derived"
        # the head too: the embeddings' orthogonal map carried over to the head rows
        head = next(c for c in obj["components"] if c["name"] == "lm_head")
        assert head["relation"] == "derived" and head["p_value"] < 1e-6, head["p_value"]
        best = min(head["evidence"]["tests"], key=lambda t: t["p"])
        assert best["statistic"].startswith("embeddings' orthogonal fit carried over")
        if name != "rotated-drift20":
            # a rotation is no change: measured after the fitted map, both tables are frozen
            assert emb["frozen"] is True and head["frozen"] is True, (emb["change"], head["change"])
        else:
            assert emb["frozen"] is False and 0.05 < emb["change"] < 0.5, emb["change"]


def test_rotated_copy_without_tokenizer_is_derived_through_id_probes(disguised, zoo_fp):
    """The id-keyed probes of the reference (it has strings) meet the string-less copy's id probes."""
    cand = disguised("rotated-no-tokenizer")
    assert cand.meta["row_keys"] == "ids"
    obj = compare_fingerprints(cand, zoo_fp("llama-s0"))
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp")]
    assert obj["verdict"] == "derived" and len(blocks) == 8
    wrong = [(c["name"], c["relation"], c["p_value"], c["reference_layer"]) for c in blocks
             if c["relation"] != "derived" or c["p_value"] >= 1e-6 or c["reference_layer"] != c["layer"]]
    assert not wrong, wrong
    for c in blocks:
        ev = c["evidence"]
        assert ev["statistic"].startswith("token-response") and "response_tier" not in ev
        assert ev["probe_tokens"] == responses.ID_PROBE_TOKENS and ev["probe_keys"] == "ids"
    # with strings on both sides the token-keyed probes are used, as before
    tok = compare_fingerprints(disguised("rotated"), zoo_fp("llama-s0"))
    assert {c["evidence"]["probe_tokens"] for c in tok["components"] if c["kind"] in ("attention", "mlp")} \
        == {responses.PROBE_TOKENS}
    assert not any("probe_keys" in c["evidence"] for c in tok["components"])


def test_rotated_sibling_without_tokenizer_stays_independent(disguised, zoo_fp):
    obj = compare_fingerprints(disguised("rotated-no-tokenizer", "llama-s1"), zoo_fp("llama-s0"))
    flagged = [c["name"] for c in obj["components"] if c["relation"] in ("identical", "derived")]
    assert obj["verdict"] == "independent" and not flagged, flagged
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp")]
    assert all(c["evidence"].get("response_tier_p", 0.0) > 0.01 for c in blocks)


@pytest.mark.parametrize("source,reference", [("llama-s1", "llama-s0"), ("llama-norm-a", "llama-norm-b")])
def test_rotated_independent_model_stays_independent(source, reference, disguised, zoo_fp):
    obj = compare_fingerprints(disguised("rotated", source), zoo_fp(reference))
    flagged = [c["name"] for c in obj["components"] if c["relation"] in ("identical", "derived")]
    assert obj["verdict"] == "independent" and not flagged, flagged
    # the response tier ran on every block and found nothing
    blocks = [c for c in obj["components"] if c["kind"] in ("attention", "mlp")]
    assert all(c["evidence"].get("response_tier_p", 0.0) > 0.01 for c in blocks)
    # and the head's carried-over fit ran and found nothing either
    head = next(c for c in obj["components"] if c["name"] == "lm_head")
    fits = [t for t in head["evidence"]["tests"] if t["statistic"].startswith("embeddings' orthogonal fit")]
    assert fits and all(not t.get("skipped") and t["p"] > 0.01 for t in fits), fits


def test_response_tier_leaves_reinitialised_blocks_alone(zoo, zoo_fp):
    """Re-initialised blocks respond to tokens like convergent units do, but their views disagree."""
    fresh = set(next(e for e in zoo.entries if e.name == "llama-s0-reinit").metrics["reinitialised_layers"])
    obj = compare_fingerprints(zoo_fp("llama-s0-reinit"), zoo_fp("llama-s0"))
    for c in obj["components"]:
        if c["kind"] in ("attention", "mlp") and c["layer"] in fresh:
            assert c["relation"] not in ("derived", "identical"), (c["name"], c["p_value"])
