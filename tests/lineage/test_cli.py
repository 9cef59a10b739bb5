"""`fromscratch compare` on the command line: contract keys, HTML, exit codes, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fromscratch.cli import main
from tests.generators import lineage_synthetic as sy

KEYS = {"schema", "candidate", "reference", "verdict", "p_value", "shared_parameter_fraction", "coverage", "components"}
COMPONENT_KEYS = {"name", "kind", "layer", "reference_name", "reference_layer", "relation", "basis", "p_value",
                  "similarity", "parameters"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lineage-cli")
    base = sy.random_llama(0)
    return (sy.write_model(sy.perturb(sy.permute(base, 2), 3, 0.2), root / "cand"),
            sy.write_model(base, root / "ref"))


def test_compare_writes_contract_json_and_html(pair, tmp_path, capsys):
    out, html = tmp_path / "c.json", tmp_path / "c.html"
    assert main(["compare", str(pair[0]), str(pair[1]), "--json", str(out), "--html", str(html)]) == 0
    obj = json.loads(out.read_text())
    assert KEYS <= set(obj) and obj["schema"] == "fromscratch.compare/1"
    assert obj["verdict"] == "derived"
    for c in obj["components"]:
        assert COMPONENT_KEYS <= set(c)
        assert 0.0 <= c["similarity"] <= 1.0 and 0.0 <= c["p_value"] <= 1.0
        assert c["relation"] in ("identical", "derived", "independent", "inconclusive")
        if c["relation"] == "inconclusive":
            assert c.get("reason")
    text = html.read_text()
    assert "<svg" in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "derived" in capsys.readouterr().out  # the terminal table


def test_compare_json_is_byte_identical(pair, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["compare", str(pair[0]), str(pair[1]), "--json", str(a), "--seed", "5"]) == 0
    assert main(["compare", str(pair[0]), str(pair[1]), "--json", str(b), "--seed", "5"]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_bad_inputs_exit_2(pair, tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing"), str(pair[1])]) == 2
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    assert main(["compare", str(junk), str(pair[1])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err


def test_html_escapes_names(pair, tmp_path):
    from fromscratch.lineage.api import compare
    from fromscratch.lineage.report import render_html

    obj = compare(pair[0], pair[1])
    obj["candidate"]["path"] = "<script>alert(1)</script>"
    assert "<script>alert" not in render_html([obj])
