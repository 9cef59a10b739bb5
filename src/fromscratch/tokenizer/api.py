"""Public entry points of tokenizer lineage, used by the audit.

`compare_tokenizers(a, b)` compares the tokenizers of two locations (model
locations or tokenizer files); `tokenizer_section(candidate, references)`
builds the audit's ``tokenizer`` section: the candidate's tokenizer and one
comparison per reference, with the strongest relation found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.errors import InputError
from fromscratch.schemas.literals import TOKENIZER_REUSE
from fromscratch.tokenizer.compare import ALPHA, NULL_AGREEMENT, NULL_SUCCESSOR, compare_vocabularies
from fromscratch.tokenizer.readers import load_tokenizer
from fromscratch.tokenizer.vocab import Vocabulary

#: relations that mean the candidate's tokenizer was made from the reference's
REUSE = TOKENIZER_REUSE
_STRENGTH = {"identical": 5, "extended": 4, "pruned": 4, "derived": 3, "independent": 1,
             "inconclusive": 0, "unavailable": -1}

__all__ = ["REUSE", "compare_tokenizers", "load_tokenizer", "tokenizer_section"]


def compare_tokenizers(candidate: str | Path | Vocabulary, reference: str | Path | Vocabulary, *,
                       alpha: float = ALPHA, null_agreement: float = NULL_AGREEMENT,
                       null_successor: float = NULL_SUCCESSOR) -> dict[str, Any]:
    """Compare two tokenizers given as locations or already-read vocabularies."""
    cand = candidate if isinstance(candidate, Vocabulary) else load_tokenizer(candidate)
    ref = reference if isinstance(reference, Vocabulary) else load_tokenizer(reference)
    return compare_vocabularies(cand, ref, alpha=alpha, null_agreement=null_agreement,
                                null_successor=null_successor)


def _try_load(location: str | Path) -> tuple[Vocabulary | None, str | None]:
    try:
        return load_tokenizer(location), None
    except InputError as exc:
        return None, exc.problem


def tokenizer_section(candidate: str | Path, references: list[tuple[str, str | Path]], *,
                      alpha: float = ALPHA, null_agreement: float = NULL_AGREEMENT,
                      null_successor: float = NULL_SUCCESSOR) -> dict[str, Any]:
    """The audit's ``tokenizer`` section.

    ``references`` are ``(label, location)`` pairs. A reference without a
    readable tokenizer gets relation ``unavailable`` with the reason; a
    candidate without one gives a section with ``candidate: null``.
    """
    cand, why = _try_load(candidate)
    section: dict[str, Any] = {
        "method": "neighbour-order agreement and successor rate of shared learned tokens and BPE "
                  "merges, equal Unigram scores (binomial bounds, calibrated nulls); see docs/tokenizer.md",
        "candidate": None if cand is None else cand.summary(),
        "problem": why,
        "references": [],
        "relation": "unavailable" if cand is None else "independent",
        "origin": None,
        "p_value": None,
    }
    if cand is None:
        return section
    best: tuple[int, float] = (-2, 2.0)
    for label, location in references:
        ref, ref_why = _try_load(location)
        if ref is None:
            entry: dict[str, Any] = {"reference": label, "path": str(location), "verdict": "unavailable",
                                     "p_value": None, "problem": ref_why}
        else:
            result = compare_vocabularies(cand, ref, alpha=alpha, null_agreement=null_agreement,
                                          null_successor=null_successor)
            result.pop("candidate", None)  # the same for every reference; stated once above
            entry = {"reference": label, "path": str(location),
                     "reference_tokenizer": result.pop("reference"), **result}
        section["references"].append(entry)
        key = (_STRENGTH.get(entry["verdict"], 0), -(entry["p_value"] if entry["p_value"] is not None else 2.0))
        if key > (best[0], -best[1]):
            best = (key[0], -key[1])
            section["relation"] = entry["verdict"]
            section["origin"] = label if entry["verdict"] in REUSE else None
            section["p_value"] = entry["p_value"]
    if not references:
        section["relation"] = "inconclusive"
    return section
