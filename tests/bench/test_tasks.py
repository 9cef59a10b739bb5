from __future__ import annotations

import json
import unicodedata

import pytest

from fromscratch.bench import resolve_task
from fromscratch.bench.normalize import normalise, parse_number
from fromscratch.bench.packs import list_packs
from tests.generators.packs import has_batchim, render_all, ro
from fromscratch.bench.scoring import score_choices, score_generation
from fromscratch.bench.tasks import load_task
from fromscratch.errors import InputError


def _write_task(tmp_path, yaml_text, rows, name="data.jsonl"):
    (tmp_path / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "task.yaml").write_text(yaml_text, encoding="utf-8")
    return tmp_path / "task.yaml"


MC_YAML = """task: cap
dataset_path: json
dataset_kwargs: {data_files: {test: data.jsonl}}
output_type: multiple_choice
doc_to_text: "Q: {{question}}\\nA:"
doc_to_choice: "{{options}}"
doc_to_target: label
"""


def test_multiple_choice_task_from_yaml(tmp_path):
    p = _write_task(tmp_path, MC_YAML, [{"question": "2+2?", "options": ["3", "4"], "label": 1},
                                         {"question": "서울은?", "options": ["도시", "강"], "label": 0}])
    t = load_task(p)
    assert t.output_type == "multiple_choice" and t.metric == "acc"
    assert [i.item_id for i in t.items] == ["0", "1"]
    assert t.items[0].request.context == "Q: 2+2?\nA:"
    assert t.items[0].request.continuations == (" 3", " 4")
    assert t.items[0].gold_index == 1 and t.items[1].target == "도시"
    # the task hash covers the data: change one answer and it changes
    h = t.sha256()
    _write_task(tmp_path, MC_YAML, [{"question": "2+2?", "options": ["3", "4"], "label": 0},
                                     {"question": "서울은?", "options": ["도시", "강"], "label": 0}])
    assert load_task(p).sha256() != h


