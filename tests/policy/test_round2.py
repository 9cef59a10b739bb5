"""The round-2 preset: external weights are a violation in every tower, frozen or trained further;
re-initialised components comply; declared open-source tokenizers and code are allowed. The
round-1 preset keeps its rules. Evidence is compare JSON carrying lineage's per-component
``frozen`` / ``change`` fields.
"""

from __future__ import annotations

import pytest

from fromscratch.policy.declared import load_declared
from fromscratch.policy.schema import load_policy
from tests.policy.evidence import compare_obj, lineage_audit
from tests.policy.test_engine import DECLARE_VISION, _assert_linked, _audit, _by_kind


def _with_fields(obj: dict, prefix: str, frozen: bool, change: float) -> dict:
    for c in obj["components"]:
        if c["name"].startswith(prefix) and c["relation"] in ("identical", "derived"):
            c["frozen"], c["change"] = frozen, change
        else:
            c["frozen"], c["change"] = None, None
    return obj


@pytest.fixture
def declared_vision(tmp_path):
    path = tmp_path / "declared.toml"
    path.write_text(DECLARE_VISION)
    return load_declared(path)


@pytest.mark.parametrize("frozen,relation", [(True, "identical"), (False, "derived")])
def test_external_encoder_is_a_violation_frozen_or_not(declared_vision, frozen, relation):
    weights = lineage_audit(_with_fields(compare_obj(("vision.",), relation=relation), "vision.", frozen,
                                         0.0 if frozen else 0.31))
    audit = _audit(weights, "korea-2026-round2", declared_vision)
    row = _by_kind(audit)["vision-encoder"]
    assert audit["verdict"] == "violation" and row["verdict"] == "violation"
    word = "3 reused component(s) frozen" if frozen else "0 reused component(s) frozen"
    assert word in row["reason"], row["reason"]
    summary = row["evidence"][0]["summary"]
    assert ("3 frozen" in summary) if frozen else ("3 trained further (relative change 0.31-0.31)" in summary)
    items = row["evidence"][0]["items"]
    assert all(i["frozen"] is frozen for i in items if i["component"] != "vision.norm")
    _assert_linked(audit)


def test_round1_preset_keeps_its_rules(declared_vision):
    weights = lineage_audit(_with_fields(compare_obj(("vision.",)), "vision.", True, 0.0))
    korea = _audit(weights, "korea-2026", declared_vision)
    assert _by_kind(korea)["vision-encoder"]["verdict"] == "needs-review"
    assert load_policy("korea-2026").rule("vision-encoder").frozen_requirement is None


def test_reinitialised_tower_complies():
    # the team re-initialised its encoder: lineage finds it independent of every reference
    audit = _audit(lineage_audit(compare_obj()), "korea-2026-round2")
    assert audit["verdict"] == "compliant"
    assert {v["verdict"] for v in audit["verdicts"]} == {"compliant"}


def test_reused_backbone_is_a_violation_even_declared(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "backbone"\norigin = "encoder-donor"\nlicence = "MIT"\n'
                    'trained_from_scratch = false\n')
    weights = lineage_audit(_with_fields(compare_obj(("layers.",), relation="derived"), "layers.", False, 0.5))
    row = _by_kind(_audit(weights, "korea-2026-round2", load_declared(path)))["backbone"]
    assert row["verdict"] == "violation" and "trained further" in row["reason"]


def test_declared_open_source_tokenizer_is_allowed(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "tokenizer"\norigin = "encoder-donor"\nlicence = "Apache-2.0"\n'
                    'trained_from_scratch = false\n')
    tok = {"candidate": {"kind": "bpe"}, "references": [
        {"reference": "encoder-donor", "verdict": "identical", "p_value": 1e-9,
         "vocabulary": {"shared": 900, "order": {"agreement": 0.99}}}],
        "relation": "identical", "origin": "encoder-donor", "p_value": 1e-9}
    audit = _audit(lineage_audit(compare_obj()), "korea-2026-round2", load_declared(path), tokenizer=tok)
    assert _by_kind(audit)["tokenizer"]["verdict"] == "compliant"
    undeclared = _audit(lineage_audit(compare_obj()), "korea-2026-round2", None, tokenizer=tok)
    assert _by_kind(undeclared)["tokenizer"]["verdict"] == "violation"


def test_frozen_requirement_is_stricter_for_frozen_reuse_only(declared_vision, tmp_path):
    """A policy may accept declared, further-trained encoders but not frozen ones."""
    text = (tmp_path / "p.toml")
    text.write_text('schema = "fromscratch.policy/1"\nname = "t"\nversion = "1"\n'
                    '[rules.vision-encoder]\nrequirement = "allowed-if-declared"\n'
                    'frozen_requirement = "must-be-independent"\n')
    frozen = lineage_audit(_with_fields(compare_obj(("vision.",)), "vision.", True, 0.0))
    trained = lineage_audit(_with_fields(compare_obj(("vision.",), relation="derived"), "vision.", False, 0.4))
    rf = _by_kind(_audit(frozen, str(text), declared_vision))["vision-encoder"]
    rt = _by_kind(_audit(trained, str(text), declared_vision))["vision-encoder"]
    assert rf["verdict"] == "violation" and rf["rule"] == "vision-encoder/frozen/must-be-independent"
    assert rt["verdict"] == "compliant"
    # compare JSON without the fields (older lineage) is judged as before
    plain = _by_kind(_audit(lineage_audit(compare_obj(("vision.",))), str(text), declared_vision))
    assert plain["vision-encoder"]["verdict"] == "compliant"


@pytest.mark.torch
def test_round2_on_the_zoo_transplant_and_a_frozen_copy(tmp_path, declared_vision):
    """Real lineage evidence: the transplanted encoder (trained further) and a byte-for-byte copy (frozen)."""
    pytest.importorskip("torch")
    from fromscratch.policy.api import run_audit
    from fromscratch.zoo import build_zoo

    zoo = build_zoo()
    refs = [f"bert-s0={zoo.path('bert-s0')}"]
    r2 = run_audit(zoo.path("llava-transplant"), refs, policy="korea-2026-round2", declared=declared_vision)
    row = _by_kind(r2)["vision-encoder"]
    assert row["verdict"] == "violation" and "trained further" in row["reason"]
    items = [i for e in row["evidence"] for i in e.get("items", []) if not i["component"].endswith("norm")]
    assert items and all(i.get("frozen") is False and i.get("change", 0) > 0 for i in items), items
    r1 = run_audit(zoo.path("llava-transplant"), refs, policy="korea-2026", declared=declared_vision)
    assert _by_kind(r1)["vision-encoder"]["verdict"] == "needs-review"
    frozen = run_audit(zoo.path("llama-s0-pt"), [f"llama-s0={zoo.path('llama-s0')}"], policy="korea-2026-round2")
    brow = _by_kind(frozen)["backbone"]
    assert brow["verdict"] == "violation" and "reused component(s) frozen" in brow["reason"]
    assert not brow["reason"].split("; ")[-1].startswith("0 reused"), brow["reason"]
    _assert_linked(r2)
