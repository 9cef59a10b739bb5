"""Lineage token spellings: the tokenizer comparison's marker rules, plus the
three renderings lineage keeps because its token keys hash these strings."""

from __future__ import annotations

import pytest

from fromscratch.lineage.tokens import normalise, token_key
from fromscratch.tokenizer.normalize import byte_decoder, canonical

CASES = [
    # (style, token, lineage spelling, tokenizer comparison's spelling)
    ("byte-level", "Ġthe", " the", " the"),
    ("byte-level", "Ċ", "\n", "\n"),
    ("byte-level", "ĠíķľêµŃ", " 한국", " 한국"),
    ("byte-level", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>"),
    ("byte-level", "plain text 한", "plain text 한", "plain text 한"),  # not byte-level: kept
    ("byte-level", "íķ", "\\xed\\x95", "<0xED><0x95>"),                # lineage's own: not UTF-8
    ("metaspace", "▁the", " the", " the"),
    ("metaspace", "the▁end", "the end", "the end"),
    ("metaspace", "<0x41>", "A", "A"),
    ("metaspace", "<0xZZ>", "<0xZZ>", "<0xZZ>"),
    ("metaspace", "<0x0A>", "\n", "<0x0A>"),                           # lineage's own: Latin-1 byte
    ("metaspace", "<0xE9>", "é", "<0xE9>"),                            # lineage's own: Latin-1 byte
    ("wordpiece", "##ing", "ing", "ing"),
    ("wordpiece", "the", " the", " the"),
    ("wordpiece", "[CLS]", "[CLS]", " [CLS]"),                         # lineage's own: brackets kept
    ("plain", "▁##Ġ", "▁##Ġ", "▁##Ġ"),
]


@pytest.mark.parametrize(("style", "token", "lineage", "tokenizer"), CASES)
def test_spelling(style: str, token: str, lineage: str, tokenizer: str) -> None:
    assert normalise([token], style) == [lineage]
    assert canonical(token, style) == tokenizer


def test_byte_alphabet_round_trips_to_every_byte() -> None:
    chars = sorted(byte_decoder(), key=byte_decoder().get)
    assert len(chars) == 256
    ascii_bytes = normalise([c for c in chars if byte_decoder()[c] < 0x80], "byte-level")
    assert ascii_bytes == [chr(b) for b in range(0x80)]
    high = normalise([c for c in chars if byte_decoder()[c] >= 0x80], "byte-level")
    assert high == [f"\\x{b:02x}" for b in range(0x80, 0x100)]


def test_same_piece_same_key_across_families() -> None:
    spelled = normalise(["Ġthe"], "byte-level") + normalise(["▁the"], "metaspace") + normalise(["the"], "wordpiece")
    assert len({token_key(s) for s in spelled}) == 1
    assert normalise(["the"], "byte-level") == normalise(["##the"], "wordpiece") == ["the"]
