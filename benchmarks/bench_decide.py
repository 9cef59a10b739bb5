"""Speed of the decision engine: 10,000 paired bootstrap resamples, 5 teams x 20 benchmarks x 1,000 items.

Run:  python benchmarks/bench_decide.py [--resamples N] [--items N] [--benchmarks N] [--teams N]
Prints one JSON line per stage (seconds) and the whole `decide` call, on the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.generators

import numpy as np

from fromscratch.decide import aggregate as agg
from fromscratch.decide.api import decide
from fromscratch.decide.bootstrap import resample
from fromscratch.decide.data import build
from fromscratch.decide.protocol import load
from tests.generators.decide_synthetic import make_human, make_results, write_jsonl
from fromscratch.decide.tables import read_human, read_results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=1_000)
    ap.add_argument("--benchmarks", type=int, default=20)
    ap.add_argument("--teams", type=int, default=5)
    a = ap.parse_args()
    teams = [f"team-{i}" for i in range(a.teams)]
    benches = [f"bench-{j:02d}" for j in range(a.benchmarks)]
    rng = np.random.default_rng(0)
    levels = dict(zip(teams, rng.uniform(0.5, 0.8, a.teams)))
    acc = {t: {b: float(levels[t]) for b in benches} for t in teams}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_jsonl(make_results(acc, a.items, seed=1), d / "results.jsonl")
        write_jsonl(make_human({"expert": levels, "user": levels}, raters=7, seed=2), d / "human.jsonl")
        half = a.benchmarks // 2
        toml = ['name = "bench"', "seed = 1", "eliminate = 1", "[pillars]", "national = 10", "common = 30",
                "expert = 35", "user = 25", "[benchmarks]"]
        toml += [f'{b} = "{"national" if j < half else "common"}"' for j, b in enumerate(benches)]
        (d / "round.toml").write_text("\n".join(toml) + "\n")

        t0 = time.perf_counter()
        proto = load(d / "round.toml")
        results = read_results(d / "results.jsonl")
        human = read_human(d / "human.jsonl", proto.human_scale)
        data = build(proto, results, human, d / "results.jsonl", d / "human.jsonl")
        t_read = time.perf_counter() - t0

        t0, c0 = time.perf_counter(), time.process_time()
        S, H = resample(data, a.resamples, proto.seed)
        t_boot, c_boot = time.perf_counter() - t0, time.process_time() - c0

        st = agg.structure(proto, data, np.ones(len(teams)))
        t0 = time.perf_counter()
        tot = agg.totals(agg.pillar_scores(agg.normalise(S, "raw", st), H, st), st.weights, st.factor)
        agg.eliminated(tot, np.ones(len(teams), dtype=bool), 1, "spare-all")
        agg.ranks(tot)
        t_agg = time.perf_counter() - t0

        t0 = time.perf_counter()
        out = decide(d / "round.toml", d / "results.jsonl", d / "human.jsonl", resamples=a.resamples)
        t_all = time.perf_counter() - t0
    print(json.dumps({
        "teams": a.teams, "benchmarks": a.benchmarks, "items": a.items, "resamples": a.resamples,
        "cpus": os.cpu_count(), "read_and_validate_s": round(t_read, 3), "bootstrap_s": round(t_boot, 3), "bootstrap_cpu_s": round(c_boot, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "aggregate_replicates_s": round(t_agg, 3), "decide_total_s": round(t_all, 3),
        "robustness": out["robustness"]["class"],
    }))


if __name__ == "__main__":
    main()
