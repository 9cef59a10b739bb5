"""The policy's use of a checkpoint chain: evidence *for* training from scratch.

Weight lineage can only show that a model matches nothing known; a verified
checkpoint chain shows it was initialised and trained by the team. The rule,
the same under every preset:

* chain ``valid`` -> a ``chain`` verdict row ``compliant``; when the overall
  verdict is compliant, ``evidence_strength`` becomes ``chain-verified``
  (otherwise ``lineage-only``): an independent model with a valid chain is
  compliant with stronger evidence;
* chain ``invalid`` -> the row is ``needs-review``, naming the first failing
  step and check, and the overall verdict is at least ``needs-review`` (a
  failing chain is a referral, never by itself a violation: it does not show
  reuse, only that the defence does not hold);
* chain ``inconclusive`` -> the row is ``compliant`` with a reason saying the
  chain was not counted as evidence; nothing escalates.
"""

from __future__ import annotations

from typing import Any

from fromscratch.policy.engine import SEVERITY


def chain_row(chain: dict[str, Any]) -> dict[str, Any]:
    """The ``chain`` verdict row for a ``fromscratch.chain/1`` object."""
    verdict = chain["verdict"]
    first = chain.get("first_failure")
    n_steps = len(chain.get("steps") or [])
    relation = (chain.get("submission") or {}).get("relation")
    if verdict == "valid":
        row_verdict, rule = "compliant", "chain/valid"
        reason = (f"checkpoint chain verified: fresh initialisation, {n_steps} continuous steps, "
                  f"submission {relation} to the last checkpoint")
    elif verdict == "invalid":
        row_verdict, rule = "needs-review", "chain/invalid"
        reason = f"checkpoint chain fails at step {first['step']} ({first['check']}): {first['detail']}"
    else:
        row_verdict, rule = "compliant", "chain/inconclusive"
        reason = "checkpoint chain inconclusive (" + "; ".join(chain.get("undecided") or [])[:300] + \
                 "): not counted as evidence"
    evidence = [{"source": "chain", "pointer": "/chain", "reference": None, "reuse": None,
                 "p_value": (chain.get("init") or {}).get("p_value"), "summary": reason}]
    evidence += [{"source": "chain", "pointer": f"/chain/failures/{i}", "reference": None, "reuse": None,
                  "p_value": None, "summary": f"step {f['step']} ({f['check']}): {f['detail']}"}
                 for i, f in enumerate((chain.get("failures") or [])[:8])]
    return {"component": "chain", "verdict": row_verdict, "rule": rule, "requirement": "chain-if-given",
            "reason": reason, "p_value": (chain.get("init") or {}).get("p_value"), "origins": [],
            "evidence": evidence, "failing_step": None if first is None else first["step"],
            "failing_check": None if first is None else first["check"]}


def apply_chain(audit: dict[str, Any], chain: dict[str, Any]) -> dict[str, Any]:
    """Attach the chain to an audit and, when the audit has policy verdicts, apply the rule above."""
    audit["chain"] = chain
    if audit.get("verdicts") is None:
        audit["evidence_strength"] = None
        return audit
    row = chain_row(chain)
    audit["verdicts"] = [v for v in audit["verdicts"] if v.get("component") != "chain"] + [row]
    if SEVERITY[row["verdict"]] > SEVERITY[audit["verdict"]]:
        audit["verdict"] = row["verdict"]
    audit["evidence_strength"] = ("chain-verified" if chain["verdict"] == "valid" and audit["verdict"] == "compliant"
                                  else "lineage-only")
    return audit
