"""`run_audit`: every signal about a candidate, and the policy's verdicts on them.

Signals: weight lineage (``fromscratch.lineage.api.audit``), tokenizer lineage,
configuration similarity, source-code reuse (``fromscratch.code.api.analyse``,
when a code directory is given) and the team's declaration. The result is the
``fromscratch.audit/1`` object (docs/schemas/audit.json) extended with ``tokenizer``,
``config``, ``code``, ``declared``, ``policy`` and ``verdicts``; with a
policy the top-level ``verdict`` becomes compliant / violation / needs-review
and the weight-lineage verdict moves to ``lineage_verdict``.

References are model locations, optionally labelled ``NAME=PATH`` (the label
is what reports, declarations and the BOM call the reference; default: the
file or folder name). Reference code trees are given separately
(``code_against``, also ``NAME=PATH``) because a model and its code base live
in different places.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fromscratch.errors import InputError
from fromscratch.policy.config import config_section
from fromscratch.policy.declared import Declared, load_declared
from fromscratch.policy.engine import evaluate, kind_of_component
from fromscratch.policy.schema import Policy, Thresholds, load_policy
from fromscratch.tokenizer.api import tokenizer_section

__all__ = ["Reference", "parse_reference", "run_audit", "apply_policy"]


@dataclass(frozen=True)
class Reference:
    label: str
    path: str


def parse_reference(spec: str | Path | tuple[str, str | Path] | Reference) -> Reference:
    """``PATH``, ``NAME=PATH`` or a (name, path) pair."""
    if isinstance(spec, Reference):
        return spec
    if isinstance(spec, tuple):
        return Reference(str(spec[0]), str(spec[1]))
    text = str(spec)
    if "=" in text and not Path(text).exists():
        name, _, path = text.partition("=")
        if not name or not path:
            raise InputError(text, "reference must be PATH or NAME=PATH")
        return Reference(name, path)
    return Reference(Path(text).name or text, text)


def _model_facts(location: str) -> tuple[dict[str, Any] | None, set[str]]:
    """Config and present policy kinds of a model, or (None, empty) when it cannot be opened."""
    from fromscratch.artifacts import open_model

    with open_model(location) as model:
        kinds = {kind_of_component(c.name) for c in model.components()}
        return model.config, kinds


def apply_policy(audit: dict[str, Any], policy: Policy | str | Path, declared: Declared | None = None,
                 present: set[str] | None = None) -> dict[str, Any]:
    """Add ``policy``/``verdicts`` and the policy verdict to an audit object (in place; returned)."""
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    overall, verdicts = evaluate(pol, audit, declared, present)
    if declared is not None:
        audit["declared"] = declared.model_dump(mode="json")
    if "lineage_verdict" not in audit:
        audit["lineage_verdict"] = audit.get("verdict")
    audit["policy"] = pol.model_dump(mode="json", by_alias=True)
    audit["verdicts"] = verdicts
    audit["verdict"] = overall
    return audit


def run_audit(candidate: str | Path, references: list, *, policy: Policy | str | Path | None = None,
              declared: Declared | str | Path | None = None, code: str | Path | None = None,
              code_against: list[str | Path] | None = None, seed: int = 0, progress: bool = False,
              weights: dict[str, Any] | None = None,
              reference_licences: dict[str, str] | None = None,
              chain: list[str | Path] | None = None,
              chain_init: list[str] | None = None) -> dict[str, Any]:
    """Audit ``candidate`` against ``references`` (see module doc).

    ``chain`` (checkpoint locations, CKPT_0 = the claimed initialisation, then
    training order) adds a ``chain`` section (``fromscratch.chain/1``, the
    candidate as the submission, the same references) and, with a policy, the
    chain rule of ``fromscratch.policy.chain``; ``chain_init`` declares the
    initialisation scheme (``KEY=VALUE`` options) where the config does not.

    ``weights`` may pass a precomputed lineage ``fromscratch.audit/1`` object
    for the same candidate and references (in the same order) instead of
    recomputing it. ``reference_licences`` (label -> SPDX id, e.g. from a
    reference registry) are recorded on each reference object as ``licence``.
    """
    refs = [parse_reference(r) for r in references]
    candidate = str(candidate)
    pol = None if policy is None else (policy if isinstance(policy, Policy) else load_policy(policy))
    decl = declared if isinstance(declared, Declared) or declared is None else load_declared(declared)
    if weights is None:
        from fromscratch.lineage.api import audit as lineage_audit

        weights = lineage_audit(candidate, [r.path for r in refs], seed=seed, progress=progress)
    audit = dict(weights)
    audit.setdefault("schema", "fromscratch.audit/1")
    ref_objs = list(audit.get("references") or [])
    if len(ref_objs) != len(refs):
        raise InputError(None, f"weight lineage has {len(ref_objs)} reference results for {len(refs)} references")
    licences = reference_licences or {}
    audit["references"] = [dict(obj, label=r.label, licence=licences.get(r.label)) for obj, r in zip(ref_objs, refs)]
    audit["reference_licences"] = dict(sorted(licences.items()))  # code references included
    thresholds = pol.thresholds if pol else Thresholds()
    audit["tokenizer"] = tokenizer_section(candidate, [(r.label, r.path) for r in refs], alpha=thresholds.alpha,
                                           null_agreement=thresholds.tokenizer_null_agreement,
                                           null_successor=thresholds.tokenizer_null_successor)
    cand_config, present = _model_facts(candidate)
    ref_configs = [(r.label, _model_facts(r.path)[0]) for r in refs]
    audit["config"] = config_section(cand_config, ref_configs)
    if code is not None:
        from fromscratch.code.api import analyse

        audit["code"] = analyse(Path(code), [str(c) for c in (code_against or [])])
    else:
        audit["code"] = None
    audit["declared"] = None if decl is None else decl.model_dump(mode="json")
    if audit["tokenizer"].get("candidate") is not None:
        present.add("tokenizer")
    if code is not None:
        present.add("inference-code")
    if pol is not None:
        apply_policy(audit, pol, decl, present)
    else:
        audit["policy"] = None
        audit["verdicts"] = None
    if chain:
        from fromscratch.chain.api import expand_checkpoints, verify_chain
        from fromscratch.policy.chain import apply_chain

        obj = verify_chain(expand_checkpoints([str(c) for c in chain]), model=candidate,
                           references=[(r.label, r.path) for r in refs], init_options=chain_init, seed=seed)
        apply_chain(audit, obj)
    audit["seed"] = seed
    return audit
