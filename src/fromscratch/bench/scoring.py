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
    """(score, predicted index). Ties go to the lowest index (deterministic), as numpy's argmax.

    ``acc_norm`` divides by the choice's length in characters, as lm-evaluation-harness
    does; ``acc_bytes`` by its UTF-8 bytes (fairer across scripts: a Hangul syllable is
    one character but three bytes, so character normalisation favours Korean choices
    differently from Latin ones)."""
    if task.metric == "acc_norm":
        values = [ll / max(1, len(c)) for ll, c in zip(logliks, item.choices)]
    elif task.metric == "acc_bytes":
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


def anls(prediction: str, answers: list[str], threshold: float = 0.5) -> float:
    """Average normalised Levenshtein similarity (DocVQA): the best over the accepted
    answers of 1 - distance / max length, 0 below ``threshold``; case and outer
    whitespace ignored."""
    best = 0.0
    a = " ".join(prediction.strip().lower().split())
    for ans in answers:
        b = " ".join(str(ans).strip().lower().split())
        n = max(len(a), len(b))
        sim = 1.0 if n == 0 else 1.0 - _levenshtein(a, b) / n
        best = max(best, sim if sim >= threshold else 0.0)
    return best


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score_generation(task: Task, item: Item, response: str) -> tuple[float, str]:
    """(score, extracted answer)."""
    answer = extract(task, response)
    if task.metric == "anls":
        return anls(answer, [item.target, *item.alternatives]), answer
    if task.metric == "numeric_match":
        got, want = parse_number(answer), parse_number(item.target)
        if got is None or want is None:
            return 0.0, answer
        ok = math.isclose(got, want, rel_tol=task.numeric_tolerance, abs_tol=task.numeric_tolerance)
        return (1.0 if ok else 0.0), answer
    ok = any(normalise(answer) == normalise(t) for t in (item.target, *item.alternatives))
    return (1.0 if ok else 0.0), answer