def test_csv_data_and_fewshot(tmp_path):
    (tmp_path / "train.csv").write_text("q,a\n1+1,2\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("q,a\n2+3,5\n4+4,8\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text("""task: add
dataset_path: csv
dataset_kwargs: {data_files: {test: test.csv, train: train.csv}}
fewshot_split: train
num_fewshot: 1
output_type: generate_until
doc_to_text: "{{q}}="
doc_to_target: a
target_delimiter: ""
generation_kwargs: {until: ["\\n"], max_gen_toks: 4}
metric_list: [{metric: numeric_match}]
""")
    t = load_task(tmp_path / "t.yaml")
    assert t.items[0].request.context == "1+1=2\n\n2+3="
    assert t.items[1].request.until == ("\n",) and t.items[1].request.max_tokens == 4


@pytest.mark.parametrize("bad, problem", [
    ("doc_to_text: !function utils.doc_to_text\n", "execute Python"),
    ("dataset_kwargs: {data_files: {test: 'https://example.org/x.jsonl'}}\n", "no network"),
    ("output_type: loglikelihood_rolling\n", "not supported"),
    ("metric_list: [{metric: bleu}]\n", "not supported"),
])
def test_hostile_or_unsupported_tasks_are_refused(tmp_path, bad, problem):
    key = bad.split(":")[0]
    text = "\n".join(line for line in MC_YAML.splitlines() if not line.startswith(key)) + "\n" + bad
    p = _write_task(tmp_path, text, [{"question": "x", "options": ["a", "b"], "label": 0}])
    with pytest.raises(InputError, match=problem):
        load_task(p)


def test_sandboxed_templates_cannot_reach_python(tmp_path):
    text = MC_YAML.replace('"Q: {{question}}\\nA:"', '"{{ question.__class__.__mro__[1].__subclasses__() }}"')
    p = _write_task(tmp_path, text, [{"question": "x", "options": ["a", "b"], "label": 0}])
    with pytest.raises(InputError, match="template"):
        load_task(p)


def test_korean_normalisation():
    nfd = unicodedata.normalize("NFD", "서울")
    assert nfd != "서울" and normalise(nfd) == normalise(" 서울 ") == normalise("서울\u3000") == "서울"
    assert normalise("Seoul.") == normalise("seoul")
    assert parse_number("답: 1,250원") == 1250.0 and parse_number("3/4") == 0.75
    assert parse_number("２５") == 25.0 and parse_number("없음") is None


def test_generation_scoring_regex_and_numeric(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"q": "x", "a": "42"}\n')
    (tmp_path / "task.yaml").write_text("""task: g
dataset_path: json
dataset_kwargs: {data_files: {test: d.jsonl}}
output_type: generate_until
doc_to_text: "{{q}}"
doc_to_target: a
filter_list: [{name: get, filter: [{function: regex, regex_pattern: "answer is (\\\\S+)"}, {function: take_first}]}]
metric_list: [{metric: numeric_match}]
""")
    t = load_task(tmp_path / "task.yaml")
    item = t.items[0]
    assert score_generation(t, item, "I think the answer is 42.0 indeed")[0] == 1.0
    assert score_generation(t, item, "the answer is 41")[0] == 0.0
    t.metric = "exact_match"
    assert score_generation(t, item, "so the answer is 42")[0] == 1.0


def test_choice_scoring_ties_and_length_normalisation():
    t = resolve_task("en-knowledge")
    item = t.items[0]
    g = item.gold_index
    ll = [-5.0] * len(item.choices)
    ll[g] = -1.0
    assert score_choices(t, item, ll) == (1.0, g)
    tie = [-1.0] * len(item.choices)
    assert score_choices(t, item, tie)[1] == 0  # ties: lowest index, deterministic


def test_packs_are_reproducible_and_sizeable():
    rendered = render_all()
    assert sorted(rendered) == list_packs() and len(rendered) >= 8
    from fromscratch.bench.packs import HERE

    for name, files in rendered.items():
        for fname, text in files.items():
            assert (HERE / name / fname).read_text(encoding="utf-8") == text, f"{name}/{fname} differs"
        t = resolve_task(name)
        assert 40 <= len(t.items) <= 100
        assert "Apache-2.0" in files["task.yaml"]
    # the Korean grammar rules the particle pack is generated from
    assert has_batchim("책") and not has_batchim("사과") and ro("서울") == "로" and ro("산") == "으로"
    t = resolve_task("ko-particles")
    for it in t.items:
        assert len(set(it.choices)) == 2


def test_korean_loaders(tmp_path):
    (tmp_path / "Law-test.csv").write_text("question,A,B,C,D,answer,Category\n헌법은?,가,나,다,라,2,law\n",
                                           encoding="utf-8")
    t = resolve_task(f"kmmlu:{tmp_path}")
    assert t.items[0].gold_index == 1 and t.items[0].request.continuations[1] == " B"
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "boolq_test.jsonl").write_text(json.dumps(
        {"paragraph": "하늘은 파랗다.", "question": "하늘은 파란가?", "label": 1}, ensure_ascii=False) + "\n")
    t = resolve_task(f"kobest:{kb}")
    assert t.name == "kobest_boolq" and t.items[0].target == "예"
    with pytest.raises(InputError):
        resolve_task(f"kmmlu:{tmp_path / 'missing'}")


def test_loader_reads_the_local_hf_cache(tmp_path, monkeypatch):
    snap = tmp_path / "hub" / "datasets--HAERAE-HUB--KMMLU" / "snapshots" / "abc123" / "data"
    snap.mkdir(parents=True)
    (snap / "Math-test.csv").write_text("question,A,B,C,D,answer\n1+1?,1,2,3,4,2\n2+2?,4,3,2,1,1\n",
                                        encoding="utf-8")
    (snap / "Math-train.csv").write_text("question,A,B,C,D,answer\nx,1,2,3,4,1\n", encoding="utf-8")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    t = resolve_task("kmmlu:hf")
    assert [i.item_id for i in t.items] == ["Math/0", "Math/1"]  # test split only
    assert [i.gold_index for i in t.items] == [1, 0]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(InputError, match="not in the local Hugging Face cache"):
        resolve_task("click:hf")
