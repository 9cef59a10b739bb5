"""The real programme's benchmark definitions on stand-in data in their published schemas."""

from __future__ import annotations

import json

import pytest

from fromscratch.bench import resolve_task
from fromscratch.bench.loaders import loader_names
from fromscratch.bench.runner import run_task
from fromscratch.errors import InputError


@pytest.fixture
def standins(tmp_path):
    import standin

    return standin.write_all(tmp_path)


def test_every_definition_loads_its_standin(standins):
    assert set(standins) <= set(loader_names())
    for name, path in standins.items():
        task = resolve_task(f"{name}:{path}")
        assert task.name == name and task.items, name


def test_prompts_are_lm_evals(standins):
    kmmlu = resolve_task(f"kmmlu:{standins['kmmlu']}")
    first = kmmlu.items[0]
    assert first.request.context == "헌법의 최고 규범성은?\nA. 가\nB. 나\nC. 다\nD. 라\n정답："
    assert first.gold_index == 1 and first.request.continuations == (" A", " B", " C", " D")
    redux = resolve_task(f"kmmlu_redux:{standins['kmmlu_redux']}")
    assert redux.items[1].choices == ("A", "B", "C", "D", "E") and redux.items[1].gold_index == 0
    assert "E. NaCl\n정답：" in redux.items[1].request.context
    lm_eval = pytest.importorskip("lm_eval")
    del lm_eval
    from lm_eval.tasks.click.click_lang import utils as click_utils
    from lm_eval.tasks.kobest import utils as kobest_utils

    click = resolve_task(f"click:{standins['click']}")
    rows = [json.loads(line) for line in standins["click"].read_text(encoding="utf-8").splitlines()]
    for it, doc in zip(click.items, rows):
        assert it.request.context == click_utils.get_context(doc)
        assert list(it.choices) == click_utils.get_choices(doc)
        assert it.target == click_utils.get_target(doc)
    copa = resolve_task(f"kobest_copa:{standins['kobest_copa']}")
    doc = json.loads((standins["kobest_copa"] / "copa" / "test.jsonl").read_text(encoding="utf-8"))
    assert copa.items[0].request.context == kobest_utils.copa_doc_to_text(doc)
    assert copa.items[0].target == kobest_utils.copa_doc_to_target(doc)
    wic = resolve_task(f"kobest_wic:{standins['kobest_wic']}")
    doc = json.loads((standins["kobest_wic"] / "wic" / "test.jsonl").read_text(encoding="utf-8"))
    assert wic.items[0].request.context == kobest_utils.wic_doc_to_text(doc)
    assert resolve_task(f"kobest:{standins['kobest_wic'] / 'wic'}").name == "kobest_wic"


def test_missing_files_and_columns_are_named(standins, tmp_path):
    with pytest.raises(InputError, match="missing"):
        resolve_task(f"kmmlu:{tmp_path / 'missing'}")
    (standins["docvqa"].parent / "images" / "form-2.png").unlink()
    with pytest.raises(InputError) as err:
        resolve_task(f"docvqa:{standins['docvqa']}")
    assert "form-2.png" in str(err.value) and "q2" in str(err.value)
    bad = tmp_path / "bad" / "test.jsonl"
    bad.parent.mkdir()
    bad.write_text(json.dumps({"query": "질문"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks columns answer"):
        resolve_task(f"haerae:{bad}")


def test_vqa_items_carry_their_images_and_score_by_anls(standins):
    task = resolve_task(f"docvqa:{standins['docvqa']}")
    it = task.items[0]
    assert it.request.images and it.request.images[0][0].endswith("receipt-1.png")
    assert it.target == "12,500" and it.alternatives == ("12500",)
    from fromscratch.bench.scoring import anls, score_generation

    assert score_generation(task, it, "12500")[0] == 1.0
    assert anls("Kim Minj", ["Kim Minji"]) == pytest.approx(1 - 1 / 9)
    assert anls("Lee", ["Kim Minji"]) == 0.0


class _Recorder:
    """Takes the request body the HTTP backend sends and answers as a chat server does."""

    def __init__(self):
        self.bodies = []

    def __call__(self, request):
        import httpx

        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": "12500"}}]})


def test_images_go_out_as_openai_vision_parts(standins, tmp_path):
    import httpx

    from fromscratch.bench.backends.http import HttpBackend

    task = resolve_task(f"docvqa:{standins['docvqa']}")
    rec = _Recorder()
    be = HttpBackend("http://vision.invalid/v1", model="vlm", transport=httpx.MockTransport(rec))
    recs, _ = run_task(task, be, tmp_path / "log.jsonl", progress=False)
    import base64

    by_text = {b["messages"][0]["content"][1]["text"]: b["messages"][0]["content"] for b in rec.bodies}
    content = by_text[task.items[0].request.context]
    assert content[0]["type"] == "image_url" and content[0]["image_url"]["url"].startswith("data:image/png;base64,")
    sent = base64.b64decode(content[0]["image_url"]["url"].split(",", 1)[1])
    assert sent == (standins["docvqa"].parent / "images" / "receipt-1.png").read_bytes()
    assert [r["score"] for r in recs] == [1.0, 0.0]


def test_hf_cache_follows_refs_not_the_last_snapshot(tmp_path, monkeypatch):
    base = tmp_path / "hub" / "datasets--HAERAE-HUB--KMMLU"
    good, stale = "a" * 40, "f" * 40  # the stale one sorts last
    for commit, answer in ((good, 2), (stale, 1)):
        d = base / "snapshots" / commit / "data"
        d.mkdir(parents=True)
        (d / "Math-test.csv").write_text(f"question,A,B,C,D,answer\n1+1?,1,2,3,4,{answer}\n", encoding="utf-8")
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(good)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_task("kmmlu:hf").items[0].gold_index == 1
    (base / "refs" / "main").write_text("../../../../etc")
    with pytest.raises(InputError, match="not in the local Hugging Face cache"):
        resolve_task("kmmlu:hf")
