"""A real (tiny, trained) model scored in-process and through an OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from fromscratch.bench import resolve_task
from fromscratch.bench.backends.http import HttpBackend
from fromscratch.bench.backends.local import LocalBackend
from fromscratch.bench.runner import run_task
from fromscratch.errors import InputError

pytestmark = pytest.mark.torch


def _subset(name, n):
    t = resolve_task(name)
    t.items = t.items[:n]
    return t


@pytest.fixture(scope="module")
def local(tiny_model):
    return LocalBackend(tiny_model)


def test_http_and_in_process_give_the_same_scores(local, tmp_path):
    import benchutil

    seen_logliks = []
    tasks = [_subset("ko-particles", 16), _subset("en-knowledge", 12), _subset("en-arith", 6)]
    with benchutil.OpenAIServer(local, fail_first=2) as srv:
        http = HttpBackend(srv.url, model="tiny", concurrency=3, retries=4, backoff=0.01,
                           generation="completions")
        chat = HttpBackend(srv.url, model="tiny", concurrency=2, backoff=0.01, generation="chat")
        for task in tasks:
            a, _ = run_task(task, local, tmp_path / f"{task.name}-local.jsonl", progress=False)
            b, _ = run_task(task, http, tmp_path / f"{task.name}-http.jsonl", progress=False)
            assert [r["score"] for r in a] == [r["score"] for r in b], task.name
            assert [r["prompt_sha256"] for r in a] == [r["prompt_sha256"] for r in b]
            if task.output_type == "multiple_choice":
                for ra, rb in zip(a, b):
                    seen_logliks.append(round(ra["logliks"][0], 4))
                    assert ra["logliks"] == pytest.approx(rb["logliks"], abs=1e-4)
                    assert ra["greedy"] == rb["greedy"]
            else:
                assert [r["response"] for r in a] == [r["response"] for r in b]
                c, _ = run_task(task, chat, tmp_path / f"{task.name}-chat.jsonl", progress=False)
                assert [r["response"] for r in a] == [r["response"] for r in c]
        assert srv.requests > 2  # the first two answers were 503 and were retried
    # the model was really trained (loss well below ln(vocab) ~ 5.9), and its
    # answers differ between items, so equal scores are not a coincidence of constants
    assert float((local.location / "train-loss.txt").read_text()) < 4.0
    assert len(set(seen_logliks)) > 10


def test_server_errors_are_one_clear_line(local):
    import benchutil

    with benchutil.OpenAIServer(local, fail_first=100) as srv:
        http = HttpBackend(srv.url, retries=1, backoff=0.01)
        with pytest.raises(InputError, match="no usable answer after 2 tries"):
            http.loglikelihood("a", [" b"])
    dead = HttpBackend("http://127.0.0.1:9", retries=0)
    with pytest.raises(InputError, match="ConnectError|no usable answer"):
        dead.generate("x", ["\n"], 2)


class _Interrupting:
    """Wraps a backend and fails after `limit` items (a crash mid-run)."""

    def __init__(self, inner, limit):
        self.inner, self.limit, self.calls, self.concurrency = inner, limit, 0, 1

    def describe(self):
        return self.inner.describe()

    def loglikelihood(self, context, continuations):
        self.calls += 1
        if self.calls > self.limit:
            raise KeyboardInterrupt
        return self.inner.loglikelihood(context, continuations)

    def generate(self, *a):
        return self.inner.generate(*a)


def test_resume_never_repeats_finished_items(local, tmp_path):
    task = _subset("en-dates", 20)
    ref, _ = run_task(task, local, tmp_path / "clean.jsonl", progress=False)
    log = tmp_path / "crash.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_task(task, _Interrupting(local, 7), log, progress=False)
    assert len(log.read_text().splitlines()) == 1 + 7
    with log.open("ab") as fh:  # a torn write at the moment of the crash
        fh.write(b'{"item": "en-dat')
    counting = _Interrupting(local, 10**9)
    again, counts = run_task(task, counting, log, progress=False)
    assert counts == {"items": 20, "reused": 7, "asked": 13} and counting.calls == 13
    # same answers; log-likelihoods equal up to float rounding (items batched differently)
    assert [(r["item"], r["score"], r["prediction"], r["prompt_sha256"]) for r in again] == \
        [(r["item"], r["score"], r["prediction"], r["prompt_sha256"]) for r in ref]
    for a, b in zip(again, ref):
        assert a["logliks"] == pytest.approx(b["logliks"], abs=1e-4)
    assert json.loads(json.dumps(again)) == again  # the rows are plain JSON values
    # a log from another task is refused, not mixed in
    with pytest.raises(InputError, match="another task"):
        run_task(_subset("en-dates", 19), local, log, progress=False)


def test_pytorch_checkpoint_through_the_model_readers(local, tmp_path):
    """A PyTorch zip checkpoint (read by the allow-list unpickler, never executed)
    gives the same numbers as the safetensors original."""
    import shutil

    import torch
    from safetensors.torch import load_file

    src = local.location
    d = tmp_path / "pt"
    d.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(src / name, d / name)
    torch.save(load_file(str(src / "model.safetensors")), str(d / "pytorch_model.bin"))
    other = LocalBackend(d)
    ctx, conts = "Question: What is the capital of France?\nAnswer:", [" Paris", " Rome", " Oslo"]
    assert other.loglikelihood(ctx, conts) == local.loglikelihood(ctx, conts)


@pytest.mark.parametrize("side_file", ["config.json", "tokenizer_config.json"])
def test_hostile_json_side_files_are_input_errors(tmp_path, side_file):
    """A submitted model's JSON side files go through the one capped reader: nesting past
    the parser's recursion limit is bad input (exit 2), never an internal error."""
    from fromscratch.bench.backends.local import LocalBackend
    from fromscratch.bench.chat import ChatTemplate

    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / side_file).write_text("[" * 200_000)
    with pytest.raises(InputError, match="not valid JSON"):
        if side_file == "config.json":
            LocalBackend(tmp_path)
        else:
            ChatTemplate.from_model(tmp_path)
