"""Turning a model's answer to one item into a score in [0, 1].

Multiple choice: the choice with the highest log-likelihood wins (``acc``), or
the highest log-likelihood per byte of the choice (``acc_norm``, lm-eval's
length normalisation, fairer when choices differ in length). Generation:
optional regex extraction (first capture group, else whole match), then exact
match after `normalise` or numeric match after `parse_number`.
"""

from __future__ import annotations

import math
import re

from fromscratch.bench.normalize import normalise, parse_number
from fromscratch.bench.tasks import Item, Task


def score_choices(task: Task, item: Item, logliks: list[float]) -> tuple[float, int]:
    """(score, predicted index). Ties go to the lowest index (deterministic)."""
    if task.metric == "acc_norm":
        values = [ll / max(1, len(c.encode("utf-8"))) for ll, c in zip(logliks, item.choices)]
    else:
        values = list(logliks)
    best = max(range(len(values)), key=lambda i: (values[i], -i))
    return (1.0 if best == item.gold_index else 0.0), best


def extract(task: Task, response: str) -> str:
    """Apply the task's regex filter (take_first); unchanged text if none or no match."""
    if not task.regex:
        return response
    m = re.search(task.regex, response)
    if m is None:
        return response
    groups = [g for g in m.groups() if g is not None]
    return groups[0] if groups else m.group(0)


def score_generation(task: Task, item: Item, response: str) -> tuple[float, str]:
    """(score, extracted answer)."""
    answer = extract(task, response)
    if task.metric == "numeric_match":
        got, want = parse_number(answer), parse_number(item.target)
        if got is None or want is None:
            return 0.0, answer
        ok = math.isclose(got, want, rel_tol=task.numeric_tolerance, abs_tol=task.numeric_tolerance)
        return (1.0 if ok else 0.0), answer
    return (1.0 if normalise(answer) == normalise(item.target) else 0.0), answer
