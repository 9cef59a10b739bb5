"""Byte-level BPE tokenizers for the zoo, trained with the ``tokenizers`` library.

Three tokenizers: ``A`` (the shared one of the seed siblings and every derived
variant), ``B`` (trained independently on a differently seeded sample with a
different vocabulary size, for the independent different-tokenizer model) and
``A+ext`` (A with new whole-word tokens appended, for vocabulary extension).
"""

from __future__ import annotations

import json
from pathlib import Path

from fromscratch.errors import require

SPECIALS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|mask|>"]
PAD, BOS, EOS, MASK = range(4)

#: whole words appended to tokenizer A for the vocabulary-extension variant.
EXTENSION_WORDS = [
    "lighthouse", "orchestra", "fishermen", "bakery", "conductor", "notebook", "harbour",
    "등대지기", "오케스트라", "제빵사", "지휘자", "바이올린", "도서관", "박물관", "나침반",
    "Question:", "Answer:", "Instruction:", "Response:", "질문:", "답변:", "지시:", "응답:",
    "squirrel", "umbrella", "blanket", "festival", "morning", "waited", "walked", "picture",
    "다람쥐", "주전자", "자전거", "부엉이", "거북이", "강아지", "고양이", "까마귀",
]


def train_bpe(text: str, vocab_size: int):
    """Train a byte-level BPE (GPT-2 style pre-tokenisation) on ``text``."""
    tk = require("tokenizers", "demo")
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator(text.splitlines(), trainer=trainer)
    return tok


def extend(tok, words: list[str]):
    """Append ``words`` as new tokens (ids after the original vocabulary)."""
    tk = require("tokenizers", "demo")
    ext = tk.Tokenizer.from_str(tok.to_str())
    vocab = ext.get_vocab()
    ext.add_tokens([w for w in words if w not in vocab])
    return ext


def save(tok, out: Path, model_max_length: int = 256) -> None:
    """tokenizer.json plus a tokenizer_config.json naming the special tokens."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(tok.to_str(pretty=True), encoding="utf-8")
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model_max_length,
           "bos_token": SPECIALS[BOS], "eos_token": SPECIALS[EOS], "pad_token": SPECIALS[PAD],
           "mask_token": SPECIALS[MASK], "add_bos_token": True, "clean_up_tokenization_spaces": False}
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n",
                                               encoding="utf-8")


def encode_lines(tok, text: str) -> list[int]:
    """One long id stream: BOS + line + EOS for every line."""
    ids: list[int] = []
    for enc in tok.encode_batch(text.splitlines()):
        ids.append(BOS)
        ids.extend(enc.ids)
        ids.append(EOS)
    return ids
