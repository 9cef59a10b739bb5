"""The whole audit on the fixture zoo: the transplanted encoder, declared or not, and a clean model.

Zoo facts (fromscratch.zoo): ``llava-transplant`` copied its vision-tower blocks from
``bert-s0``'s encoder and trained on; ``llava-clean`` trained both towers from scratch. All zoo
models share the zoo's tokenizer A by construction, so every submission here declares that
tokenizer (Apache-2.0, shipped with llama-s0): the only thing that differs between the scenarios is the encoder.
"""

from __future__ import annotations

import json

import pytest

from fromscratch.cli import main
from fromscratch.policy.api import run_audit
from fromscratch.policy.bom import validate_bom
from fromscratch.policy.declared import load_declared
from fromscratch.tokenizer.api import compare_tokenizers
from tests.policy.evidence import resolve

pytest.importorskip("torch")

TOKENIZER = """
[model]
name = "zoo-team/{name}"

[[component]]
kind = "tokenizer"
name = "BPE tokenizer"
origin = "zoo/llama-s0"
licence = "Apache-2.0"
trained_from_scratch = false
"""

VISION = """
[[component]]
kind = "vision-encoder"
name = "vision tower"
origin = "bert-s0"
licence = "Apache-2.0"
trained_from_scratch = false
"""


@pytest.fixture(scope="module")
def zoo():
    from fromscratch.zoo import build_zoo

    return build_zoo()


@pytest.fixture(scope="module")
def refs(zoo):
    return [f"bert-s0={zoo.path('bert-s0')}", f"llama-s0={zoo.path('llama-s0')}"]


@pytest.fixture(scope="module")
def transplant_weights(zoo, refs):
    from fromscratch.lineage.api import audit

    return audit(zoo.path("llava-transplant"), [r.split("=", 1)[1] for r in refs], seed=0)


def _declared(tmp_path, text: str, name: str = "d"):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return load_declared(path)


def _rows(audit):
    return {v["component"]: v for v in audit["verdicts"]}


def _linked(audit):
    for row in audit["verdicts"]:
        assert row["evidence"]
        for item in row["evidence"]:
            resolve(audit, item["pointer"])
            for sub in item.get("items", []):
                resolve(audit, sub["pointer"])


def test_zoo_tokenizers(zoo):
    independent = compare_tokenizers(zoo.path("llama-tokb"), zoo.path("llama-s0"))
    assert independent["verdict"] == "independent"
    order = independent["vocabulary"]["order"]
    assert order["agreement"] < 0.7 and order["successor_rate"] < 0.3  # small same-corpus BPEs: see docs
    assert compare_tokenizers(zoo.path("llama-s0-vocab"), zoo.path("llama-s0"))["verdict"] == "extended"
    assert compare_tokenizers(zoo.path("llava-clean"), zoo.path("bert-s0"))["verdict"] == "identical"


def test_transplant_undeclared_is_a_violation(zoo, refs, transplant_weights, tmp_path):
    decl = _declared(tmp_path, TOKENIZER.format(name="transplant"))
    audit = run_audit(zoo.path("llava-transplant"), refs, policy="korea-2026", declared=decl,
                      weights=transplant_weights)
    rows = _rows(audit)
    assert audit["verdict"] == "violation"
    assert rows["vision-encoder"]["verdict"] == "violation"
    assert rows["vision-encoder"]["rule"] == "vision-encoder/undeclared-reuse"
    assert rows["vision-encoder"]["origins"] == ["bert-s0"]
    assert rows["vision-encoder"]["p_value"] <= 1e-3
    assert rows["tokenizer"]["verdict"] == "compliant"
    _linked(audit)


def test_transplant_declared_is_what_the_preset_says(zoo, refs, transplant_weights, tmp_path):
    decl = _declared(tmp_path, TOKENIZER.format(name="transplant") + VISION)
    korea = run_audit(zoo.path("llava-transplant"), refs, policy="korea-2026", declared=decl,
                      weights=transplant_weights)
    assert _rows(korea)["vision-encoder"]["verdict"] == "needs-review"  # review-if-declared
    assert korea["verdict"] == "needs-review"
    others = {k: v["verdict"] for k, v in _rows(korea).items() if k != "vision-encoder"}
    assert set(others.values()) == {"compliant"}, others
    permissive = run_audit(zoo.path("llava-transplant"), refs, policy="permissive", declared=decl,
                           weights=transplant_weights)
    assert permissive["verdict"] == "compliant"  # allowed-if-declared
    _linked(korea)


def test_clean_submission_compliant_everywhere_via_cli(zoo, refs, tmp_path):
    (tmp_path / "d.toml").write_text(TOKENIZER.format(name="clean"))
    out = tmp_path / "out"
    argv = ["audit", str(zoo.path("llava-clean")), "--against", refs[0], "--against", refs[1],
            "--policy", "korea-2026", "--declared", str(tmp_path / "d.toml"),
            "--json", str(out / "audit.json"), "--html", str(out / "audit.html"), "--bom", str(out / "bom.json")]
    assert main(argv) == 0
    audit = json.loads((out / "audit.json").read_text())
    rows = _rows(audit)
    assert audit["verdict"] == "compliant"
    assert {"backbone", "embeddings", "vision-encoder", "projector", "tokenizer"} <= set(rows)
    assert {v["verdict"] for v in rows.values()} == {"compliant"}, {k: v["reason"] for k, v in rows.items()}
    _linked(audit)
    bom = json.loads((out / "bom.json").read_text())
    validate_bom(bom)
    assert all(not (c.get("pedigree") or {}).get("ancestors") for c in bom["components"]
               if c["name"] != "tokenizer")
    assert "compliant" in (out / "audit.html").read_text()
    # same inputs, same seed: byte-identical JSON
    first = (out / "audit.json").read_bytes()
    assert main(argv) == 0
    assert (out / "audit.json").read_bytes() == first
