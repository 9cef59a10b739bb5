"""The verdict engine on evidence built directly: every rule path, every pointer resolvable."""

from __future__ import annotations

import json

import pytest

from fromscratch.errors import InputError
from fromscratch.policy.api import apply_policy, run_audit
from fromscratch.policy.bom import build_bom
from fromscratch.policy.declared import load_declared
from fromscratch.policy.schema import Policy, load_policy, policy_json_schema
from tests.policy.evidence import compare_obj, lineage_audit, resolve

DECLARE_VISION = """
[model]
name = "team-a/model"
licence = "Apache-2.0"

[[component]]
kind = "vision-encoder"
name = "vision tower"
origin = "encoder-donor"
licence = "Apache-2.0"
trained_from_scratch = false
"""


def _audit(weights: dict, policy: str, declared=None, **extra) -> dict:
    audit = dict(weights, **extra)
    audit["references"] = [dict(r, label=r["reference"]["path"].rsplit("/", 1)[-1]) for r in audit["references"]]
    return apply_policy(audit, policy, declared, present={"backbone", "embeddings", "vision-encoder", "projector"})


def _by_kind(audit: dict) -> dict[str, dict]:
    return {v["component"]: v for v in audit["verdicts"]}


def _assert_linked(audit: dict) -> None:
    """Every verdict has evidence, and every pointer resolves inside the audit object."""
    for v in audit["verdicts"]:
        assert v["evidence"], v["component"]
        for item in v["evidence"]:
            resolve(audit, item["pointer"])
            for sub in item.get("items", []):
                resolve(audit, sub["pointer"])


@pytest.fixture
def declared_vision(tmp_path):
    path = tmp_path / "declared.toml"
    path.write_text(DECLARE_VISION)
    return load_declared(path)


def test_undeclared_encoder_copy_is_a_violation_under_korea():
    audit = _audit(lineage_audit(compare_obj(("vision.",))), "korea-2026")
    rows = _by_kind(audit)
    assert audit["verdict"] == "violation"
    assert rows["vision-encoder"]["verdict"] == "violation"
    assert rows["vision-encoder"]["rule"] == "vision-encoder/undeclared-reuse"
    assert rows["vision-encoder"]["origins"] == ["encoder-donor"]
    assert rows["vision-encoder"]["p_value"] == pytest.approx(1e-12)
    for kind in ("backbone", "embeddings", "projector"):
        assert rows[kind]["verdict"] == "compliant"
    assert audit["lineage_verdict"] == "derived"
    _assert_linked(audit)


def test_declared_encoder_copy_follows_the_preset(declared_vision):
    korea = _audit(lineage_audit(compare_obj(("vision.",))), "korea-2026", declared_vision)
    assert _by_kind(korea)["vision-encoder"]["verdict"] == "needs-review"
    assert korea["verdict"] == "needs-review"
    _assert_linked(korea)
    assert any(e["source"] == "declared" for e in _by_kind(korea)["vision-encoder"]["evidence"])
    permissive = _audit(lineage_audit(compare_obj(("vision.",))), "permissive", declared_vision)
    assert permissive["verdict"] == "compliant"


def test_clean_submission_is_compliant_everywhere():
    audit = _audit(lineage_audit(compare_obj(), compare_obj(ref_path="/refs/other")), "korea-2026")
    assert audit["verdict"] == "compliant"
    assert {v["verdict"] for v in audit["verdicts"]} == {"compliant"}
    assert len(audit["verdicts"]) == 4
    _assert_linked(audit)


def test_declared_backbone_reuse_is_still_a_violation_under_korea(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "backbone"\norigin = "encoder-donor"\nlicence = "MIT"\n'
                    'trained_from_scratch = false\n')
    weights = lineage_audit(compare_obj(("layers.",), relation="derived"))
    korea = _audit(weights, "korea-2026", load_declared(path))
    assert _by_kind(korea)["backbone"]["verdict"] == "violation"
    assert _by_kind(korea)["backbone"]["rule"] == "backbone/must-be-independent"
    assert _audit(weights, "permissive", load_declared(path))["verdict"] == "compliant"


