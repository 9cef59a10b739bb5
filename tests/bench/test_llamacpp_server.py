"""The HTTP backend against a real OpenAI-compatible server: llama.cpp's, serving SmolLM2's GGUF.

Needs ``llama-cpp-python[server]`` (a source build; see docs/bench.md) and the
SmolLM2 GGUF from the package registry. In-process scores come from the same
GGUF, dequantised to float32; llama.cpp computes with the quantised weights,
so log-likelihoods differ by a small amount the docs state (``HTTP_TOL``).

Both sides run with BOS: llama-cpp-python 0.3.36 misaligns echoed prompt
log-probabilities by one token for models that add no BOS (SmolLM2's GGUF
says ``add_bos_token = false``), so the server gets a copy with the flag set
(`benchutil.gguf_with_bos`, weights untouched) and the in-process backend
``add_bos=True``. `test_llamacpp_misaligns_prompt_logprobs_without_bos` keeps
that defect visible.
"""

from __future__ import annotations

import pytest

from fromscratch.bench import resolve_task
from fromscratch.bench.backends.base import BackendError
from fromscratch.bench.backends.http import HttpBackend
from fromscratch.bench.backends.local import LocalBackend
from fromscratch.bench.runner import run_task

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.torch, pytest.mark.timeout(3600)]

HTTP_TOL = 1.0      # nats per choice, quantised (llama.cpp) vs dequantised float32 (in-process)
AGREE_MIN = 0.9     # share of items with the same prediction
N_ITEMS = 5  # llama-cpp-python sorts the whole vocabulary per echoed token: slow on two shared cores


@pytest.fixture(scope="module")
def gguf(request):
    expr = request.config.getoption("markexpr") or ""
    if not any(m in expr and f"not {m}" not in expr for m in ("slow", "real")):
        pytest.skip("minutes long: runs with -m slow or -m real")
    from realmodels import real_model

    return real_model("smollm2-gguf")


@pytest.fixture(scope="module")
def server(gguf):
    pytest.importorskip("llama_cpp", reason='needs llama-cpp-python[server] (pip install "fromscratch[server-test]")')
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    import benchutil

    with benchutil.LlamaCppServer(benchutil.gguf_with_bos(gguf), threads=2) as srv:
        yield srv


def _subset(name, n=N_ITEMS):
    t = resolve_task(name)
    t.items = t.items[:n]
    return t


