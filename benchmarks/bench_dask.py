"""Fingerprinting a sharded checkpoint: one process against a two-worker Dask ``LocalCluster``.

    python benchmarks/bench_dask.py [--work /tmp/daskbench] [--runs 3] [--keep]

Writes a 4-shard BF16 checkpoint with TinyLlama-1.1B's tensor shapes (22 layers,
2.2 GB; reused if present), reads it once to warm the page cache, then times
``build_fingerprint`` in this process (numpy's default BLAS threads: two on a
2-core machine, so the single process already uses both cores for the
token-response products) and ``registry.distributed.fingerprint_on`` on a
``LocalCluster`` of two worker processes with one thread each (Dask sets
OMP/OPENBLAS/MKL threads to 1 in its workers), alternating the two so that
changing load from other jobs hits both alike. The cluster is started and
warmed (workers import everything) before the timed runs, as a long-lived
cluster would be. Prints each run, the best and median of each, the speed-up
(one process / two workers, > 1 means Dask is faster), CPU seconds of the
single process and of the two workers together, whether the fingerprints are byte-identical, and the load
average before and after (the machine is shared; ratios under load are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks"), str(ROOT)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/daskbench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    print(json.dumps(run(Path(args.work), args.runs, keep=args.keep), indent=1))


def run(work: Path, runs: int = 3, *, keep: bool = False) -> dict:
    import distributed
    from bench_moe import child, tinyllama_sharded

    from fromscratch.lineage.fingerprint import build_fingerprint
    from fromscratch.registry import fpfile
    from fromscratch.registry.distributed import fingerprint_on

    folder = work / "tinyllama-sharded"
    if not (folder / "tokenizer.json").exists():
        tinyllama_sharded(folder)
    load_before = os.getloadavg()
    child("read", str(folder))  # warm the page cache for both
    t_local, c_local, t_dask, c_dask = [], [], [], []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        client.run(_warm)
        for i in range(runs):
            t, c = time.perf_counter(), time.process_time()
            local = build_fingerprint(folder, use_cache=False)
            t_local.append(time.perf_counter() - t)
            c_local.append(time.process_time() - c)
            w0 = sum(client.run(time.process_time).values())
            t = time.perf_counter()
            remote = fingerprint_on(client, folder)
            t_dask.append(time.perf_counter() - t)
            c_dask.append(sum(client.run(time.process_time).values()) - w0)
            same = fpfile.to_bytes(local) == fpfile.to_bytes(remote)
            print(f"run {i + 1}: one process {t_local[-1]:.1f} s ({c_local[-1]:.1f} s CPU), "
                  f"two workers {t_dask[-1]:.1f} s ({c_dask[-1]:.1f} s CPU in all), identical {same}, load {os.getloadavg()[0]:.1f}",
                  file=sys.stderr, flush=True)
            if not same:
                break
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return {"checkpoint": "TinyLlama-1.1B shapes, BF16, 4 shards, 2.2 GB", "runs": len(t_dask),
            "one_process_s": [round(x, 2) for x in t_local], "one_process_cpu_s": [round(x, 2) for x in c_local],
            "two_workers_s": [round(x, 2) for x in t_dask], "two_workers_cpu_s": [round(x, 2) for x in c_dask],
            "speedup_best": round(min(t_local) / min(t_dask), 2),
            "speedup_median": round(statistics.median(t_local) / statistics.median(t_dask), 2),
            "byte_identical": same, "load_before": [round(x, 1) for x in load_before],
            "load_after": [round(x, 1) for x in os.getloadavg()], "cpus": os.cpu_count()}


def _warm() -> None:
    """Imports on a worker, as on a long-lived cluster."""
    import fromscratch.lineage.fingerprint_pass  # noqa: F401
    import fromscratch.registry.distributed  # noqa: F401
    from fromscratch.artifacts import open_model  # noqa: F401


if __name__ == "__main__":
    main()
