"""Loaders for the real Korean benchmarks from local files or the local HF cache.

No Korean benchmark ships in a package registry, so an agency downloads them
once (or finds them in ``~/.cache/huggingface``) and points us at the files.
Nothing here touches the network. Prompts follow lm-evaluation-harness's task
definitions in spirit (question, lettered options, answer by log-likelihood),
so scores are comparable in kind, not guaranteed identical to lm-eval's.

* ``kmmlu:PATH``  — HAERAE-HUB/KMMLU CSV or Parquet (``question, A, B, C, D, answer``
  with answer 1–4); PATH a file, a folder of ``*-test.csv``, or ``hf`` for the cache.
* ``haerae:PATH`` — HAE-RAE Bench 1.0 (``query``, ``answer`` as "(A)".."(E)").
* ``click:PATH``  — CLIcK (``paragraph, question, choices, answer`` (answer = choice text)).
* ``kobest:PATH`` — KoBEST subsets, recognised by their columns (BoolQ, COPA,
  HellaSwag, SentiNeg, WiC).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fromscratch.bench.tasks import Task, read_records, task_from_config
from fromscratch.errors import InputError

HF_REPOS = {"kmmlu": "datasets--HAERAE-HUB--KMMLU", "haerae": "datasets--HAERAE-HUB--HAE_RAE_BENCH_1.0",
            "click": "datasets--EunsuKim--CLIcK", "kobest": "datasets--skt--kobest_v1"}
_DATA_SUFFIXES = {".csv", ".jsonl", ".json", ".parquet"}


def hf_cache_root() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "hub"


def _files(kind: str, path: Path) -> list[Path]:
    if str(path) == "hf":
        repo = hf_cache_root() / HF_REPOS[kind] / "snapshots"
        snaps = sorted(repo.iterdir()) if repo.is_dir() else []
        if not snaps:
            raise InputError(repo, f"{kind} is not in the local Hugging Face cache")
        path = snaps[-1]
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, "benchmark data not found")
    found = sorted(p for p in path.rglob("*") if p.suffix.lower() in _DATA_SUFFIXES and p.is_file())
    tests = [p for p in found if "test" in p.name.lower()]
    if not (tests or found):
        raise InputError(path, "no CSV/JSONL/Parquet data files here")
    return tests or found


def _docs(kind: str, path: Path) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for f in _files(kind, path):
        subset = f.stem.replace("-test", "").replace("_test", "")
        for i, row in enumerate(read_records(f)):
            row = dict(row)
            row.setdefault("_subset", subset)
            row["id"] = f"{subset}/{row.get('id', i)}"
            docs.append(row)
    if not docs:
        raise InputError(path, "no items")
    return docs


def load_korean(kind: str, path: str | Path) -> Task:
    path = Path(path)
    docs = _docs(kind, path)
    where = str(path)
    if kind == "kmmlu":
        need = {"question", "A", "B", "C", "D", "answer"}
        cfg = {"task": "kmmlu", "output_type": "multiple_choice",
               "doc_to_text": "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n정답:",
               "doc_to_choice": ["A", "B", "C", "D"], "doc_to_target": "{{answer|int - 1}}"}
    elif kind == "haerae":
        need = {"query", "answer"}
        cfg = {"task": "haerae", "output_type": "multiple_choice", "doc_to_text": "{{query}}",
               "doc_to_choice": ["(A)", "(B)", "(C)", "(D)", "(E)"], "doc_to_target": "{{answer}}"}
    elif kind == "click":
        need = {"paragraph", "question", "choices", "answer"}
        for d in docs:
            if isinstance(d.get("choices"), str):
                import ast

                try:
                    d["choices"] = ast.literal_eval(d["choices"])
                except (ValueError, SyntaxError):
                    raise InputError(where, "CLIcK choices must be a list") from None
        cfg = {"task": "click", "output_type": "multiple_choice",
               "doc_to_text": "{{paragraph}}\n질문: {{question}}\n정답:", "doc_to_choice": "choices",
               "doc_to_target": "{{answer}}"}
    elif kind == "kobest":
        return _kobest(docs, where)
    else:
        raise InputError(kind, "unknown benchmark loader (kmmlu, haerae, click, kobest)")
    missing = need - set(docs[0])
    if missing:
        raise InputError(where, f"{kind} data lacks columns {', '.join(sorted(missing))}")
    cfg["metadata"] = {"version": "local", "source": kind}
    return task_from_config(cfg, base=path if path.is_dir() else path.parent, source=where, docs=docs)


def _kobest(docs: list[dict[str, Any]], where: str) -> Task:
    cols = set(docs[0])
    if {"paragraph", "question", "label"} <= cols:
        name, text, choice = "kobest_boolq", "{{paragraph}}\n질문: {{question}}\n답변:", ["아니오", "예"]
    elif {"premise", "alternative_1", "alternative_2"} <= cols:
        name = "kobest_copa"
        text = "{{premise}} {{'왜냐하면' if question == '원인' else '그래서'}}"
        choice = "{{[alternative_1, alternative_2]}}"
    elif {"context", "ending_1", "ending_4"} <= cols:
        name, text, choice = "kobest_hellaswag", "{{context}}", "{{[ending_1, ending_2, ending_3, ending_4]}}"
    elif {"sentence", "label"} <= cols:
        name, text, choice = "kobest_sentineg", "문장: {{sentence}} 긍부정:", ["부정", "긍정"]
    elif {"word", "context_1", "context_2"} <= cols:
        name = "kobest_wic"
        text = "문장1: {{context_1}} 문장2: {{context_2}} 두 문장에서 {{word}}가 같은 뜻으로 쓰였나?"
        choice = ["아니오", "예"]
    else:
        raise InputError(where, "KoBEST data with unknown columns")
    cfg = {"task": name, "output_type": "multiple_choice", "doc_to_text": text, "doc_to_choice": choice,
           "doc_to_target": "{{label|int}}", "metadata": {"version": "local", "source": "kobest"}}
    return task_from_config(cfg, base=Path(where), source=where, docs=docs)
