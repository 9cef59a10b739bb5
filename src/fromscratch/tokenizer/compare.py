"""Tokenizer lineage: is the candidate's tokenizer a copy, an extension, a
pruning or some other derivative of the reference's, or independent of it?

Why vocabulary overlap alone cannot decide: two tokenizers trained
independently on similar text share most of their short tokens (" the",
"ing", " and" ...) and even many long ones. What training does *not*
reproduce is the fine-grained order in which tokens were created: a BPE's ids
follow its merge order and a Unigram's follow its scores, and the order of two
tokens of nearly equal frequency is a coin flip between independent runs. A
copied, extended or pruned tokenizer keeps that order exactly.

The test therefore looks at neighbours. Sort the shared learned tokens by
candidate id; for each consecutive pair ask whether the reference orders them
the same way. Independent tokenizers agree on a fraction ``q`` a little above
one half (shared frequency trends); derived ones agree on nearly every pair.
Under the null, agreements ``K`` among ``m`` neighbour pairs are bounded by a
Binomial(m, q0) with ``q0`` a calibrated upper bound of ``q`` over independent
tokenizer pairs (see docs/tokenizer.md). Adjacent comparisons of a random
order are negatively dependent (variance (m+1)/12 rather than m/4), so the
binomial tail is conservative. The same test runs on BPE merge lists.

Special tokens, placeholders and the base alphabet (single characters or
bytes) are excluded: they exist, often in a fixed order, in every tokenizer of
their kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from scipy import stats

from fromscratch.tokenizer.normalize import canonical_merges, canonical_vocab
from fromscratch.tokenizer.vocab import Vocabulary

#: Upper bound of the neighbour-order agreement (share of ascending neighbour pairs) between
#: independent tokenizers. Measured (docs/tokenizer.md): 0.497-0.504 over 72 real pairs,
#: 0.52-0.56 for BPEs trained on samples of one synthetic language, 0.60-0.63 for the zoo's
#: two small (1k-1.5k) BPEs trained on one corpus: small vocabularies on the same text
#: reproduce more of their order, so the bound keeps a wide margin.
NULL_AGREEMENT = 0.75
#: Upper bound of the successor rate (share of neighbour pairs that are also immediate
#: neighbours among the shared items in the reference). Measured: at most 0.0003 (real
#: pairs), 0.07 (synthetic language), 0.18 (zoo); derived tokenizers: 1.0.
NULL_SUCCESSOR = 0.5
#: Fewer shared learned tokens than this and the order test has too little power.
MIN_SHARED = 50
ALPHA = 1e-3
#: Upper bound of the share of shared Unigram pieces with exactly equal scores between
#: independent tokenizers (measured at most 0.0002 over real pairs).
NULL_EQUAL_SCORES = 0.01
#: containment needed to call a relation extension / pruning rather than "derived"
CONTAINMENT = 0.98


@dataclass
class OrderTest:
    """Neighbour-order statistics of shared items with binomial p-values.

    ``agreements``: neighbour pairs (in candidate order) that the reference
    orders the same way; ``successors``: pairs that are also immediate
    neighbours among the shared items in the reference. ``p_value`` is the
    smaller of the two binomial tails, doubled (Bonferroni).
    """

    shared: int
    pairs: int
    agreements: int
    successors: int
    p_agreement: float
    p_successor: float

    @property
    def p_value(self) -> float:
        return min(1.0, 2 * min(self.p_agreement, self.p_successor))

    @property
    def agreement(self) -> float | None:
        return self.agreements / self.pairs if self.pairs else None

    @property
    def successor_rate(self) -> float | None:
        return self.successors / self.pairs if self.pairs else None

    def as_dict(self) -> dict[str, Any]:
        return {"shared": self.shared, "pairs": self.pairs, "agreements": self.agreements,
                "agreement": self.agreement, "p_agreement": self.p_agreement,
                "successors": self.successors, "successor_rate": self.successor_rate,
                "p_successor": self.p_successor, "p_value": self.p_value}


def _tail(k: int, n: int, q: float) -> float:
    return min(1.0, float(stats.binom.sf(k - 1, n, q))) if n else 1.0


def order_test(cand_rank: dict, ref_rank: dict, null: float = NULL_AGREEMENT,
               null_successor: float = NULL_SUCCESSOR) -> OrderTest:
    """Do the reference's ranks keep the candidate's order between neighbours?"""
    shared = [k for k in cand_rank if k in ref_rank]
    shared.sort(key=cand_rank.__getitem__)
    by_ref = {k: i for i, k in enumerate(sorted(shared, key=ref_rank.__getitem__))}
    ranks = [by_ref[k] for k in shared]
    pairs = max(0, len(ranks) - 1)
    agreements = sum(1 for a, b in zip(ranks, ranks[1:]) if b > a)
    successors = sum(1 for a, b in zip(ranks, ranks[1:]) if b == a + 1)
    return OrderTest(shared=len(shared), pairs=pairs, agreements=agreements, successors=successors,
                     p_agreement=_tail(agreements, pairs, null),
                     p_successor=_tail(successors, pairs, null_successor))


def _weight(text: str) -> int:
    return len(text[1:] if text.startswith(" ") else text)


def _merges_evidence(cm: list, rm: list, null_agreement: float, null_successor: float):
    """Order test of the shared merges and the length of the common merge prefix."""
    c_rank: dict[tuple[str, str], int] = {}
    for i, m in enumerate(cm):
        c_rank.setdefault(m, i)
    r_rank: dict[tuple[str, str], int] = {}
    for i, m in enumerate(rm):
        r_rank.setdefault(m, i)
    test = order_test(c_rank, r_rank, null_agreement, null_successor)
    prefix = 0
    for a, b in zip(cm, rm):
        if a != b:
            break
        prefix += 1
    info = {
        "candidate": len(cm), "reference": len(rm),
        "shared_fraction_of_candidate": test.shared / len(cm) if cm else None,
        "shared_fraction_of_reference": test.shared / len(rm) if rm else None,
        "common_prefix": prefix,
        "order": test.as_dict(),
    }
    return test, info


def _scores_evidence(candidate: Vocabulary, reference: Vocabulary, shared: list[str],
                     c_learned: dict[str, int], r_learned: dict[str, int]):
    """Equal Unigram log-probabilities among the shared pieces: (tested, p) and the JSON part."""
    # only distinctive values: a constant filler score (0, -1e9 ...) says nothing
    counts = Counter(candidate.scores)
    scored = [t for t in shared if candidate.scores[c_learned[t]] != 0.0
              and counts[candidate.scores[c_learned[t]]] <= 2]
    equal = sum(1 for t in scored
                if abs(candidate.scores[c_learned[t]] - reference.scores[r_learned[t]]) <= 1e-6)
    # Unigram log-probabilities are floats fitted by EM: independent training never reproduces
    # them (measured: at most 0.02 % equal), while pruning and re-sorting keep them.
    p_scores = float(stats.binom.sf(equal - 1, len(scored), NULL_EQUAL_SCORES)) if scored else 1.0
    test = (len(scored), min(1.0, p_scores))
    info = {"shared": len(scored), "equal": equal,
            "equal_fraction": equal / len(scored) if scored else None, "p_value": test[1]}
    return test, info


def _verdict(identical: bool, tested: bool, p_value: float, alpha: float, n_c: int, n_r: int,
             contains_ref: float, contained_in_ref: float) -> str:
    """The verdict rule, a pure function of the evidence (see `compare_vocabularies`)."""
    if identical:
        return "identical"
    if not tested:
        return "inconclusive"
    if p_value > alpha:
        return "independent"
    if contains_ref >= CONTAINMENT and n_c > n_r:
        return "extended"
    if contained_in_ref >= CONTAINMENT and n_c < n_r:
        return "pruned"
    return "derived"


def compare_vocabularies(candidate: Vocabulary, reference: Vocabulary, *, alpha: float = ALPHA,
                         null_agreement: float = NULL_AGREEMENT,
                         null_successor: float = NULL_SUCCESSOR) -> dict[str, Any]:
    """Compare two tokenizers; returns the JSON-ready evidence and a verdict.

    Verdicts: ``identical`` (same tokens with the same ids and the same merges),
    ``extended`` (derived and the candidate contains the reference's
    vocabulary plus more), ``pruned`` (derived and the candidate is a subset),
    ``derived`` (order evidence of shared origin otherwise), ``independent``
    (the order test had material and found nothing), ``inconclusive`` (too few
    shared tokens to test).
    """
    cv, rv = canonical_vocab(candidate), canonical_vocab(reference)
    c_learned = {cv.texts[i]: i for i in cv.learned}
    r_learned = {rv.texts[i]: i for i in rv.learned}
    shared = [t for t in c_learned if t in r_learned]
    n_c, n_r, n_s = len(c_learned), len(r_learned), len(shared)
    w_c = sum(_weight(t) for t in c_learned) or 1
    w_s = sum(_weight(t) for t in shared)
    long_c = [t for t in c_learned if _weight(t) >= 8]
    long_s = sum(1 for t in long_c if t in r_learned)
    same_id = sum(1 for t in shared if c_learned[t] == r_learned[t])

    tokens_test = order_test(c_learned, r_learned, null_agreement, null_successor)
    merges_test, merges_info = None, None
    cm, rm = canonical_merges(candidate), canonical_merges(reference)
    if cm and rm:
        merges_test, merges_info = _merges_evidence(cm, rm, null_agreement, null_successor)
    scores_test, scores_info = None, None
    if candidate.scores is not None and reference.scores is not None and shared:
        scores_test, scores_info = _scores_evidence(candidate, reference, shared, c_learned, r_learned)

    tests = [(t.pairs, t.p_value) for t in (tokens_test, merges_test) if t is not None]
    if scores_test is not None:
        tests.append(scores_test)
    tests = [t for t in tests if t[0] >= MIN_SHARED]
    p_value = min(1.0, min(p for _, p in tests) * len(tests)) if tests else 1.0

    identical = (candidate.size == reference.size and cv.texts == rv.texts
                 and cm == rm)
    contains_ref = n_s / n_r if n_r else 0.0
    contained_in_ref = n_s / n_c if n_c else 0.0
    verdict = _verdict(identical, bool(tests), p_value, alpha, n_c, n_r, contains_ref, contained_in_ref)

    c_special, r_special = set(candidate.special_strings()), set(reference.special_strings())
    return {
        "verdict": verdict,
        "p_value": p_value,
        "candidate": candidate.summary(),
        "reference": reference.summary(),
        "vocabulary": {
            "candidate_learned": n_c, "reference_learned": n_r, "shared": n_s,
            "jaccard": n_s / (n_c + n_r - n_s) if (n_c + n_r - n_s) else None,
            "shared_fraction_of_candidate": contained_in_ref,
            "shared_fraction_of_reference": contains_ref,
            "length_weighted_shared_fraction_of_candidate": w_s / w_c,
            "long_tokens_shared_fraction_of_candidate": long_s / len(long_c) if long_c else None,
            "same_id_fraction": same_id / n_s if n_s else None,
            "order": tokens_test.as_dict(),
        },
        "merges": merges_info,
        "scores": scores_info,
        "special_tokens": {
            "shared": sorted(c_special & r_special)[:64],
            "candidate_only": sorted(c_special - r_special)[:64],
            "reference_only": sorted(r_special - c_special)[:64],
        },
        "normalizer_equal": candidate.normalizer == reference.normalizer,
        "pre_tokenizer_equal": candidate.pre_tokenizer == reference.pre_tokenizer,
        "null_agreement": null_agreement,
        "null_successor": null_successor,
        "alpha": alpha,
    }
