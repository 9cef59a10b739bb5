"""Origins as a minimal explaining set (greedy set cover over the candidate's informative code).

WHY: a corpus such as transformers or vLLM holds families of near-identical files
(llama / mistral / qwen2 / olmo … share most of their code), so a copy of one of
them scores high against the whole family. Listing every reference that passes
the copy rules names twenty "origins" for one copied file; the reader cannot tell
which was copied, and attribution would demand every sibling's notices.

Rule. Each candidate unit u (function, method, class body, module remainder) has
an informative mass m(u) and, for every eligible reference r, an explanation
e(u, r) in [0, 1]: its best unit score inside r. The first origin is given (the
best-ranked eligible reference, or a confirmed declared origin), and so is a
reference that the interface rule names when it is not the first (a port's
declaration names the code it was written from, its interface the checkpoints it
loads; its code share cannot show the second). Covered so far:
c(u) = max over chosen origins of e(u, o). A further reference joins when its
marginal share

    gain(r) = sum_u m(u) * max(0, e(u, r) - c(u)) / sum_u m(u)

is at least T_JOIN; the best gain joins first, and the loop stops when no gain
reaches T_JOIN. A sibling that explains the same lines as the first origin adds
(nearly) nothing and does not join; a file that merges two sources (half from A,
half from B) has a gain near one half for the second and lists both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A further origin must explain at least a fifth of the file's informative code that the earlier ones
# do not. Measured (docs/code.md): disguised single-source copies have second-best gains far below it,
# a file merged from two sources gives the second about a half; a fifth also means that one copied helper
# class in a long model file does not make its home file a co-origin, while a file built from two
# substantial parts keeps both.
T_JOIN = 0.20


@dataclass
class Chosen:
    """One origin of the minimal set: its position among the candidates, marginal and own share."""

    pos: int
    gain: float   # share of the candidate's informative mass it explains beyond the origins before it
    share: float  # share it explains on its own (mass-weighted mean of e(u, r))


def minimal_set(forced: list[int], explains: list[np.ndarray], mass: np.ndarray) -> tuple[list[Chosen], dict[int, float]]:
    """Greedy cover: the `forced` origins always, in their order (the first origin, and a reference that
    another kind of evidence names); others while their marginal share reaches T_JOIN.

    Returns the chosen origins and, for every candidate left out, the marginal share it would
    still have added (so a reader sees that a sibling explains nothing new)."""
    total = float(mass.sum())
    if total <= 0:
        return [Chosen(f, 0.0, 0.0) for f in forced], {i: 0.0 for i in range(len(explains)) if i not in forced}
    share = [float(mass @ e) / total for e in explains]
    chosen: list[Chosen] = []
    covered = np.zeros_like(explains[forced[0]])
    for f in forced:
        chosen.append(Chosen(f, float(mass @ np.maximum(explains[f] - covered, 0.0)) / total, share[f]))
        covered = np.maximum(covered, explains[f])

    def gains() -> dict[int, float]:
        return {i: float(mass @ np.maximum(explains[i] - covered, 0.0)) / total
                for i in range(len(explains)) if all(c.pos != i for c in chosen)}

    left = gains()
    while left:
        i = max(left, key=lambda j: (left[j], -j))  # the largest gain; the better-ranked on ties
        if left[i] < T_JOIN:
            break
        chosen.append(Chosen(i, left[i], share[i]))
        covered = np.maximum(covered, explains[i])
        left = gains()
    return chosen, left


def assign_units(chosen: list[Chosen], explains: list[np.ndarray], floors: list[float]) -> list[np.ndarray]:
    """For each chosen origin, the candidate units it explains best among the chosen (earlier wins ties),
    at or above its floor (the match floor of its relation)."""
    if not chosen:
        return []
    stack = np.vstack([explains[c.pos] for c in chosen])
    owner = np.argmax(stack, axis=0)  # first maximum = earliest chosen
    return [np.flatnonzero((owner == k) & (stack[k] >= floors[k])) for k in range(len(chosen))]


def merge_spans(spans: list[tuple[int, int]]) -> list[list[int]]:
    """Line spans merged where they touch or overlap, sorted."""
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out
