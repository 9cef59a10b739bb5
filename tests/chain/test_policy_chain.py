"""The audit with a chain: valid -> compliant with stronger evidence; failing -> needs-review naming the step."""

from __future__ import annotations

import json

import pytest

from fromscratch.policy.chain import apply_chain, chain_row

pytest.importorskip("torch")

#: every model of the chain material shares one tokenizer, so each submission declares it
DECLARED = """
[model]
name = "chain-team/model"

[[component]]
kind = "tokenizer"
name = "BPE tokenizer"
origin = "ref-a"
licence = "Apache-2.0"
trained_from_scratch = false
"""


def _audit(chains, name, tmp_path):
    from fromscratch.policy.api import run_audit

    e = chains["chains"][name]
    declared = tmp_path / "declared.toml"
    declared.write_text(DECLARED, encoding="utf-8")
    refs = [f"ref-a={chains['references']['ref-a']}", f"ref-b={chains['references']['ref-b']}"]
    return run_audit(e["model"], refs, policy="korea-2026", declared=declared, chain=e["checkpoints"],
                     chain_init=e["init_options"])


def test_independent_model_with_valid_chain_is_compliant_chain_verified(chains, tmp_path):
    audit = _audit(chains, "g00", tmp_path)
    assert audit["verdict"] == "compliant"
    assert audit["evidence_strength"] == "chain-verified"
    row = [v for v in audit["verdicts"] if v["component"] == "chain"][0]
    assert row["rule"] == "chain/valid" and audit["chain"]["schema"] == "fromscratch.chain/1"


def test_failing_chain_is_needs_review_with_the_step(chains, tmp_path):
    audit = _audit(chains, "forged-other", tmp_path)
    assert audit["verdict"] == "needs-review"
    row = [v for v in audit["verdicts"] if v["component"] == "chain"][0]
    assert row["verdict"] == "needs-review" and row["failing_step"] == len(audit["chain"]["checkpoints"]) - 1
    assert row["failing_check"] == "submission" and "step" in row["reason"]
    assert audit["evidence_strength"] == "lineage-only"


def test_violation_stays_violation_and_inconclusive_does_not_escalate():
    audit = {"verdict": "violation", "verdicts": []}
    invalid = {"verdict": "invalid", "steps": [], "failures": [{"step": 0, "check": "init", "detail": "x"}],
               "first_failure": {"step": 0, "check": "init", "detail": "x"}, "init": {"p_value": 0.0},
               "submission": {"relation": "identical"}}
    assert apply_chain(audit, invalid)["verdict"] == "violation"
    row = chain_row({"verdict": "inconclusive", "steps": [], "failures": [], "first_failure": None,
                     "undecided": ["submission: too little comparable material"], "init": {"p_value": 0.5},
                     "submission": {"relation": "inconclusive"}})
    assert row["verdict"] == "compliant" and row["rule"] == "chain/inconclusive"


def test_audit_cli_accepts_chain(chains, tmp_path):
    from fromscratch.cli import main

    e = chains["chains"]["forged-noise"]
    out = tmp_path / "audit.json"
    args = ["audit", e["model"], "--against", f"ref-a={chains['references']['ref-a']}", "--policy", "korea-2026",
            "--json", str(out)]
    for c in e["checkpoints"]:
        args += ["--chain", c]
    assert main(args) == 0
    audit = json.loads(out.read_text())
    assert audit["chain"]["first_failure"]["step"] == 0
    assert audit["verdict"] in ("needs-review", "violation")
