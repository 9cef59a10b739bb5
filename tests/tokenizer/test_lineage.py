"""Tokenizer lineage on tokenizers trained here: every verdict, and the null."""

from __future__ import annotations

import random

import pytest

from tests.tokenizer.tokfixtures import load_json, train_bpe, write_json
from fromscratch.tokenizer.api import compare_tokenizers, tokenizer_section
from fromscratch.tokenizer.normalize import canonical, is_alphabet
from fromscratch.tokenizer.readers import read_tokenizer_json


def _learned(vocab: dict[str, int]) -> list[str]:
    return [t for t in vocab if not is_alphabet(canonical(t, "byte-level")) and not t.startswith("<")]


def _pruned(data: dict, fraction: float, seed: int) -> dict:
    """Drop tokens (and merges touching them), re-index keeping the order: vocabulary pruning."""
    rng = random.Random(seed)
    vocab = data["model"]["vocab"]
    drop = set(rng.sample(_learned(vocab), int(len(vocab) * fraction)))
    kept = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in drop]
    out = load_json_copy(data)
    out["model"]["vocab"] = {t: i for i, t in enumerate(kept)}
    out["model"]["merges"] = [m for m in data["model"]["merges"]
                              if m[0] not in drop and m[1] not in drop and m[0] + m[1] not in drop]
    remap = {t: i for i, t in enumerate(kept)}
    out["added_tokens"] = [dict(a, id=remap[a["content"]]) for a in data["added_tokens"]]
    return out


def load_json_copy(data: dict) -> dict:
    import copy

    return copy.deepcopy(data)


