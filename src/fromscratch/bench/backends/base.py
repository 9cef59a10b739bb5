"""The backend interface shared by the in-process and HTTP backends."""

from __future__ import annotations

from typing import Any, Protocol

from fromscratch.errors import InputError


class BackendError(InputError):
    """The model server failed or answered something unusable (after retries)."""


class Backend(Protocol):
    #: how many requests the runner may have in flight at once
    concurrency: int

    def describe(self) -> dict[str, Any]:
        """Identity of the model and backend, recorded with every result (and part
        of the resumption key, so a changed model never reuses old items)."""

    def loglikelihood(self, context: str, continuations: list[str]) -> list[tuple[float, bool]]:
        """For each continuation: (sum of its token log-probabilities given the
        context, whether greedy decoding would have produced it)."""

    def generate(self, prompt: str, until: list[str], max_tokens: int) -> str:
        """Greedy continuation of the prompt, cut at the first stop string."""


__all__ = ["Backend", "BackendError"]
