"""Search finds what the pairwise test finds, flags nothing independent, and says what it skipped."""

from __future__ import annotations

import pytest

from regtools import ROOTS, fill
from fromscratch.lineage.api import compare_fingerprints
from fromscratch.registry.search import search_fingerprint


def _flagged_pairwise(cfp, zoo_fp, names):
    return {n for n in names if compare_fingerprints(cfp, zoo_fp(n))["verdict"] in ("identical", "derived")}


def _check(zoo, zoo_fp, reg, candidates):
    roots = [n for n in ROOTS if n in {e.name for e in zoo.entries}]
    parents = {e.name: e.parent for e in zoo.entries}
    problems = []
    for name in candidates:
        cfp = zoo_fp(name)
        obj = search_fingerprint(cfp, reg)
        found = {m["name"] for m in obj["matches"]}
        expected = _flagged_pairwise(cfp, zoo_fp, roots)
        truth = {parents.get(name) or name}
        if not expected <= found:
            problems.append(f"{name}: pairwise finds {sorted(expected)}, search {sorted(found)}")
        if not found <= truth:
            problems.append(f"{name}: search flags {sorted(found - truth)} (truth {sorted(truth)})")
        assert obj["searched"] == len(reg)
        assert len(obj["prefilter"]["passed"]) + len(obj["prefilter"]["passed_over"]) == len(reg)
        assert not any(p["name"].startswith("generated-") for p in obj["prefilter"]["passed"])
    return problems


#: derived through every route (exact hashes + anchor + identity for the permuted copy; the weakest
#: derived pair, continued pre-training; identity alone for the transplanted tower) and an
#: independent control; the slow test below runs the whole zoo against 1,000 generated models
QUICK = ["llama-s0-perm", "llama-s0-cpt", "llava-transplant", "llama-s3"]


def test_search_finds_every_pairwise_derived_pair(zoo, zoo_fp, zoo_registry):
    cands = [n for n in QUICK if n in {e.name for e in zoo.entries}]
    problems = _check(zoo, zoo_fp, zoo_registry, cands)
    assert not problems, "\n".join(problems)


def test_search_json_shape_and_correction(zoo, zoo_fp, zoo_registry):
    obj = search_fingerprint(zoo_fp("llama-s0-ft"), zoo_registry)
    assert obj["schema"] == "fromscratch.search/1" and obj["verdict"] == "derived"
    m = obj["matches"][0]
    assert m["name"] == "llama-s0" and 0 < m["shared_parameter_fraction"] <= 1 and m["components"]
    assert f"x{len(zoo_registry)}" in obj["multiple_comparisons"]
    raw = compare_fingerprints(zoo_fp("llama-s0-ft"), zoo_fp("llama-s0"))
    by = {c["name"]: c for c in raw["components"]}
    for c in m["components"]:
        if c["relation"] == "derived":
            assert c["p_value"] == pytest.approx(min(1.0, by[c["name"]]["p_value"] * len(zoo_registry)))
    assert obj["prefilter"]["blind_spots"]
    comp = next(c for c in obj["components"] if c["matches"])
    assert comp["matches"][0]["model"] == "llama-s0"


def test_search_cli_writes_json_and_html(zoo, zoo_registry, tmp_path, capsys):
    from fromscratch.cli import main

    j, h = tmp_path / "s.json", tmp_path / "s.html"
    rc = main(["search", str(zoo.path("llama-s0-perm")), "--registry", str(zoo_registry.root),
               "--json", str(j), "--html", str(h)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "llama-s0" in out and "verdict: derived" in out
    assert "<table>" in h.read_text() and '"fromscratch.search/1"' in j.read_text()
    first = j.read_bytes()
    main(["search", str(zoo.path("llama-s0-perm")), "--registry", str(zoo_registry.root), "--json", str(j)])
    assert j.read_bytes() == first
    assert main(["search", str(zoo.path("llama-s0")), "--registry", str(tmp_path / "empty")]) == 2


@pytest.mark.slow
def test_search_against_a_thousand_generated(zoo, zoo_fp, tmp_path):
    from fromscratch.registry.store import Registry

    roots = [n for n in ROOTS if n in {e.name for e in zoo.entries}]
    reg = fill(Registry(tmp_path / "big"), zoo, zoo_fp, roots, bulk=1000)
    assert len(reg) >= 1000 + len(roots)
    problems = _check(zoo, zoo_fp, reg, [e.name for e in zoo.entries])
    assert not problems, "\n".join(problems)
