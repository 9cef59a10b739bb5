"""``fromscratch gauntlet``: every disguise is made, checked and audited; the report is honest.

The fast tests use a synthetic llama (statistics like a trained model's, no
training); the zoo and SmolLM2-135M runs are marked ``slow`` (and ``real``).
A disguise is asserted caught only where the lineage documentation claims it;
for every disguise the report must agree with its own verdict (caught exactly
when the verdict is identical or derived), so a blind spot shows as missed.
"""

from __future__ import annotations

import json

import pytest

from fromscratch.cli import main
from fromscratch.disguise.gauntlet import DISGUISES
from tests.generators.lineage_synthetic import random_llama, write_model

#: disguises the lineage documentation claims to see through (rotation: the token-response tier;
#: no tokenizer: token ids as the row correspondence)
CLAIMED = {"format-f16", "format-gguf-q8_0", "requantise-q4_0", "permute-units", "permute-residual",
           "sign-flips", "rotate", "rescale", "rotate+permute", "rotate+drift-20", "prune-layers",
           "duplicate-layers", "extend-vocab", "reorder-vocab", "drift-5", "drift-20", "reinit-partial",
           "no-tokenizer+permute"}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_model(random_llama(3), tmp_path_factory.mktemp("syn") / "m")


def _run(path, out, *args) -> tuple[int, dict]:
    code = main(["gauntlet", str(path), "--json", str(out), *args])
    return code, (json.loads(out.read_text()) if code == 0 else {})


def _check_report(obj: dict, claimed: set[str]) -> None:
    assert obj["schema"] == "fromscratch.gauntlet/1"
    rows = {r["name"]: r for r in obj["disguises"]}
    assert set(rows) == {d.name for d in DISGUISES}
    ran = [r for r in rows.values() if r["verdict"] != "not-run"]
    assert obj["total"] == len(ran) and obj["caught"] == sum(r["caught"] for r in ran)
    for r in ran:
        assert r["caught"] == (r["verdict"] in ("identical", "derived")), r["name"]
        if r["expects_same_function"]:
            assert r["function_preserved"] is True, (r["name"], r["max_logit_diff"])
        else:
            assert r["function_preserved"] is None
    problems = [f"{n}: {rows[n]['verdict']} p={rows[n].get('p_value')}" for n in claimed
                if rows[n]["verdict"] != "not-run" and not rows[n]["caught"]]
    assert not problems, problems
    assert obj["missed"] == [r["name"] for r in ran if not r["caught"]]


def test_gauntlet_on_a_synthetic_llama(synthetic):
    code, obj = _run(synthetic, synthetic.parent / "g.json", "--html", str(synthetic.parent / "g.html"))
    assert code == 0
    _check_report(obj, CLAIMED)
    rows = {r["name"]: r for r in obj["disguises"]}
    # kept blocks stay derived and mapped to their own layer where the statistics see them
    for name in ("permute-units", "prune-layers", "duplicate-layers", "drift-5"):
        b = rows[name]["blocks"]
        assert b["derived"] == b["kept"] == b["mapped_to_source"] > 0, (name, b)
    assert rows["reinit-partial"]["blocks"]["reinitialised"] > 0
    assert rows["reinit-partial"]["blocks"]["reinitialised_flagged"] == 0
    html = (synthetic.parent / "g.html").read_text()
    assert "Disguise gauntlet" in html and "reinit-partial" in html and "<script" not in html


def test_gauntlet_is_deterministic(synthetic):
    out = synthetic.parent / "d.json"
    texts = []
    for _ in range(2):
        assert main(["gauntlet", str(synthetic), "--only", "rotate,drift-20,reorder-vocab",
                     "--seed", "5", "--json", str(out)]) == 0
        texts.append(out.read_bytes())
    assert texts[0] == texts[1]
    assert [r["name"] for r in json.loads(texts[0])["disguises"]] == ["rotate", "reorder-vocab", "drift-20"]


@pytest.mark.parametrize("content", [b"not a model at all", b"GGUF\x03\x00\x00\x00garbage"])
def test_hostile_input_exit_2(tmp_path, content, capsys):
    p = tmp_path / "bad.gguf"
    p.write_bytes(content)
    assert main(["gauntlet", str(p)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bad.gguf" in err and "Traceback" not in err


def test_unknown_disguise_and_missing_model(synthetic, tmp_path):
    assert main(["gauntlet", str(synthetic), "--only", "nope"]) == 2
    assert main(["gauntlet", str(tmp_path / "absent")]) == 2


@pytest.mark.slow
@pytest.mark.torch
def test_gauntlet_on_the_zoo_llama(zoo, tmp_path):
    import shutil

    src = tmp_path / "llama-s0"
    shutil.copytree(zoo.path("llama-s0"), src)
    code, obj = _run(src, tmp_path / "g.json")
    assert code == 0
    _check_report(obj, CLAIMED | {"drift-50"})
    rows = {r["name"]: r for r in obj["disguises"]}
    for name in CLAIMED - {"reinit-partial"}:
        assert rows[name]["complete"], (name, rows[name]["blocks"])


#: the SmolLM2 disguises run in the default suite (the full gauntlet takes minutes on 2 cores;
#: FROMSCRATCH_GAUNTLET_FULL=1 runs all of them; docs/gauntlet.md reports a full run)
SMOLLM_SUBSET = ("rotate+permute", "rescale", "reinit-partial", "no-tokenizer+permute")


@pytest.mark.slow
@pytest.mark.real
def test_gauntlet_on_smollm2(tmp_path):
    import os

    from realmodels import real_model

    src = real_model("smollm2-gguf")
    full = bool(os.environ.get("FROMSCRATCH_GAUNTLET_FULL"))
    args = [] if full else ["--only", ",".join(SMOLLM_SUBSET)]
    code, obj = _run(src, tmp_path / "g.json", *args)
    assert code == 0
    rows = {r["name"]: r for r in obj["disguises"]}
    if not full:
        assert set(rows) == set(SMOLLM_SUBSET)
        obj = {**obj, "disguises": [rows.get(d.name) or {"name": d.name, "verdict": "not-run", "caught": False}
                                    for d in DISGUISES]}
    for r in obj["disguises"]:
        if r["verdict"] == "not-run":
            continue
        assert r["caught"] == (r["verdict"] in ("identical", "derived")), r["name"]
        if r["expects_same_function"]:
            assert r["function_preserved"] is True, (r["name"], r["max_logit_diff"])
    missed = [n for n in CLAIMED if n in rows and not rows[n]["caught"]]
    assert not missed, missed
    # every kept block derived and mapped to its own layer (no-tokenizer+permute was 0 of 60 before
    # string-less fingerprints kept all coordinates)
    incomplete = [(n, rows[n]["blocks"]) for n in CLAIMED if n in rows and not rows[n]["complete"]]
    assert not incomplete, incomplete
    assert obj["model"]["tied_embeddings"] is True and obj["model"]["layers"] == 30
