#!/usr/bin/env python
"""What the rotation- and rescale-robust tier (token responses) costs: tier on / tier off, same run.

"Today's cached compare" in issue 12 is the compare without this tier. This
script measures, in one process and one run (so machine load hits both alike):

* **cached compare**: ``compare_fingerprints`` on fingerprints already in memory,
  alternately with the tier switched off and on (``--repeat`` rounds, best of each) (``rotation.applies``,
  ``rotation.table_applies`` and ``rotation.head_applies`` answer False, i.e. the statistics the compare had
  before the tier), best of ``--repeat``, wall and CPU seconds;
* **fingerprinting**: one model's fingerprint pass with and without its
  token-response profiles (``responses.response`` answering None), best of
  ``--repeat``, plus the fingerprint's size with and without them.

Pairs: SmolLM2-135M (GGUF Q4_1, registry package) against its rotated F16 copy
(norm gains folded, Haar orthogonal residual map; where the tier runs on every
block) and against its re-quantised Q8_0 copy (where the coordinate tier
decides and the response tier is skipped). ``--zoo`` uses the zoo's llama-s0
instead (seconds, no registry model needed).

    python benchmarks/bench_rotation.py [--zoo] [--repeat 3] [--profile OUT.prof] [--keep DIR]

Prints one JSON line per measurement, then the ratios (tier on / tier off) and
the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


@contextlib.contextmanager
def tier_off():
    """The compare (and the fingerprint pass) as before the token-response tier."""
    from fromscratch.lineage import responses, rotation

    saved = rotation.applies, rotation.table_applies, rotation.head_applies, responses.response
    rotation.applies = rotation.table_applies = rotation.head_applies = lambda *a, **k: False
    responses.response = lambda *a, **k: None
    try:
        yield
    finally:
        rotation.applies, rotation.table_applies, rotation.head_applies, responses.response = saved


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - t), min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, out


def _fp_bytes(fp) -> int:
    return int(sum(a.nbytes for a in fp.arrays.values()))


def pairs(zoo: bool, work: Path) -> list[tuple[str, Path, Path]]:
    from fromscratch import disguise

    if zoo:
        from fromscratch.zoo import build_zoo

        zoo = build_zoo()
        src = zoo.path("llama-s0")
        label = "zoo llama-s0"
    else:
        from realmodels import real_model

        src = Path(real_model("smollm2-gguf"))
        label = "SmolLM2-135M Q4_1"
    rot = work / "rotated"
    if not (rot / "model.safetensors").exists():
        disguise.save(disguise.rotate(disguise.load(src), 1), rot, dtype="F16")
    out = [(f"{label} vs its rotated F16 copy", rot, src)]
    if not zoo:
        from tests.generators.gguf_variants import write_variant

        q8 = work / "smollm2-q8_0.gguf"
        if not q8.exists():
            write_variant(src, q8, permute=False)
        out.append((f"{label} vs its Q8_0 copy", q8, src))
    else:
        out.append((f"{label} vs llama-s0-ft", zoo.path("llama-s0-ft"), src))
    return out


def _profile(fp, fr, out: Path) -> None:
    """cProfile of one tier-on cached compare on one thread (so the profile sees every call)."""
    import cProfile

    from threadpoolctl import threadpool_limits

    from fromscratch.lineage.compare import Comparison

    with threadpool_limits(limits=1, user_api="blas"):
        cProfile.runctx("Comparison(fp, fr).run(workers=1)", {"Comparison": Comparison, "fp": fp, "fr": fr}, {},
                        str(out))


def measure(label: str, cand: Path, ref: Path, repeat: int, profile: Path | None) -> dict:
    """Fingerprints with and without the tier, then cached compares alternating off / on (load hits both alike)."""
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.lineage.fingerprint import build_fingerprint

    row: dict = {"pair": label}
    fps = {}
    for tier, ctx in (("on", contextlib.nullcontext), ("off", tier_off)):
        with ctx():
            w, c, fp = _timed(lambda: build_fingerprint(cand, use_cache=False), repeat)
            row[f"fingerprint_{tier}_s"], row[f"fingerprint_{tier}_cpu_s"] = w, c
            row[f"fingerprint_{tier}_mb"] = round(_fp_bytes(fp) / 2**20, 1)
            fps[tier] = (fp, build_fingerprint(ref, use_cache=False))
            compare_fingerprints(*fps[tier])  # warm-up (imports, first-call costs)
    best = {t: [float("inf"), float("inf"), None] for t in fps}
    for _ in range(repeat):
        for tier, ctx in (("off", tier_off), ("on", contextlib.nullcontext)):
            with ctx():
                w, c, obj = _timed(lambda: compare_fingerprints(*fps[tier]), 1)
            best[tier] = [min(best[tier][0], w), min(best[tier][1], c), obj]
    for tier, (w, c, obj) in best.items():
        row[f"compare_{tier}_s"], row[f"compare_{tier}_cpu_s"] = w, c
        row[f"verdict_{tier}"] = obj["verdict"]
        row[f"derived_{tier}"] = sum(x["relation"] in ("derived", "identical") for x in obj["components"])
    if profile is not None:
        _profile(*fps["on"], profile.with_suffix(f".{len(label)}.prof"))
    row["ratio_compare_cpu"] = row["compare_on_cpu_s"] / row["compare_off_cpu_s"]
    row["ratio_compare_wall"] = row["compare_on_s"] / row["compare_off_s"]
    row["ratio_fingerprint_cpu"] = row["fingerprint_on_cpu_s"] / row["fingerprint_off_cpu_s"]
    row["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zoo", action="store_true", help="the zoo's llama-s0 instead of SmolLM2-135M")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of the tier-on cached compare")
    ap.add_argument("--keep", type=Path, default=None, help="keep the disguised copies here (reused next time)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-rotation-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FROMSCRATCH_LINEAGE_CACHE", str(work / "fp-cache"))
    try:
        rows = [measure(label, c, r, args.repeat, args.profile) for label, c, r in pairs(args.zoo, work)]
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("| pair | cached compare, tier off / on (CPU) | ratio | fingerprint, off / on (CPU) | ratio | "
          "fingerprint size off / on | derived off / on | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['pair']} | {r['compare_off_cpu_s']:.2f} s / {r['compare_on_cpu_s']:.2f} s | "
              f"{r['ratio_compare_cpu']:.2f}x | {r['fingerprint_off_cpu_s']:.1f} s / {r['fingerprint_on_cpu_s']:.1f} s | "
              f"{r['ratio_fingerprint_cpu']:.2f}x | {r['fingerprint_off_mb']} / {r['fingerprint_on_mb']} MB | "
              f"{r['derived_off']} / {r['derived_on']} | {r['load_average']} |")


if __name__ == "__main__":
    main()
