"""Chat templates (sandboxed), few-shot turns, reasoning spans and cut answers."""

from __future__ import annotations

import json

import pytest

from fromscratch.bench.backends.base import Generation
from fromscratch.bench.chat import ChatTemplate, apply_chat, chat_messages
from fromscratch.bench.reasoning import split_reasoning
from fromscratch.bench.runner import run_task
from fromscratch.bench.tasks import task_from_config
from fromscratch.errors import InputError

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def _task(tmp_path, k=2, out="generate_until", extra=None):
    (tmp_path / "test.jsonl").write_text("".join(json.dumps({"id": str(i), "q": f"{i}+1?", "a": str(i + 1)}) + "\n"
                                                 for i in range(3)))
    cfg = {"task": "t", "output_type": out, "dataset_path": "json",
           "dataset_kwargs": {"data_files": {"test": "test.jsonl", "dev": "test.jsonl"}},
           "fewshot_split": "dev", "num_fewshot": k, "doc_to_text": "Q: {{q}}\nA:", "doc_to_target": "{{a}}",
           "description": "Answer briefly.\n\n", **(extra or {})}
    if out == "multiple_choice":
        cfg["doc_to_choice"] = "{{[a, '0']}}"
        cfg["doc_to_target"] = 0
    return task_from_config(cfg, base=tmp_path)


def test_plain_turns_reproduce_the_plain_prompt(tmp_path):
    task = _task(tmp_path)
    for it in task.items:
        assert "".join(c + d for _, c, d in it.messages) == it.request.context


def test_fewshot_as_multiturn_and_single_turn(tmp_path):
    item = _task(tmp_path).items[2]
    multi = chat_messages(item.messages, multiturn=True)
    assert [m["role"] for m in multi] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert multi[2]["content"] == "1" and multi[-1]["content"] == "Q: 2+1?\nA:"
    single = chat_messages(item.messages, multiturn=False)
    assert [m["role"] for m in single] == ["system", "user"]
    assert single[1]["content"] == "Q: 0+1?\nA: 1\n\nQ: 1+1?\nA: 2\n\nQ: 2+1?\nA:"
    rendered = apply_chat(_task(tmp_path), ChatTemplate(CHATML, "t"), fewshot_as_multiturn=True)
    ctx = rendered.items[2].request.context
    assert ctx.startswith("<|im_start|>system\nAnswer briefly.\n\n<|im_end|>\n<|im_start|>user\nQ: 0+1?")
    assert ctx.endswith("<|im_start|>user\nQ: 2+1?\nA:<|im_end|>\n<|im_start|>assistant\n")
    assert rendered.sha256() != _task(tmp_path).sha256()  # a chat run never reuses a plain run's log


def test_multiple_choice_under_a_chat_template_drops_the_delimiter(tmp_path):
    task = apply_chat(_task(tmp_path, k=0, out="multiple_choice"), ChatTemplate(CHATML, "t"))
    assert task.items[0].request.continuations == ("1", "0")


def test_templates_are_sandboxed_and_errors_are_clear(tmp_path):
    evil = ChatTemplate("{{ messages.__class__.__mro__[1].__subclasses__() }}", "evil")
    with pytest.raises(InputError):
        evil.render([{"role": "user", "content": "x"}])
    mutate = ChatTemplate("{% set _ = messages.append(1) %}{{ messages|length }}", "mutate")
    with pytest.raises(InputError):
        mutate.render([{"role": "user", "content": "x"}])
    refuse = ChatTemplate("{{ raise_exception('system role not supported') }}", "refuse")
    with pytest.raises(InputError, match="system role not supported"):
        refuse.render([])
    with pytest.raises(InputError, match="no chat template"):
        ChatTemplate.from_model(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": [{"name": "default", "template": CHATML}], "eos_token": {"content": "<|im_end|>"}}))
    assert ChatTemplate.from_model(tmp_path).render([{"role": "user", "content": "hi"}]).endswith("assistant\n")


@pytest.mark.parametrize("text,answer,reasoning,unfinished", [
    ("<think>7 times 6 is 42</think>\n42", "42", "7 times 6 is 42", False),
    ("the prompt opened it</think> 42", "42", "the prompt opened it", False),
    ("<think>still thinking about 41", "", "still thinking about 41", True),
    ("<think>a</think>4<think>b</think>2", "42", "a\nb", False),
    ("42", "42", "", False),
])
def test_reasoning_spans(text, answer, reasoning, unfinished):
    got = split_reasoning(text)
    assert (got.answer, got.reasoning, got.unfinished) == (answer, reasoning, unfinished)


class _Scripted:
    """A backend that answers with fixed texts: the reasoning and cut logic is under test, not a model."""

    concurrency = 1

    def __init__(self, answers):
        self.answers = answers

    def describe(self):
        return {"kind": "scripted"}

    def loglikelihood(self, context, continuations):
        raise AssertionError("not used")

    def generate(self, prompt, until, max_tokens):
        return self.answers[prompt.rsplit("Q: ", 1)[1].split("+")[0]]


def test_reasoning_answers_are_scored_after_the_span_and_logged(tmp_path):
    task = _task(tmp_path, k=0, extra={"metric_list": [{"metric": "exact_match"}]})
    backend = _Scripted({"0": Generation("<think>0+1 is 1, not 2</think> 1"),
                         "1": Generation("<think>1+1 is 2"),  # cut while thinking
                         "2": Generation("3", cut=True)})
    recs, _ = run_task(task, backend, tmp_path / "log.jsonl", progress=False)
    assert [r["score"] for r in recs] == [1.0, 0.0, 1.0]
    assert recs[0]["response"] == "<think>0+1 is 1, not 2</think> 1"
    assert recs[0]["reasoning"] == "0+1 is 1, not 2" and recs[0]["answer"] == "1"
    assert recs[1]["reasoning_unfinished"] is True and recs[1]["answer"] == ""
    assert [r["cut"] for r in recs] == [False, False, True]
    off = _task(tmp_path, k=0, extra={"metric_list": [{"metric": "exact_match"}],
                                       "metadata": {"reasoning_spans": []}})
    recs, _ = run_task(off, backend, tmp_path / "log-off.jsonl", progress=False)
    assert recs[0]["score"] == 0.0  # stripping turned off: the thinking is part of the answer
    assert "reasoning" not in recs[0]
