"""The closed vocabularies of the JSON outputs: relations, verdicts, kinds.

Each alias is the one definition of its strings; modules that test or emit them
import the alias (or the tuple ``values(alias)`` gives) instead of repeating them.
"""

from __future__ import annotations

from typing import Literal, get_args

#: weight lineage of one component or one model pair
Relation = Literal["identical", "derived", "independent", "inconclusive"]
#: how an identical/derived component is related to its reference
Basis = Literal["descendant", "common-ancestor", "unknown"]
#: the kind of a canonical weight component; the tower is the name's prefix
ComponentKind = Literal["embedding", "lm_head", "attention", "mlp", "experts", "router", "norm", "projector",
                        "other"]
#: the row correspondence that aligned two residual streams
AlignmentRows = Literal["tokens", "ids", "positions", "none"]
#: tokenizer lineage of a candidate against a reference
TokenizerVerdict = Literal["identical", "extended", "pruned", "derived", "independent", "inconclusive"]
#: source-code reuse of one file
CodeRelation = Literal["copied", "adapted", "independent"]
#: how a matched span of code was changed
MatchKind = Literal["verbatim", "renamed", "restructured"]
#: a policy verdict on one component, or on the whole submission (the worst one)
PolicyVerdict = Literal["compliant", "needs-review", "violation"]  # in order of severity
#: robustness of an elimination decision
RobustnessClass = Literal["robust", "fragile"]
#: checkpoint-chain verdict and the check a failure belongs to
ChainVerdict = Literal["valid", "invalid", "inconclusive"]
ChainCheck = Literal["init", "continuity", "submission", "reference"]
#: ledger entry kinds, in lifecycle order (open < submission < results)
LedgerKind = Literal["open", "commit", "submission", "reveal", "run", "protocol", "input", "output", "head"]

WEIGHT_REUSE: tuple[Relation, ...] = ("identical", "derived")
TOKENIZER_REUSE: tuple[TokenizerVerdict, ...] = ("identical", "extended", "pruned", "derived")
CODE_REUSE: tuple[CodeRelation, ...] = ("copied", "adapted")


def values(alias: object) -> tuple[str, ...]:
    """The strings of a Literal alias, in declaration order."""
    return tuple(get_args(alias))
