"""Separating a reasoning model's thinking from its answer before scoring.

Reasoning models write their deliberation between markers (``<think>`` …
``</think>`` for Qwen3, DeepSeek-R1 and SmolLM3; others are configurable per
task). The answer is what remains outside every span; it is what the task's
regex and matching see. The item log keeps the raw response and the reasoning
as well, so a team can contest the extraction.

Cases: a complete span is removed; an end marker without a start (the chat
template opened the span in the prompt) makes everything before it reasoning;
a start without an end (the length limit cut the model while thinking) makes
everything after it reasoning and leaves an empty answer, flagged
``unfinished`` — the item scores as wrong, not as whatever the thinking said.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SPANS: tuple[tuple[str, str], ...] = (("<think>", "</think>"),)


@dataclass(frozen=True)
class Split:
    answer: str
    reasoning: str
    unfinished: bool


def split_reasoning(text: str, spans: tuple[tuple[str, str], ...] = DEFAULT_SPANS) -> Split:
    answer, thoughts, unfinished = text, [], False
    for start, end in spans:
        if not start or not end:
            continue
        head, sep, tail = answer.partition(end)
        if sep and start not in head:  # the span was opened by the prompt
            thoughts.append(head)
            answer = tail
        out = []
        rest = answer
        while True:
            i = rest.find(start)
            if i < 0:
                out.append(rest)
                break
            out.append(rest[:i])
            j = rest.find(end, i + len(start))
            if j < 0:
                thoughts.append(rest[i + len(start):])
                unfinished = True
                break
            thoughts.append(rest[i + len(start):j])
            rest = rest[j + len(end):]
        answer = "".join(out)
    return Split(answer.strip() if thoughts else answer, "\n".join(t.strip() for t in thoughts), unfinished)