def test_contradicting_a_from_scratch_declaration(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "vision-encoder"\ntrained_from_scratch = true\n')
    audit = _audit(lineage_audit(compare_obj(("vision.",))), "permissive", load_declared(path))
    row = _by_kind(audit)["vision-encoder"]
    assert row["verdict"] == "violation" and "contradicts" in row["reason"]


def test_declared_origin_differs_from_the_one_found(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "vision-encoder"\norigin = "some/other-model"\n'
                    'trained_from_scratch = false\n')
    audit = _audit(lineage_audit(compare_obj(("vision.",))), "permissive", load_declared(path))
    row = _by_kind(audit)["vision-encoder"]
    assert row["verdict"] == "needs-review" and "does not name" in row["reason"]


def test_weak_weight_signal_is_not_reuse():
    weights = lineage_audit(compare_obj(("vision.layers.0.mlp",), relation="derived"))
    weights["references"][0]["components"][9]["p_value"] = 4e-3  # > alpha 1e-3
    audit = _audit(weights, "korea-2026")
    assert _by_kind(audit)["vision-encoder"]["verdict"] == "compliant"


def test_norms_never_decide_alone():
    weights = lineage_audit(compare_obj(("vision.norm", "norm"), relation="derived"))
    audit = _audit(weights, "korea-2026")
    assert audit["verdict"] == "compliant"
    assert "norms never decide" in _by_kind(audit)["vision-encoder"]["evidence"][0]["summary"]


def _tok_section(verdict: str, p: float) -> dict:
    return {"candidate": {"kind": "bpe"}, "references": [
        {"reference": "encoder-donor", "verdict": verdict, "p_value": p,
         "vocabulary": {"shared": 900, "order": {"agreement": 0.99}}}],
        "relation": verdict, "origin": "encoder-donor", "p_value": p}


@pytest.mark.parametrize("licence,expected", [("MIT", "compliant"), ("GPL-3.0-only", "violation"),
                                              (None, "needs-review"), ("GPL-3.0-only OR MIT", "compliant")])
def test_tokenizer_licence_rules(tmp_path, licence, expected):
    line = f'licence = "{licence}"\n' if licence else ""
    path = tmp_path / "d.toml"
    path.write_text(f'[[component]]\nkind = "tokenizer"\norigin = "encoder-donor"\n{line}trained_from_scratch = false\n')
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", load_declared(path),
                   tokenizer=_tok_section("extended", 1e-30))
    assert _by_kind(audit)["tokenizer"]["verdict"] == expected
    _assert_linked(audit)


def test_undeclared_tokenizer_reuse_and_independent_tokenizer():
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", tokenizer=_tok_section("pruned", 1e-40))
    assert _by_kind(audit)["tokenizer"]["verdict"] == "violation"
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", tokenizer=_tok_section("independent", 0.9))
    assert _by_kind(audit)["tokenizer"]["verdict"] == "compliant"


def test_copied_code_undeclared_and_declared(tmp_path):
    code = {"schema": "fromscratch.code/1", "files": [
        {"file": "model.py", "ranking": [{"reference_file": "vllm/models/llama.py", "score": 0.97, "p_value": 1e-9}],
         "relation": "copied", "origins": ["vllm/models/llama.py"],
         "attribution": {"licence": None, "copyright": [], "mentions": [], "attributed": False}},
        {"file": "train.py", "ranking": [], "relation": "independent", "origins": [],
         "attribution": {"licence": None, "copyright": [], "mentions": [], "attributed": None}}],
        "matches": []}
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", code=code)
    row = _by_kind(audit)["inference-code"]
    assert row["verdict"] == "violation" and row["origins"] == ["vllm"] and row["p_value"] == 1e-9
    _assert_linked(audit)
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "inference-code"\norigin = "vllm"\nlicence = "Apache-2.0"\n'
                    'trained_from_scratch = false\n')
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", load_declared(path), code=code)
    assert _by_kind(audit)["inference-code"]["verdict"] == "compliant"


def test_config_match_is_supporting_only():
    config = {"candidate": {"hidden_size": 97}, "references": [
        {"reference": "encoder-donor", "compared_keys": 6, "matched": {"hidden_size": 97}, "differing": {},
         "uncommon_matches": ["hidden_size"], "exact_match": True, "strength": "weak", "note": ""}]}
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", config=config)
    row = _by_kind(audit)["backbone"]
    assert row["verdict"] == "compliant"
    assert any(e["source"] == "config" and e["supporting_only"] for e in row["evidence"])
    _assert_linked(audit)


def test_cyclonedx_declaration_reads_like_toml(tmp_path, declared_vision):
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "metadata": {"component": {"type": "machine-learning-model", "name": "team-a/model"}},
           "components": [{"type": "machine-learning-model", "name": "vision tower",
                           "licenses": [{"license": {"id": "Apache-2.0"}}],
                           "pedigree": {"ancestors": [{"type": "machine-learning-model", "name": "encoder-donor"}]},
                           "properties": [{"name": "fromscratch:kind", "value": "vision-encoder"}]}]}
    path = tmp_path / "declared.cdx.json"
    path.write_text(json.dumps(bom))
    declared = load_declared(path)
    assert declared.components == declared_vision.components
    assert declared.model_name == "team-a/model"


