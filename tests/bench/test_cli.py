from __future__ import annotations

import json

import pytest

from fromscratch.bench.results import read_results
from fromscratch.cli import main
from tests.schemas.schemacheck import check


def test_import_lm_eval_samples(tmp_path):
    f = tmp_path / "samples_kmmlu_law_2026-01-05T10-11-12.345.jsonl"
    lines = [{"doc_id": i, "doc": {}, "target": "A", "filter": "none", "metrics": ["acc"],
              "prompt_hash": f"h{i}", "acc": float(i % 2)} for i in range(4)]
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "r.jsonl"
    assert main(["bench", "import", str(f), "--team", "t1", "--out", str(out)]) == 0
    rows = read_results(out)
    assert [(r["benchmark"], r["item"], r["score"], r["prompt_sha256"]) for r in rows] == \
        [("kmmlu_law", str(i), float(i % 2), f"h{i}") for i in range(4)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": 0, "bleu": 37.5, "metrics": ["bleu"]}\n')
    assert main(["bench", "import", str(bad), "--team", "t", "--out", str(out)]) == 2


@pytest.mark.torch
def test_bench_run_cli_resumes(tiny_model, tmp_path, capsys):
    out = tmp_path / "res.jsonl"
    args = ["bench", "run", "ko-dates", "--team", "t", "--model", str(tiny_model), "--out", str(out),
            "--json", str(tmp_path / "meta.json")]
    assert main(args) == 0
    first = out.read_bytes()
    assert main(args) == 0
    assert out.read_bytes() == first
    meta = json.loads((tmp_path / "meta.json").read_text())
    check(meta)  # docs/schemas/bench.json and the typed model
    assert list(meta["runs"][0]) == ["benchmark", "task_sha256", "data_sha256", "version", "items", "reused",
                                     "asked", "prompts_sha256", "mean"]
    assert meta["runs"][0]["reused"] == 50 and meta["runs"][0]["asked"] == 0
    assert len(read_results(out)) == 50
    assert main(["bench", "run", "no-such-pack", "--team", "t", "--model", str(tiny_model),
                 "--out", str(out)]) == 2
