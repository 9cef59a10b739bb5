"""Every command's real JSON validates against its committed JSON Schema and its typed model.

The schemas in docs/schemas/ are generated from ``fromscratch.schemas``; a model changed
without regenerating them fails here. Outputs come from the commands run on the fixture zoo,
the demo material and (marker ``real``) the cached real models.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

from fromscratch import jsonio
from fromscratch.cli import main
from fromscratch.schemas import BY_ID, validate
from tests.schemas.schemacheck import SCHEMAS, check

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "fromscratch" / "round" / "demo_material"


def _gen():
    spec = importlib.util.spec_from_file_location("gen_schemas", ROOT / "scripts" / "gen_schemas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_json(tmp_path: Path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "out.json"
    assert main([*args, "--json", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    return json.loads(text), text


def test_committed_schemas_are_current(tmp_path):
    gen = _gen()
    assert gen.stale() == [], "run: python scripts/gen_schemas.py"
    (tmp_path / "compare.json").write_text("{}")
    (tmp_path / "gone.json").write_text("{}")
    assert "compare.json" in gen.stale(tmp_path) and "gone.json" in gen.stale(tmp_path)


def test_every_schema_id_has_a_file():
    for sid in BY_ID:
        assert (SCHEMAS / (sid.split(".", 1)[1].split("/", 1)[0] + ".json")).is_file()


@pytest.fixture(scope="module")
def compare_doc(zoo, tmp_path_factory):
    return run_json(tmp_path_factory.mktemp("cmp"), "compare", str(zoo.path("llama-s0-ft")), str(zoo.path("llama-s0")))


def test_compare_on_the_zoo_validates_and_is_written_canonically(compare_doc):
    doc, text = compare_doc
    check(doc)
    assert doc["verdict"] == "derived"
    # written through jsonio: key order as built, floats at full precision, nothing re-sorted
    assert jsonio.dumps(doc) == text
    assert list(doc)[:8] == ["schema", "candidate", "reference", "verdict", "p_value",
                             "shared_parameter_fraction", "coverage", "components"]


def test_schemas_refuse_what_the_contract_forbids(compare_doc):
    doc, _ = compare_doc
    for mutate in (lambda d: d.__setitem__("verdict", "similar"),
                   lambda d: d["components"][0].__setitem__("relation", "copied"),
                   lambda d: d["components"][0].__setitem__("kind", "vision"),
                   lambda d: d["candidate"].pop("parameters"),
                   lambda d: d.__setitem__("schema", "fromscratch.compare/2")):
        bad = copy.deepcopy(doc)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            check(bad, "compare")
        with pytest.raises(Exception):  # noqa: B017 - pydantic.ValidationError or KeyError
            validate(bad)


@pytest.mark.parametrize("name", ["llama-s0", "llama-s0-q40", "llama-s0-pt", "llava-clean", "bert-s0"])
def test_inspect_on_the_zoo_validates(zoo, tmp_path, name):
    doc, text = run_json(tmp_path, "inspect", str(zoo.path(name)))
    check(doc)
    assert jsonio.dumps(doc) == text


def test_inspect_output_is_pinned_on_the_zoo(zoo, tmp_path):
    """Byte-for-byte the committed output (paths replaced): inspect reads headers only, so it
    does not move with the trained values, and a change of naming or key order shows here."""
    doc, text = run_json(tmp_path, "inspect", str(zoo.path("llava-clean")))
    got = text.replace(json.dumps(str(zoo.path("llava-clean")))[1:-1], "<zoo>/llava-clean")
    golden = Path(__file__).with_name("inspect-llava-clean.json")
    assert got == golden.read_text(encoding="utf-8")


def test_tokenizer_and_audit_on_the_zoo_validate(zoo, tmp_path):
    doc, _ = run_json(tmp_path, "tokenizer", str(zoo.path("llama-s0")), str(zoo.path("llama-tokb")))
    check(doc)
    doc, _ = run_json(tmp_path, "audit", str(zoo.path("llama-s0-ft")), "--against", str(zoo.path("llama-s0")),
                      "--policy", "korea-2026", "--code", str(DEMO / "teams" / "set" / "code"),
                      "--code-against", str(DEMO / "refcode" / "openinfer"))
    check(doc)
    assert doc["verdict"] in ("compliant", "violation", "needs-review")
    check(doc["code"])
    for ref in doc["references"]:
        check(ref, "compare")


def test_code_on_the_demo_material_validates(tmp_path):
    doc, text = run_json(tmp_path, "code", str(DEMO / "teams" / "set" / "code"),
                         "--against", str(DEMO / "refcode" / "openinfer"))
    check(doc)
    assert doc["files"] and jsonio.dumps(doc) == text


@pytest.mark.real
@pytest.mark.parametrize("key", ["smollm2-gguf", "e5-small", "minilm-onnx", "whisper-tiny-ct2"])
def test_inspect_and_tokenizer_on_real_models_validate(tmp_path, key):
    from realmodels import real_model

    path = real_model(key)
    doc, _ = run_json(tmp_path, "inspect", str(path))
    check(doc)
    if key != "minilm-onnx":  # the ONNX file carries no tokenizer
        doc, _ = run_json(tmp_path, "tokenizer", str(path), str(path))
        check(doc)
        assert doc["verdict"] == "identical"


def test_registry_and_search_on_the_zoo_validate(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("FROMSCRATCH_LINEAGE_CACHE", str(tmp_path / "fp"))
    reg = str(tmp_path / "reg")
    for name in ("llama-s0", "bert-s0"):
        assert main(["registry", "add", str(zoo.path(name)), "--name", name, "--registry", reg]) == 0
    doc, text = run_json(tmp_path, "registry", "list", "--registry", reg)
    check(doc)
    assert jsonio.dumps(doc) == text
    doc, text = run_json(tmp_path, "search", str(zoo.path("llama-s0-ft")), "--registry", reg)
    check(doc)
    assert doc["verdict"] == "derived" and jsonio.dumps(doc) == text


def test_gauntlet_on_the_zoo_validates(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("FROMSCRATCH_LINEAGE_CACHE", str(tmp_path / "fp"))
    doc, text = run_json(tmp_path, "gauntlet", str(zoo.path("llama-s0")), "--only", "format-f16,drift-5")
    check(doc)
    assert jsonio.dumps(doc) == text


@pytest.mark.torch
def test_bench_run_and_its_item_logs_validate(zoo, tmp_path):
    logs = tmp_path / "logs"
    doc, text = run_json(tmp_path, "bench", "run", "ko-dates", "--team", "t", "--model", str(zoo.path("llama-s0")),
                         "--out", str(tmp_path / "r.jsonl"), "--log-dir", str(logs))
    check(doc)
    assert jsonio.dumps(doc) == text and doc["runs"][0]["items"] == 50
    lines = [ln for p in sorted(logs.glob("*.jsonl")) for ln in p.read_text().splitlines()[1:]]  # after the header
    assert len(lines) == 50
    for line in lines:
        check(json.loads(line), "item-log")
    for line in (tmp_path / "r.jsonl").read_text().splitlines():
        check(json.loads(line), "result-row")


@pytest.mark.torch
def test_chain_on_a_built_chain_validates(tmp_path, monkeypatch):
    pytest.importorskip("tokenizers")
    from fromscratch.zoo.chains import build_chains

    monkeypatch.setenv("FROMSCRATCH_LINEAGE_CACHE", str(tmp_path / "fp"))
    chains = build_chains()
    e = chains["chains"]["forged-splice"]
    doc, text = run_json(tmp_path, "chain", *e["checkpoints"], "--model", e["model"],
                         "--against", f"ref-a={chains['references']['ref-a']}")
    check(doc)
    assert doc["verdict"] == "invalid" and jsonio.dumps(doc) == text