def test_http_scores_equal_in_process_within_tolerance(server, gguf, tmp_path):
    import benchutil

    local = LocalBackend(benchutil.smollm2_hf(gguf), add_bos=True)
    http = HttpBackend(server.url, model="smollm2", concurrency=2, generation="completions")
    diffs, same, n = [], 0, 0
    for name in ("en-knowledge", "ko-knowledge"):
        task = _subset(name)
        a, _ = run_task(task, local, tmp_path / f"{name}-local.jsonl", progress=False)
        b, _ = run_task(task, http, tmp_path / f"{name}-http.jsonl", progress=False)
        assert [r["prompt_sha256"] for r in a] == [r["prompt_sha256"] for r in b]
        for ra, rb in zip(a, b):
            diffs += [abs(x - y) for x, y in zip(ra["logliks"], rb["logliks"])]
            same += ra["prediction"] == rb["prediction"]
            n += 1
    diffs.sort()
    print({"choices": len(diffs), "median": diffs[len(diffs) // 2], "max": diffs[-1], "same_prediction": same / n})
    assert diffs[len(diffs) // 2] <= HTTP_TOL / 2
    assert diffs[-1] <= HTTP_TOL * 2
    assert diffs[len(diffs) // 2] > 1e-4  # really two implementations (quantised vs float32), not one
    assert same / n >= AGREE_MIN
    gen = _subset("en-arith", 5)
    g_local, _ = run_task(gen, local, tmp_path / "gen-local.jsonl", progress=False)
    g_http, _ = run_task(gen, http, tmp_path / "gen-http.jsonl", progress=False)
    assert sum(x["response"] == y["response"] for x, y in zip(g_local, g_http)) >= 3


def test_retries_retry_after_errors_timeouts_and_malformed_answers(server):
    import time

    import benchutil

    ctx, conts = "Question: What is the capital of France?\nAnswer:", [" Paris", " Berlin"]
    direct = HttpBackend(server.url, model="smollm2", generation="completions").loglikelihood(ctx, conts)
    assert direct[0][0] > direct[1][0]  # the real model prefers Paris
    # 503 and 429 with Retry-After, then the real answer: retried, same numbers
    faults = [{"status": 503, "headers": {"Retry-After": "0.3"}}, {"status": 429, "headers": {"Retry-After": "0"}},
              {"status": 502}]
    with benchutil.FaultProxy(server.url, faults) as proxy:
        be = HttpBackend(proxy.url, model="smollm2", generation="completions", backoff=0.01, retries=4)
        t0 = time.monotonic()
        assert be.loglikelihood(ctx, conts) == direct
        assert time.monotonic() - t0 >= 0.3  # Retry-After was honoured
    # a 4xx is the caller's fault: no retry, one clear line naming the server
    with benchutil.FaultProxy(server.url, [{"status": 401, "message": "bad key"}]) as proxy:
        be = HttpBackend(proxy.url, model="smollm2", generation="completions", backoff=0.01, retries=4)
        with pytest.raises(BackendError, match="HTTP 401") as err:
            be.loglikelihood(ctx, conts)
        assert "\n" not in str(err.value) and proxy.url in str(err.value)
        assert proxy.seen == []  # never forwarded, never retried
    # llama-cpp-python answers a malformed request with HTTP 500 (its validation error as the
    # message), so it is retried like any 5xx and then reported with the server's own words
    be = HttpBackend(server.url, model="smollm2", generation="completions", backoff=0.01, retries=1)
    with pytest.raises(BackendError, match="after 2 tries.*HTTP 500.*max_tokens"):
        be._post("/completions", {"prompt": ctx, "max_tokens": "many"})
    # persistent 5xx: gives up after the retries with the last status
    with benchutil.FaultProxy(server.url, [{"status": 500}] * 3) as proxy:
        be = HttpBackend(proxy.url, model="smollm2", generation="completions", backoff=0.01, retries=2)
        with pytest.raises(BackendError, match="after 3 tries.*HTTP 500"):
            be.loglikelihood(ctx, conts)
    # a stalled answer times out and is retried; the retry gets the real answer
    with benchutil.FaultProxy(server.url, [{"stall": 40.0}]) as proxy:
        be = HttpBackend(proxy.url, model="smollm2", generation="completions", backoff=0.01, retries=2, timeout=20.0)
        assert be.loglikelihood(ctx, conts) == direct
    # a truncated body and an answer without logprobs: clear errors, not wrong numbers
    with benchutil.FaultProxy(server.url, [{"truncate": True}]) as proxy:
        be = HttpBackend(proxy.url, model="smollm2", generation="completions", backoff=0.01)
        with pytest.raises(BackendError, match="invalid JSON"):
            be.loglikelihood(ctx, conts)
    with benchutil.FaultProxy(server.url, [{}, {"drop": "logprobs"}]) as proxy:
        be = HttpBackend(proxy.url, model="smollm2", generation="completions", backoff=0.01)
        with pytest.raises(BackendError, match="lacks echoed logprobs"):
            be.loglikelihood(ctx, conts)


def test_llamacpp_misaligns_prompt_logprobs_without_bos(gguf, tmp_path):
    """The defect the comparison works around: without BOS, llama-cpp-python scores each
    echoed token with the distribution for the *next* position."""
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python[server]")
    import benchutil

    local = LocalBackend(benchutil.smollm2_hf(gguf))
    ctx, conts = "Question: What is the capital of France?\nAnswer:", [" Paris", " Berlin"]
    with benchutil.LlamaCppServer(gguf, threads=2) as srv:
        http = HttpBackend(srv.url, model="smollm2", generation="completions").loglikelihood(ctx, conts)
    ours = local.loglikelihood(ctx, conts)
    assert ours[0][0] > ours[1][0] + 3  # Paris is far likelier in the real model
    assert abs(http[0][0] - ours[0][0]) > 0.5 or abs(http[1][0] - ours[1][0]) > 0.5