def _respelled_metaspace(data: dict) -> dict:
    """The same tokenizer written SentencePiece-style: ▁ instead of Ġ, text instead of bytes."""
    out = load_json_copy(data)

    def sp(tok: str) -> str:
        return canonical(tok, "byte-level").replace(" ", "▁")

    out["model"]["vocab"] = {sp(t): i for t, i in data["model"]["vocab"].items()}
    out["model"]["merges"] = [f"{sp(a)} {sp(b)}" for a, b in data["model"]["merges"]]  # old string format
    out["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    out["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    return out


def test_independent_tokenizers_on_similar_data(bpe_pair):
    a, b = bpe_pair
    result = compare_tokenizers(a, b)
    assert result["verdict"] == "independent"
    # similar data: most learned tokens are shared, which is why overlap cannot decide
    assert result["vocabulary"]["shared_fraction_of_candidate"] > 0.5
    order = result["vocabulary"]["order"]
    assert 0.35 < order["agreement"] < 0.65, order  # the calibrated nulls: about one half ...
    assert order["successor_rate"] < 0.15, order      # ... and rarely an immediate neighbour
    assert result["p_value"] > 0.01


def test_identical_copy_and_respelled_copy(bpe_pair, tmp_path):
    a, _ = bpe_pair
    assert compare_tokenizers(a, a)["verdict"] == "identical"
    respelled = write_json(_respelled_metaspace(load_json(a)), tmp_path / "sp" / "tokenizer.json")
    vocab = read_tokenizer_json(respelled)
    assert vocab.style == "metaspace" and vocab.merges and " " not in vocab.merges[0][0]
    result = compare_tokenizers(respelled, a)
    assert result["verdict"] == "identical", result["vocabulary"]


def test_extended(bpe_pair, tmp_path):
    a, _ = bpe_pair
    data = load_json(a)
    n = len(data["model"]["vocab"])
    words = ["lighthouse", "orchestra", "등대지기", "Question:", "squirrel"] + [f"word{i}" for i in range(40)]
    data["added_tokens"] += [{"id": n + i, "content": w, "special": False} for i, w in enumerate(words)]
    ext = write_json(data, tmp_path / "ext" / "tokenizer.json")
    result = compare_tokenizers(ext, a)
    assert result["verdict"] == "extended"
    assert result["vocabulary"]["shared_fraction_of_reference"] == 1.0
    assert compare_tokenizers(a, ext)["verdict"] == "pruned"


def test_pruned_and_derived(bpe_pair, tmp_path):
    a, b = bpe_pair
    data = load_json(a)
    pruned = write_json(_pruned(data, 0.3, seed=5), tmp_path / "pruned" / "tokenizer.json")
    result = compare_tokenizers(pruned, a)
    assert result["verdict"] == "pruned"
    assert result["p_value"] < 1e-6
    # pruned and then extended with the other tokenizer's tokens: neither subset nor superset
    mixed = _pruned(data, 0.3, seed=5)
    other = load_json(b)["model"]["vocab"]
    n = len(mixed["model"]["vocab"])
    extra = [t for t in sorted(other, key=other.get) if t not in mixed["model"]["vocab"]][:120]
    mixed["model"]["vocab"].update({t: n + i for i, t in enumerate(extra)})
    mixed_path = write_json(mixed, tmp_path / "mixed" / "tokenizer.json")
    assert compare_tokenizers(mixed_path, a)["verdict"] == "derived"
    # 120 tokens taken from b in b's order are a minority of the shared tokens: below the
    # conservative bounds by design (docs/tokenizer.md, power)
    assert compare_tokenizers(mixed_path, b)["verdict"] == "independent"


def test_section_picks_the_origin(bpe_pair, tmp_path):
    a, b = bpe_pair
    missing = tmp_path / "nothing-here"
    missing.mkdir()
    section = tokenizer_section(a, [("other", b), ("self", a), ("empty", missing)])
    assert section["relation"] == "identical" and section["origin"] == "self"
    verdicts = {r["reference"]: r["verdict"] for r in section["references"]}
    assert verdicts == {"other": "independent", "self": "identical", "empty": "unavailable"}


def test_order_test_has_no_power_without_shared_tokens(tmp_path):
    def tiny(tokens):
        return {"model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(tokens)}, "merges": []},
                "added_tokens": []}

    a = write_json(tiny(["a", "b", "ab", "ba"]), tmp_path / "a" / "tokenizer.json")
    b = write_json(tiny(["x", "y", "xy", "ab"]), tmp_path / "b" / "tokenizer.json")
    assert compare_tokenizers(a, b)["verdict"] == "inconclusive"


@pytest.mark.parametrize("seed", [3, 4])
def test_null_is_not_tuned_to_one_pair(bpe_pair, seed):
    from fromscratch.tokenizer.readers import parse_tokenizer_json
    import json
    from pathlib import Path

    other = parse_tokenizer_json(json.loads(train_bpe(seed, vocab_size=700).to_str()), Path(f"seed{seed}"))
    result = compare_tokenizers(other, read_tokenizer_json(bpe_pair[0]))
    assert result["verdict"] == "independent"


def test_unigram_pruned_and_resorted_is_caught_by_its_scores():
    """Pruning tools may re-sort the kept pieces (by new-corpus frequency); the scores survive."""
    spm = pytest.importorskip("sentencepiece")
    import io
    from pathlib import Path

    from fromscratch.tokenizer.spm import parse_sentencepiece
    from fromscratch.tokenizer.vocab import Vocabulary
    from tests.tokenizer.tokfixtures import language

    def train(seed):
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(language(seed, 800).splitlines()),
                                       model_writer=buf, vocab_size=600, model_type="unigram", minloglevel=2)
        return parse_sentencepiece(buf.getvalue(), Path(f"s{seed}.model"))

    ref, other = train(11), train(12)
    rng = random.Random(3)
    keep = [i for i in range(ref.size) if i in ref.special or rng.random() < 0.7]
    body = [i for i in keep if i not in ref.special]
    rng.shuffle(body)
    order = [i for i in keep if i in ref.special] + body
    cand = Vocabulary(kind="unigram", style="metaspace", tokens=[ref.tokens[i] for i in order],
                      source="pruned", scores=[ref.scores[i] for i in order],
                      special={j for j, i in enumerate(order) if i in ref.special})
    result = compare_tokenizers(cand, ref)
    assert result["vocabulary"]["order"]["p_value"] > 0.01  # the order is gone ...
    assert result["scores"]["equal_fraction"] == 1.0         # ... the scores are not
    assert result["verdict"] == "pruned"
    independent = compare_tokenizers(other, ref)
    assert independent["verdict"] == "independent"
    assert independent["scores"]["equal_fraction"] < 0.05
