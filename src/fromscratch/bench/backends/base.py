"""The backend interface shared by the in-process and HTTP backends, and the
text rules both apply to what a model returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fromscratch.errors import InputError


class BackendError(InputError):
    """The model server failed or answered something unusable (after retries)."""


@dataclass(frozen=True)
class Generation:
    """A generated answer; ``cut`` when the length limit, not a stop string or
    the end-of-sequence token, ended it (the item log says so)."""

    text: str
    cut: bool = False


class Backend(Protocol):
    #: how many requests the runner may have in flight at once
    concurrency: int

    def describe(self) -> dict[str, Any]:
        """Identity of the model and backend, recorded with every result (and part
        of the resumption key, so a changed model never reuses old items)."""

    def loglikelihood(self, context: str, continuations: list[str]) -> list[tuple[float, bool]]:
        """For each continuation: (sum of its token log-probabilities given the
        context, whether greedy decoding would have produced it)."""

    def generate(self, prompt: str, until: list[str], max_tokens: int) -> Generation:
        """Greedy continuation of the prompt, cut at the first stop string."""


def cut_at_stop(text: str, until: list[str]) -> str:
    """The text up to the earliest stop string (lm-eval splits at each in turn: same result)."""
    cut = len(text)
    for u in until:
        if u:
            i = text.find(u)
            if i >= 0:
                cut = min(cut, i)
    return text[:cut]


def continuation_score(starts: list[int], logprobs: list[float | None], greedy: list[bool | None],
                       text_chars: int, context_chars: int) -> tuple[float, bool]:
    """Sum the log-probabilities of the continuation's tokens by character offsets.

    A token belongs to the continuation when it starts inside it, or starts in
    the context but runs past its end (the next token's start, or the text's
    end, lies beyond the context). Only starts are used, because that is all an
    OpenAI answer reports (``text_offset``).
    """
    total, is_greedy, n = 0.0, True, 0
    for i, s in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else text_chars
        if s >= context_chars or nxt > context_chars:
            lp = logprobs[i]
            if lp is None:
                continue
            total += lp
            n += 1
            is_greedy = is_greedy and bool(greedy[i])
    if n == 0:
        raise InputError("continuation", "the continuation produced no scorable tokens")
    return total, is_greedy


__all__ = ["Backend", "BackendError", "Generation", "continuation_score", "cut_at_stop"]
