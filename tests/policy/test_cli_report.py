"""The audit command's contract on bad input, and the HTML report."""

from __future__ import annotations

from fromscratch.cli import main
from fromscratch.policy.api import apply_policy, parse_reference
from fromscratch.policy.report import render_html
from tests.policy.evidence import compare_obj, lineage_audit


def test_bad_options_exit_2_with_one_line(tmp_path, capsys):
    model = tmp_path / "m"
    model.mkdir()
    cases = [
        (["audit", str(model), "--against", str(model), "--policy", "no-such-policy"], "not a preset"),
        (["audit", str(model), "--against", str(model), "--bom", str(tmp_path / "b.json")], "--policy"),
        (["audit", str(model), "--against", str(model), "--code-against", str(model)], "--code"),
        (["audit", str(model)], "--against"),
        (["audit", str(model), "--references", str(tmp_path / "none.toml")], "no such reference registry"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err


def test_bad_declaration_exits_2(tmp_path, capsys):
    model = tmp_path / "m"
    model.mkdir()
    bad = tmp_path / "d.toml"
    bad.write_text('[[component]]\nkind = "wings"\n')
    assert main(["audit", str(model), "--against", str(model), "--declared", str(bad)]) == 2
    assert "kind" in capsys.readouterr().err


def test_reference_labels(tmp_path):
    assert parse_reference("qwen=/models/q").label == "qwen"
    assert parse_reference("/models/q").label == "q"
    odd = tmp_path / "a=b"
    odd.mkdir()
    assert parse_reference(str(odd)).path == str(odd)  # an existing path with '=' is a path


def test_html_shows_every_verdict_and_pointer():
    audit = lineage_audit(compare_obj(("vision.",)))
    audit["references"][0]["label"] = "donor<script>"
    apply_policy(audit, "korea-2026", None, {"backbone", "embeddings"})
    page = render_html(audit)
    assert "<script>" not in page and "donor&lt;script&gt;" in page  # escaped, no scripts at all
    for row in audit["verdicts"]:
        assert row["component"] in page
        for item in row["evidence"]:
            assert item["pointer"] in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_reference_registry(tmp_path):
    from fromscratch.errors import InputError
    from fromscratch.policy.registry import expand, load_registry

    (tmp_path / "refs").mkdir()
    reg = tmp_path / "refs.toml"
    reg.write_text('[[reference]]\nname = "donor"\nmodel = "refs"\ncode = "/abs/src"\nlicence = "MIT"\n'
                   '[[reference]]\nname = "other"\nmodel = "/abs/other"\n')
    models, code, licences = expand(load_registry(reg))
    assert models == [f"donor={tmp_path / 'refs'}", "other=/abs/other"]
    assert code == ["donor=/abs/src"] and licences == {"donor": "MIT"}
    reg.write_text('[[reference]]\nname = "a"\n[[reference]]\nname = "a"\n')
    import pytest

    with pytest.raises(InputError, match="unique"):
        load_registry(reg)
    reg.write_text('[[reference]]\nname = "a"\nweights = "x"\n')
    with pytest.raises(InputError, match="weights"):
        load_registry(reg)
