"""lm-eval's context/continuation encoding rules, on a real (tiny, trained) tokenizer."""

from __future__ import annotations

import json

import pytest

from fromscratch.bench.backends.encoding import TextCodec
from fromscratch.bench.backends.local import LocalBackend
from fromscratch.errors import InputError

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def codec(tiny_model):
    return TextCodec(tiny_model, json.loads((tiny_model / "config.json").read_text()))


def test_trailing_context_whitespace_moves_to_the_continuation(codec):
    ctx, cont = codec.pair("Question: capital?\nAnswer: ", "Paris")
    assert ctx == codec.ids("Question: capital?\nAnswer:")
    assert ctx + cont == codec.ids("Question: capital?\nAnswer: Paris")


def test_the_split_is_by_context_token_count(codec):
    # the continuation is whatever follows the context's own encoding, even when a
    # token would straddle the boundary in the whole text
    for ctx_text, cont_text in [("The capital of Fra", "nce is Paris"), ("서울은 한국의 수", "도이다")]:
        ctx, cont = codec.pair(ctx_text, cont_text)
        whole = codec.ids(ctx_text + cont_text)
        assert ctx == codec.ids(ctx_text) and cont == whole[len(ctx):]


def test_empty_context_is_the_bos_token(codec):
    ctx, cont = codec.pair("", " Paris")
    assert ctx == [codec.bos] and cont == codec.ids(" Paris", special=False)


def test_bos_choices(tiny_model, codec):
    cfg = json.loads((tiny_model / "config.json").read_text())
    # this tokenizer's post-processor adds no BOS, so lm-eval's default (and ours) has none
    assert codec.ids("Paris")[0] != codec.bos
    always = TextCodec(tiny_model, cfg, add_bos=True)
    assert always.ids("Paris")[0] == codec.bos and always.ids("Paris")[1:] == codec.ids("Paris")
    assert always.ids("<s>Paris").count(codec.bos) == 1  # a text starting with BOS gets no second one
    never = TextCodec(tiny_model, cfg, add_bos=False)
    assert never.ids("Paris") == codec.ids("Paris")
    with pytest.raises(InputError):
        TextCodec(tiny_model, cfg, split="middle")


def test_bos_changes_the_numbers_and_is_recorded(tiny_model):
    default, forced = LocalBackend(tiny_model), LocalBackend(tiny_model, add_bos=True, split="offsets")
    ctx, conts = "Question: What is the capital of France?\nAnswer:", [" Paris", " Rome"]
    assert default.loglikelihood(ctx, conts) != forced.loglikelihood(ctx, conts)
    assert default.describe()["add_bos"] is None and forced.describe()["split"] == "offsets"
    assert default.describe() != forced.describe()  # different item logs, never mixed
