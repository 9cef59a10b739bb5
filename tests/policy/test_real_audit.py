"""A full audit on real weights: all-MiniLM-L6-v2 against its own int8 ONNX export and e5.

Slow (weight lineage on 22M + 118M parameters), so marked ``slow`` as well as ``real``.
"""

from __future__ import annotations

import json

import pytest

from fromscratch.cli import main
from fromscratch.policy.bom import validate_bom
from tests.realmodels import real_model

pytestmark = [pytest.mark.real, pytest.mark.slow]


def test_minilm_against_its_onnx_copy(tmp_path):
    cand = real_model("minilm-safetensors")
    onnx = real_model("minilm-onnx")
    e5 = real_model("e5-small")
    out = tmp_path / "audit.json"
    argv = ["audit", str(cand), "--against", f"minilm-int8={onnx}", "--against", f"e5={e5}",
            "--policy", "korea-2026", "--json", str(out), "--bom", str(tmp_path / "bom.json")]
    assert main(argv) == 0
    audit = json.loads(out.read_text())
    rows = {v["component"]: v for v in audit["verdicts"]}
    assert audit["verdict"] == "violation"
    for kind in ("backbone", "embeddings"):
        assert rows[kind]["verdict"] == "violation" and rows[kind]["origins"] == ["minilm-int8"]
    assert rows["tokenizer"]["verdict"] == "compliant"
    tok = {r["reference"]: r["verdict"] for r in audit["tokenizer"]["references"]}
    assert tok == {"minilm-int8": "unavailable", "e5": "independent"}
    validate_bom(json.loads((tmp_path / "bom.json").read_text()))