def test_bom_validates_and_holds_the_origins(declared_vision):
    audit = _audit(lineage_audit(compare_obj(("vision.",))), "korea-2026", declared_vision)
    audit["declared"] = declared_vision.model_dump(mode="json")
    bom = build_bom(audit, {"vision-encoder": "Apache-2.0"})
    assert bom["specVersion"] == "1.6"
    comps = {c["name"]: c for c in bom["components"]}
    assert [a["name"] for a in comps["vision-encoder"]["pedigree"]["ancestors"]] == ["encoder-donor"]
    props = {p["name"]: p["value"] for p in comps["vision-encoder"]["properties"]}
    assert props["fromscratch:verdict"] == "needs-review"
    assert "pedigree" not in comps["backbone"] or not comps["backbone"]["pedigree"].get("ancestors")
    assert build_bom(audit, {"vision-encoder": "Apache-2.0"}) == bom  # deterministic, no timestamp


def test_policy_files(tmp_path):
    for name in ("korea-2026", "permissive"):
        assert load_policy(name).name == name
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\nversion = "1"\n[rules.backbone]\nrequirement = "must-be-independant"\n')
    with pytest.raises(InputError, match="rules.backbone.requirement"):
        load_policy(bad)
    bad.write_text('name = "x"\nversion = "1"\ntypo = 1\n[rules.backbone]\nrequirement = "allowed"\n')
    with pytest.raises(InputError, match="typo"):
        load_policy(bad)
    with pytest.raises(InputError, match="not a preset"):
        load_policy("korea-2027")


def test_every_policy_field_is_documented():
    schema = policy_json_schema()
    defs = schema.get("$defs", {})
    for model in [schema, *defs.values()]:
        for name, prop in model.get("properties", {}).items():
            assert prop.get("description"), f"{model.get('title')}.{name} has no description"


def test_run_audit_with_precomputed_weights_and_bad_reference_count():
    with pytest.raises(InputError, match="reference results"):
        run_audit("/nowhere", ["a=/x", "b=/y"], weights=lineage_audit(compare_obj()), policy="korea-2026")


def test_written_bom_reads_back_as_a_declaration(tmp_path):
    """A team can take the audit's BOM as its declaration: the detected reuse becomes declared."""
    audit = _audit(lineage_audit(compare_obj(("vision.",))), "korea-2026")
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(build_bom(audit)))
    declared = load_declared(path)
    reused = {c.kind: c.origin for c in declared.components if c.reused}
    assert reused == {"vision-encoder": "encoder-donor"}
    again = _audit(lineage_audit(compare_obj(("vision.",))), "korea-2026", declared)
    assert _by_kind(again)["vision-encoder"]["verdict"] == "needs-review"


def test_a_kind_nothing_covered_still_links_somewhere():
    audit = _audit(lineage_audit(compare_obj()), "korea-2026")
    audit = apply_policy(audit, "korea-2026", None, {"backbone", "audio-encoder"})
    row = _by_kind(audit)["audio-encoder"]
    assert row["verdict"] == "compliant" and row["evidence"][0]["source"] == "none"
    _assert_linked(audit)


def test_registry_licence_of_the_origin_overrides_the_declared_one(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text('[[component]]\nkind = "tokenizer"\norigin = "encoder-donor"\nlicence = "MIT"\n'
                    'trained_from_scratch = false\n')
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", load_declared(path),
                   tokenizer=_tok_section("extended", 1e-30), reference_licences={"encoder-donor": "GPL-3.0-only"})
    row = _by_kind(audit)["tokenizer"]
    assert row["verdict"] == "violation" and "reference registry" in row["reason"]
    audit = _audit(lineage_audit(compare_obj()), "korea-2026", load_declared(path),
                   tokenizer=_tok_section("extended", 1e-30), reference_licences={"encoder-donor": "Apache-2.0"})
    assert _by_kind(audit)["tokenizer"]["verdict"] == "compliant"


def test_bom_model_card_from_config():
    audit = _audit(lineage_audit(compare_obj()), "korea-2026",
                   config={"candidate": {"model_type": "llava", "hidden_size": 192}, "references": []})
    card = build_bom(audit)["metadata"]["component"]["modelCard"]
    assert card["modelParameters"]["architectureFamily"] == "llava"
    assert {"name": "fromscratch:config:hidden_size", "value": "192"} in card["properties"]
