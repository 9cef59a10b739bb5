"""Runner overhead against a real OpenAI-compatible server, with concurrency.

Starts llama.cpp's server (``llama-cpp-python[server]``) on a GGUF (default:
the fixture zoo's llama in Q8_0, small enough that the server is fast and the
runner's own cost shows; ``--model smollm2`` for SmolLM2-135M) and, in the same run, alternates two ways of sending the same requests:

* **server**: the exact request bodies the runner sends (recorded once), fired
  with a thread pool of the same concurrency through one ``httpx.Client``, no
  parsing: the server's own throughput;
* **runner**: ``run_task`` with ``HttpBackend`` (item log, fsync, scoring,
  parsing of echoed logprobs), a fresh log each time.

Overhead = runner wall time / server wall time - 1 (median of the rounds).

Run:  python benchmarks/bench_bench_throughput.py [--items 40] [--concurrency 4] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "bench")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--task", default="en-knowledge")
    ap.add_argument("--model", default="zoo", choices=["zoo", "smollm2"])
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import benchutil
    import httpx
    from realmodels import fetch

    from fromscratch.bench import resolve_task
    from fromscratch.bench.backends.http import HttpBackend
    from fromscratch.bench.runner import run_task

    task = resolve_task(a.task)
    task.items = task.items[: a.items]
    if a.model == "zoo":
        from fromscratch.zoo import build_zoo

        gguf = build_zoo().path("llama-s0-q80")
    else:
        gguf = benchutil.gguf_with_bos(fetch("smollm2-gguf"))
    out: dict = {"model": a.model, "task": a.task, "items": len(task.items), "concurrency": a.concurrency, "rounds": []}
    with benchutil.LlamaCppServer(gguf, threads=a.threads) as srv, tempfile.TemporaryDirectory() as tmp:
        client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=a.concurrency + 2))
        sent: list[tuple[str, dict]] = []

        def runner_pass(n: int) -> float:
            """The runner, recording the bodies in the order it sends them."""
            be = HttpBackend(srv.url, model="smollm2", generation="completions", concurrency=a.concurrency)
            post = be._post
            sent.clear()

            def record(path: str, body: dict) -> dict:
                sent.append((path, body))
                return post(path, body)

            be._post = record  # type: ignore[method-assign]
            t0 = time.perf_counter()
            run_task(task, be, Path(tmp) / f"run-{n}.jsonl", progress=False)
            dt = time.perf_counter() - t0
            be.close()
            return dt

        def server_pass(bodies: list[tuple[str, dict]]) -> float:
            """The same bodies in the same order (llama.cpp reuses the KV cache of a shared
            prompt prefix, so order matters to the server), same concurrency, no parsing."""
            t0 = time.perf_counter()
            with ThreadPoolExecutor(a.concurrency) as pool:
                for r in pool.map(lambda pb: client.post(srv.url + pb[0], json=pb[1]), bodies):
                    r.raise_for_status()
            return time.perf_counter() - t0

        runner_pass(-1)  # warm-up, and the first recorded order
        out["requests"] = len(sent)
        for n in range(a.rounds):
            s = server_pass(list(sent))
            r = runner_pass(n)
            out["rounds"].append({"server_s": round(s, 3), "runner_s": round(r, 3), "overhead": round(r / s - 1, 4)})
            print(json.dumps(out["rounds"][-1]), flush=True)
    out["overhead_median"] = statistics.median(x["overhead"] for x in out["rounds"])
    out["server_requests_per_s"] = round(out["requests"] / statistics.median(x["server_s"] for x in out["rounds"]), 2)
    print(json.dumps(out))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
