"""The verdict engine: evidence + declaration + policy -> one verdict per component kind.

Evidence arrives as the audit's sections (weights: the lineage ``references``
compare objects; ``tokenizer``; ``code``; ``config``). Each is reduced to
*findings*: "component kind K of the candidate was made from reference R, with
p-value p, shown at JSON pointer X". The rule for K then decides:

=====================  =====================  ======================  ==================
requirement            reuse found/declared,  reuse declared           nothing found,
                       not declared                                    nothing declared
=====================  =====================  ======================  ==================
must-be-independent    violation              violation                compliant
review-if-declared     violation              needs-review             compliant
allowed-if-declared    violation              compliant                compliant
...-licence-compatible violation              compliant if licence ok  compliant
allowed                compliant              compliant                compliant
=====================  =====================  ======================  ==================

Undeclared reuse (including reuse that contradicts a "trained from scratch"
declaration) is always the worst finding. A declaration naming a different
origin than the one found is flagged for review. Configuration matches are
attached as supporting evidence and never change a verdict. Every verdict lists
the JSON pointers of the evidence that produced it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fromscratch.artifacts.base import tower_of
from fromscratch.schemas.literals import CODE_REUSE, TOKENIZER_REUSE, WEIGHT_REUSE, PolicyVerdict, values
from fromscratch.policy.declared import Declared, DeclaredComponent
from fromscratch.policy.schema import POLICY_KINDS, Policy

#: verdicts from best to worst (the overall verdict is the worst component's)
SEVERITY: dict[PolicyVerdict, int] = {v: i for i, v in enumerate(values(PolicyVerdict))}
MAX_ITEMS = 64


def kind_of_component(name: str) -> str:
    """Policy kind of a canonical weight component name."""
    tower = tower_of(name)
    if tower != "text":
        return f"{tower}-encoder"
    if name.startswith("projector"):
        return "projector"
    if name in ("embed_tokens", "embed_positions", "lm_head") or name.startswith("embed_"):
        return "embeddings"
    return "backbone"


@dataclass
class Finding:
    """Evidence that one kind was (or was tested for being) made from one reference."""

    kind: str
    source: str          # weights | tokenizer | code | config | declared
    reference: str | None
    reused: bool
    p_value: float | None
    pointer: str
    summary: str
    items: list[dict[str, Any]] = field(default_factory=list)
    inconclusive: bool = False
    frozen: int = 0        # reused (non-norm) components frozen: equal to the origin up to storage precision
    trained: int = 0       # reused (non-norm) components derived and further trained

    def as_evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "pointer": self.pointer, "reference": self.reference,
                               "reuse": self.reused, "p_value": self.p_value, "summary": self.summary}
        if self.items:
            out["items"] = self.items[:MAX_ITEMS]
            if len(self.items) > MAX_ITEMS:
                out["items_omitted"] = len(self.items) - MAX_ITEMS
        return out


def _label(ref: dict[str, Any], i: int) -> str:
    return str(ref.get("label") or (ref.get("reference") or {}).get("path") or f"reference {i}")


def weight_findings(audit: dict[str, Any], policy: Policy) -> list[Finding]:
    """Per (kind, reference): is any non-norm component identical/derived at p <= alpha?

    Weight lineage already corrects its component p-values for multiplicity
    (Holm over a reference's components, Bonferroni over references), so they
    are used as given. Norm components never decide alone: norms of
    independent models can be near-equal (the "LayerNorm cosine 0.99" mistake).
    """
    alpha = policy.thresholds.alpha
    out: list[Finding] = []
    for i, ref in enumerate(audit.get("references") or []):
        label = _label(ref, i)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for j, comp in enumerate(ref.get("components") or []):
            groups.setdefault(kind_of_component(str(comp.get("name", ""))), []).append((j, comp))
        for kind, comps in groups.items():
            tested = [c for _, c in comps if c.get("p_value") is not None]
            flagged = [(j, c) for j, c in comps
                       if c.get("relation") in WEIGHT_REUSE and c.get("p_value") is not None]
            reused = [(j, c) for j, c in flagged if c.get("kind") != "norm"]
            total = sum(int(c.get("parameters") or 0) for _, c in comps) or 1
            reused_params = sum(int(c.get("parameters") or 0) for _, c in reused)
            p_min = min((float(c["p_value"]) for c in tested), default=None)
            p_reuse = min((float(c["p_value"]) for _, c in reused), default=None)
            significant = (p_reuse is not None and p_reuse <= alpha
                           and reused_params / total >= policy.thresholds.min_reused_parameter_fraction)
            all_inconclusive = bool(comps) and all(c.get("relation") == "inconclusive" for _, c in comps)
            items = [{"pointer": f"/references/{i}/components/{j}", "component": c.get("name"),
                      "relation": c.get("relation"), "reference_name": c.get("reference_name"),
                      "p_value": c.get("p_value"), "parameters": c.get("parameters"),
                      **{k: c[k] for k in ("frozen", "change") if k in c}}
                     for j, c in flagged]
            frozen, trained, note = frozen_split([c for _, c in reused])
            if significant:
                summary = (f"{len(reused)} of {len(comps)} {kind} components identical/derived "
                           f"({reused_params / total:.1%} of its parameters); smallest p = {p_reuse:.3g}{note}")
            elif reused:
                summary = (f"{len(reused)} of {len(comps)} {kind} components flagged, but p = {p_reuse:.3g} "
                           f"> alpha {alpha:g} or below the reuse-size threshold")
            elif flagged:
                summary = f"only norm components of {kind} flagged ({len(flagged)}); norms never decide alone"
            elif all_inconclusive:
                summary = f"all {len(comps)} {kind} components inconclusive (too little comparable material)"
            else:
                summary = f"{len(comps)} {kind} components compared, none identical or derived"
            out.append(Finding(kind=kind, source="weights", reference=label, reused=significant,
                               p_value=p_reuse if reused else p_min, pointer=f"/references/{i}",
                               summary=summary, items=items, inconclusive=all_inconclusive,
                               frozen=frozen if significant else 0, trained=trained if significant else 0))
    return out


def frozen_split(reused: list[dict[str, Any]]) -> tuple[int, int, str]:
    """(frozen, further trained, summary note) over reused components carrying lineage's ``frozen``/``change``.

    Frozen: equal to the origin up to storage precision (a frozen encoder);
    further trained: derived and moved by ``change`` (relative distance after
    alignment). Components without the fields (older compare JSON) are not counted.
    """
    frozen = sum(c.get("frozen") is True for c in reused)
    trained = [c for c in reused if c.get("frozen") is False]
    if not frozen and not trained:
        return 0, 0, ""
    changes = [float(c["change"]) for c in trained if c.get("change") is not None]
    moved = f" (relative change {min(changes):.3g}-{max(changes):.3g})" if changes else ""
    return frozen, len(trained), f"; {frozen} frozen, {len(trained)} trained further{moved}"


def tokenizer_findings(section: dict[str, Any] | None, policy: Policy) -> list[Finding]:
    if not section or section.get("candidate") is None:
        return []
    out = []
    for j, ref in enumerate(section.get("references") or []):
        verdict = ref.get("verdict")
        if verdict == "unavailable":
            continue
        p = ref.get("p_value")
        reused = verdict in TOKENIZER_REUSE and (verdict == "identical" or (p is not None and p <= policy.thresholds.alpha))
        vocab = ref.get("vocabulary") or {}
        order = vocab.get("order") or {}
        summary = (f"tokenizer {verdict} vs {ref.get('reference')}: {vocab.get('shared')} shared learned tokens, "
                   f"neighbour-order agreement {order.get('agreement')!s:.6}, p = {p:.3g}"
                   if p is not None else f"tokenizer {verdict} vs {ref.get('reference')}")
        out.append(Finding(kind="tokenizer", source="tokenizer", reference=ref.get("reference"), reused=reused,
                           p_value=p, pointer=f"/tokenizer/references/{j}", summary=summary,
                           inconclusive=verdict == "inconclusive"))
    return out


def _root(path: str) -> str:
    return path.split("/", 1)[0] if path else path


def code_findings(code: dict[str, Any] | None) -> list[Finding]:
    if not code:
        return []
    by_ref: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    tested: list[int] = []
    for k, entry in enumerate(code.get("files") or []):
        tested.append(k)
        if entry.get("relation") in CODE_REUSE:
            for origin in entry.get("origins") or ["unknown"]:
                by_ref.setdefault(_root(str(origin)), []).append((k, entry))
    out = []
    for ref, files in sorted(by_ref.items()):
        ps = [r.get("p_value") for _, e in files for r in e.get("ranking") or []
              if r.get("p_value") is not None and _root(str(r.get("reference_file"))) == ref]
        items = [{"pointer": f"/code/files/{k}", "file": e.get("file"), "relation": e.get("relation"),
                  "origins": e.get("origins"), "attributed": (e.get("attribution") or {}).get("attributed")}
                 for k, e in files]
        out.append(Finding(kind="inference-code", source="code", reference=ref, reused=True,
                           p_value=min(ps) if ps else None, pointer="/code",
                           summary=f"{len({k for k, _ in files})} source file(s) copied or adapted from {ref}",
                           items=items))
    if not out and tested:
        out.append(Finding(kind="inference-code", source="code", reference=None, reused=False, p_value=None,
                           pointer="/code", summary=f"{len(tested)} source file(s) compared, none copied or adapted"))
    return out


def _norm_name(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "", text.lower())


def origin_matches(declared: str | None, reference: str | None) -> bool:
    """Does a declared origin name the detected reference? Lenient on spelling and org prefixes."""
    if declared is None or reference is None:
        return True
    d, r = _norm_name(declared), _norm_name(reference)
    d_tail, r_tail = _norm_name(declared.rsplit("/", 1)[-1]), _norm_name(reference.rsplit("/", 1)[-1])
    return bool(d and r) and (d in r or r in d or d_tail == r_tail or d_tail in r or r_tail in d)


def _licence_ok(comp: DeclaredComponent, allowed: list[str]) -> bool | None:
    if not comp.licence:
        return None
    wanted = {a.lower() for a in allowed}
    parts = [p.strip().strip("()").lower() for p in re.split(r"\s+OR\s+", comp.licence, flags=re.I)]
    return any(p in wanted for p in parts)


def _declared_outcome(kind: str, policy: Policy, comps: list[DeclaredComponent]) -> tuple[str, str]:
    rule = policy.rule(kind)
    req = rule.requirement
    if req == "must-be-independent":
        return "violation", "reuse is not allowed for this kind, declared or not"
    if req == "review-if-declared":
        return "needs-review", "declared reuse goes to the originality committee"
    if req in ("allowed-if-declared", "allowed"):
        return "compliant", "declared reuse is allowed"
    checks = [_licence_ok(c, rule.licences) for c in comps]
    if any(c is False for c in checks):
        bad = sorted({c.licence or "" for c, ok in zip(comps, checks) if ok is False})
        return "violation", f"declared licence {', '.join(bad)} is not among the allowed licences"
    if any(c is None for c in checks):
        return "needs-review", "reuse declared without a licence; licence compatibility cannot be checked"
    return "compliant", "declared reuse under an allowed licence"


def _registry_licence_check(kind: str, policy: Policy, origins: list[str],
                            known: dict[str, str]) -> tuple[str, str] | None:
    """The licence the auditor knows for a found origin (reference registry) must be allowed too.

    What matters for licence compatibility is the origin's licence, not what the
    team writes; when the registry knows it, a disallowed one is a violation
    whatever the declaration says.
    """
    rule = policy.rule(kind)
    if rule.requirement != "allowed-if-declared-and-licence-compatible":
        return None
    probe = [(o, known[o]) for o in origins if o in known]
    bad = [(o, lic) for o, lic in probe
           if not _licence_ok(DeclaredComponent(kind=kind, licence=lic, trained_from_scratch=False), rule.licences)]
    if bad:
        return "violation", "; ".join(f"origin {o} is licensed {lic} (reference registry), not an allowed licence"
                                      for o, lic in bad)
    return None


def decide_kind(kind: str, policy: Policy, findings: list[Finding], declared: Declared | None,
                supporting: list[dict[str, Any]], known_licences: dict[str, str] | None = None) -> dict[str, Any]:
    rule = policy.rule(kind)
    decisive = [f for f in findings if f.source != "config"]
    detected = [f for f in decisive if f.reused]
    declared_reuse = declared.reused(kind) if declared else []
    declared_comps = [c for _, c in declared_reuse]
    declared_ptrs = [{"source": "declared", "pointer": f"/declared/components/{i}", "reference": c.origin,
                      "reuse": True, "p_value": None,
                      "summary": f"declared: {c.name or kind} from {c.origin or 'an unnamed origin'}"
                                 f" (licence {c.licence or 'not given'})"}
                     for i, c in declared_reuse]
    scratch_claims = [i for i, c in enumerate(declared.components) if c.kind == kind and not c.reused] if declared else []
    p_values = [f.p_value for f in (detected or decisive) if f.p_value is not None]
    p_value = min(p_values) if p_values else None
    origins = sorted({f.reference for f in detected if f.reference})
    if detected and not declared_reuse:
        verdict = "compliant" if rule.requirement == "allowed" else "violation"
        contradiction = " and contradicts the declaration 'trained from scratch'" if scratch_claims else ""
        reason = (f"undeclared reuse from {', '.join(origins) or 'a reference'}{contradiction}"
                  + (" (allowed by this policy even undeclared)" if verdict == "compliant" else ""))
        rule_id = f"{kind}/undeclared-reuse"
    elif declared_reuse:
        verdict, reason = _declared_outcome(kind, policy, declared_comps)
        registry = _registry_licence_check(kind, policy, origins, known_licences or {})
        if registry is not None:
            verdict, reason = registry[0], f"{registry[1]} (declared: {reason})"
        rule_id = f"{kind}/{rule.requirement}"
        if detected:
            # one matching origin suffices: a tokenizer identical to several references is one upstream
            named = [o for o in origins if any(origin_matches(c.origin, o) for c in declared_comps)]
            if origins and not named:
                reason += f"; reuse found from {', '.join(origins)}, which the declaration does not name"
                if SEVERITY[verdict] < SEVERITY["needs-review"]:
                    verdict = "needs-review"
        else:
            reason += "; the declared reuse was not seen in the evidence (its origin may not be among the references)"
    else:
        inconclusive = bool(decisive) and all(f.inconclusive for f in decisive)
        if inconclusive and policy.thresholds.inconclusive_needs_review:
            verdict, reason = "needs-review", "every comparison was inconclusive"
        else:
            verdict = "compliant"
            reason = ("no reuse found" if decisive else "nothing to compare against (no evidence source)")
            if inconclusive:
                reason += " (comparisons inconclusive)"
        rule_id = f"{kind}/{rule.requirement}"
    evidence = [f.as_evidence() for f in (detected or decisive)] + declared_ptrs + supporting
    if not evidence:  # say so rather than leave a verdict without a link
        evidence = [{"source": "none", "pointer": "/references", "reference": None, "reuse": None,
                     "p_value": None, "summary": f"no comparison covered {kind}: nothing to link"}]
    verdict, reason, rule_id = _frozen_rule(kind, policy, detected, declared_comps, (verdict, reason, rule_id))
    return {"component": kind, "verdict": verdict, "rule": rule_id, "requirement": rule.requirement,
            "reason": reason, "p_value": p_value, "origins": origins, "evidence": evidence}


def _frozen_rule(kind: str, policy: Policy, detected: list[Finding], declared_comps: list[DeclaredComponent],
                 decided: tuple[str, str, str]) -> tuple[str, str, str]:
    """Say whether found reuse was frozen or trained further; apply ``frozen_requirement`` to frozen reuse."""
    verdict, reason, rule_id = decided
    frozen, trained = sum(f.frozen for f in detected), sum(f.trained for f in detected)
    if not detected or not (frozen or trained):
        return decided
    reason += (f"; {frozen} reused component(s) frozen (equal to the origin up to storage precision), "
               f"{trained} initialised from it and trained further")
    req = policy.rule(kind).frozen_requirement
    if frozen and req is not None:
        strict = policy.model_copy(update={"rules": {**policy.rules, kind: policy.rule(kind).model_copy(
            update={"requirement": req})}})
        if declared_comps:
            alt, why = _declared_outcome(kind, strict, declared_comps)
        else:
            alt, why = ("compliant" if req == "allowed" else "violation"), "undeclared frozen reuse"
        if SEVERITY[alt] > SEVERITY[verdict]:
            verdict, reason, rule_id = alt, f"{reason}; frozen reuse: {why}", f"{kind}/frozen/{req}"
    return verdict, reason, rule_id


def evaluate(policy: Policy, audit: dict[str, Any], declared: Declared | None,
             present: set[str] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """All verdicts and the overall one (the worst)."""
    findings = (weight_findings(audit, policy) + tokenizer_findings(audit.get("tokenizer"), policy)
                + code_findings(audit.get("code")))
    kinds = set(present or ()) | {f.kind for f in findings}
    if declared:
        kinds |= declared.declared_kinds()
    supporting: dict[str, list[dict[str, Any]]] = {}
    for j, ref in enumerate((audit.get("config") or {}).get("references") or []):
        if ref.get("strength") in ("weak", "very weak"):
            item = {"source": "config", "pointer": f"/config/references/{j}", "reference": ref.get("reference"),
                    "reuse": None, "p_value": None, "supporting_only": True,
                    "summary": f"configuration {'matches exactly' if ref.get('exact_match') else 'mostly matches'} "
                               f"{ref.get('reference')} ({ref.get('strength')} evidence; uncommon matches: "
                               f"{', '.join(ref.get('uncommon_matches') or []) or 'none'})"}
            supporting.setdefault("backbone", []).append(item)
    known = {str(r.get("label")): str(r["licence"]) for r in audit.get("references") or []
             if r.get("label") and r.get("licence")}
    known.update({str(k): str(v) for k, v in (audit.get("reference_licences") or {}).items() if v})
    verdicts = [decide_kind(k, policy, [f for f in findings if f.kind == k], declared, supporting.get(k, []), known)
                for k in POLICY_KINDS if k in kinds]
    overall = max((v["verdict"] for v in verdicts), key=SEVERITY.__getitem__, default="compliant")
    return overall, verdicts
