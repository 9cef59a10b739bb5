"""Tokenizers trained here, on samples from one synthetic language.

Two tokenizers trained on different samples of the same distribution are the
hard negative case (similar data, shared frequent pieces); derived variants are
made from one of them by the operations a team would use.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import tokenizers as tk

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["ch", "sh", "th", "ng", "qu"]


def language(seed: int, lines: int = 1500) -> str:
    """Zipf-distributed words over a fixed lexicon; the sample depends on the seed."""
    lex_rng = random.Random(1234)  # the language itself is fixed
    lexicon = ["".join(lex_rng.choice(SYLLABLES) for _ in range(lex_rng.randint(1, 4))) for _ in range(3000)]
    weights = [1.0 / (rank + 1) for rank in range(len(lexicon))]
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = rng.choices(lexicon, weights=weights, k=rng.randint(5, 14))
        out.append(" ".join(words) + rng.choice([".", ",", "!", "?", ""]))
    return "\n".join(out)


def train_bpe(seed: int, vocab_size: int = 900):
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>"],
                                     initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
                                     show_progress=False)
    tok.train_from_iterator(language(seed).splitlines(), trainer=trainer)
    return tok


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(obj: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path
