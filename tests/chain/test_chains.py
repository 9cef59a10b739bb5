"""Genuine chains pass every check; each forgery fails at the right step, for the right reason."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

FORGERIES = ["forged-noise", "forged-shuffle", "forged-splice", "forged-submission", "forged-other"]


def _assert_valid(obj: dict, relation: str = "identical") -> None:
    assert obj["verdict"] == "valid", obj["failures"]
    assert obj["init"]["fresh"] and obj["init"]["p_value"] >= obj["init"]["alpha"]
    assert all(s["flag"] is None and s["relation"] in ("identical", "derived") for s in obj["steps"])
    assert obj["submission"]["relation"] == relation
    assert all(r["relation"] not in ("identical", "derived") for h in obj["references"] for r in h["references"])


@pytest.mark.parametrize("name", ["g00", "g01", "g02", "g05"])
def test_ci_genuine_chains_are_valid(chains, verified, name):
    assert name in chains["ci_genuine"]
    _assert_valid(verified(name))


def test_post_trained_submission_is_derived_and_valid(verified):
    _assert_valid(verified("genuine-post"), relation="derived")


@pytest.mark.parametrize("name", FORGERIES)
def test_forgery_fails_at_the_right_step_for_the_right_reason(chains, verified, name):
    expect = chains["chains"][name]["expect"]
    obj = verified(name)
    assert obj["verdict"] == "invalid"
    failures = obj["failures"]
    assert min(f["step"] for f in failures) == expect["step"]
    assert any(f["step"] == expect["step"] and f["check"] == expect["check"] for f in failures), failures
    assert obj["first_failure"]["step"] == expect["step"]


def test_noised_init_fails_the_init_test_on_structure_not_only_scale(verified):
    init = verified("forged-noise")["init"]
    assert not init["fresh"]
    assert any("Marchenko-Pastur" in f or "row norms" in f for f in init["findings"])


def test_shuffled_init_fails_although_lineage_misses_it(verified):
    obj = verified("forged-shuffle")
    assert not obj["init"]["fresh"]
    assert all(r["relation"] != "derived" for r in obj["references"][0]["references"])


def test_splice_names_the_replaced_step_as_a_jump_and_reference_reuse(verified):
    obj = verified("forged-splice")
    step3 = [f for f in obj["failures"] if f["step"] == 3]
    assert {f["check"] for f in step3} == {"continuity", "reference"}
    assert obj["steps"][2]["flag"] == "jump"


def test_submission_sections_say_which_relation(verified):
    assert verified("forged-submission")["submission"]["relation"] == "independent"
    assert verified("forged-other")["submission"]["relation"] == "independent"


@pytest.mark.slow
def test_every_genuine_chain_is_valid(chains, verified):
    """No false alarm on any genuine chain, calibration and held-out sets alike."""
    bad = {}
    for name, e in chains["chains"].items():
        if e["kind"] == "genuine":
            obj = verified(name)
            if obj["verdict"] != "valid":
                bad[name] = obj["failures"]
    assert not bad, bad
    assert sum(e["kind"] == "genuine" for e in chains["chains"].values()) >= 40


def test_cli_json_is_deterministic_and_exit_codes(chains, tmp_path, capsys):
    from fromscratch.cli import main

    e = chains["chains"]["forged-splice"]
    args = ["chain", *e["checkpoints"], "--model", e["model"], "--against", f"ref-a={chains['references']['ref-a']}"]
    out1, out2, html = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.html"
    assert main([*args, "--json", str(out1), "--html", str(html)]) == 0
    assert main([*args, "--json", str(out2)]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    obj = json.loads(out1.read_text())
    assert obj["schema"] == "fromscratch.chain/1" and obj["verdict"] == "invalid"
    assert "jump" in html.read_text()
    capsys.readouterr()
    assert main(["chain", str(tmp_path / "missing"), "--json", "-"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["chain", e["checkpoints"][0], "--init", "family=laplace"]) == 2
    garbage = tmp_path / "ckpt.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    capsys.readouterr()
    assert main(["chain", e["checkpoints"][0], str(garbage)]) == 2
    err = capsys.readouterr().err
    assert "ckpt.safetensors" in err and "Traceback" not in err
    deep = tmp_path / "config.json"  # a hostile declared config: nesting past the parser's recursion limit
    deep.write_text("[" * 200_000)
    assert main(["chain", e["checkpoints"][0], "--config", str(deep)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_folder_of_checkpoints_expands_in_order(chains):
    from pathlib import Path

    from fromscratch.chain.api import expand_checkpoints

    e = chains["chains"]["g00"]
    folder = str(Path(e["checkpoints"][0]).parent)
    assert expand_checkpoints([folder]) == e["checkpoints"]
    assert expand_checkpoints([folder + "/step-*"]) == e["checkpoints"]


def test_flagged_reference_checks_still_name_the_spliced_reference(chains):
    from fromscratch.chain.api import verify_chain

    e = chains["chains"]["forged-splice"]
    obj = verify_chain(e["checkpoints"], model=e["model"], references=[("ref-a", chains["references"]["ref-a"])],
                       reference_checks="flagged")
    checked = [h["index"] for h in obj["references"]]
    assert checked == [0, 3, 4, len(e["checkpoints"]) - 1]
    assert any(f["step"] == 3 and f["check"] == "reference" for f in obj["failures"])


def test_interpolated_chain_is_the_stated_blind_spot_and_anchor_reports_it(chains, tmp_path):
    """(1 - t) * fresh init + t * trained model: continuity passes; only the anchor and references see it."""
    import shutil
    from pathlib import Path

    from safetensors.numpy import load_file, save_file

    from fromscratch.chain.api import verify_chain

    init_dir = Path(chains["chains"]["g00"]["checkpoints"][0])
    stolen = Path(chains["references"]["ref-b"])
    a, b = load_file(str(init_dir / "model.safetensors")), load_file(str(stolen / "model.safetensors"))
    paths = []
    for k, t in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        out = tmp_path / f"step-{k}"
        shutil.copytree(init_dir, out)
        save_file({n: ((1 - t) * a[n] + t * b[n]).astype(a[n].dtype) for n in a}, str(out / "model.safetensors"))
        paths.append(str(out))
    alone = verify_chain(paths, model=paths[-1])
    assert alone["init"]["fresh"] and all(s["flag"] is None for s in alone["steps"])
    assert alone["anchor"]["relation"] == "independent"
    caught = verify_chain(paths, model=paths[-1], references=[("ref-b", str(stolen))])
    assert caught["verdict"] == "invalid"
    assert any(f["check"] == "reference" and f["step"] == 4 for f in caught["failures"])
