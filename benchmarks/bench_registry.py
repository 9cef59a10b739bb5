"""Registry search at scale: a 135M candidate against >= 1,000 registered fingerprints.

    python benchmarks/bench_registry.py [--bulk 1000] [--out /tmp/regbench]

Builds (once) a registry in OUT holding the default real models, the zoo and
BULK generated fingerprints (``fromscratch.registry.synthetic.random_like`` of
zoo and SmolLM2 templates: same architecture and tokenizer, unrelated values),
then searches SmolLM2-135M's re-quantised and permuted copies (derived), Gemma
and the zoo's derived variants against it, and reports search time (candidate
fingerprint cached), time per registered model, the pre-filter's pass rate and
registry size per model and in total. Baseline in the same run: the full
pairwise test against every registered model of the candidate's architecture
that the pre-filter passed over, timed on a sample and extrapolated.
"""

from __future__ import annotations

import argparse
import json
import sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # for tests.generators
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]


def _bulk(reg, templates, n: int) -> None:
    from fromscratch.registry.synthetic import random_like

    have = {e.name for e in reg.entries() if e.name.startswith("generated-")}
    for i in range(n):
        name = f"generated-{i:05d}"
        if name in have:
            continue
        t = templates[0] if i % 50 == 0 else templates[1 + i % (len(templates) - 1)]
        reg.put(name, random_like(t, seed=1_000_000 + i), digest=f"generated:{i}", source=None, origin="generated")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bulk", type=int, default=1000)
    ap.add_argument("--out", default="/tmp/regbench")
    args = ap.parse_args()
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.lineage.fingerprint import build_fingerprint
    from tests.generators.gguf_variants import write_variant
    from fromscratch.registry.api import add
    from fromscratch.registry.defaults import build_defaults
    from fromscratch.registry.search import search_fingerprint
    from fromscratch.registry.store import Registry
    from fromscratch.zoo import build_zoo
    from realmodels import fetch

    out = Path(args.out)
    loc = out / "registry"
    t0 = time.perf_counter()
    for line in build_defaults(loc):
        print(line, flush=True)
    zoo = build_zoo()
    with Registry(loc) as reg:
        have = {e.name for e in reg.entries()}
    for e in zoo.entries:
        if f"zoo-{e.name}" not in have and e.parent is None:
            add(zoo.path(e.name), f"zoo-{e.name}", registry=loc)
    smol = fetch("smollm2-gguf")
    templates = [build_fingerprint(smol)] + [build_fingerprint(zoo.path(e.name)) for e in zoo.entries
                                             if e.parent is None]
    with Registry(loc) as reg:
        _bulk(reg, templates, args.bulk)
        n = len(reg)
        disk = reg.disk_usage()
        per = sorted(e.fingerprint_bytes for e in reg.entries())
    build_s = time.perf_counter() - t0
    variants = {}
    for name, perm in (("requant", False), ("permuted", True)):
        dst = out / f"smollm2-{name}-q8_0.gguf"
        if not dst.exists():
            write_variant(smol, dst, permute=perm, seed=11)
        variants[f"smollm2-{name}"] = dst
    cands = {**variants, "gemma3": fetch("gemma3-gguf")}
    cands.update({e.name: zoo.path(e.name) for e in zoo.entries if e.parent})
    rows = []
    with Registry(loc) as reg:
        for cname, path in cands.items():
            cfp = build_fingerprint(path)  # cached after the first run: the search alone is timed
            t = time.perf_counter()
            obj = search_fingerprint(cfp, reg)
            dt = time.perf_counter() - t
            rows.append({"candidate": cname, "seconds": round(dt, 2), "verdict": obj["verdict"],
                         "matches": [m["name"] for m in obj["matches"]],
                         "passed": [p["name"] for p in obj["prefilter"]["passed"]]})
            print(json.dumps(rows[-1]), flush=True)
        # baseline: the full test on every passed-over model of SmolLM2's architecture, on a sample
        cfp = build_fingerprint(variants["smollm2-requant"])
        same = [e for e in reg.entries() if e.architecture == reg.get("smollm2-gguf").architecture][:5]
        t = time.perf_counter()
        for e in same:
            compare_fingerprints(cfp, reg.load(e))
        full_per_model = (time.perf_counter() - t) / max(1, len(same))
    report = {"registered": n, "build_seconds": round(build_s, 1), "disk": disk,
              "fingerprint_bytes": {"min": per[0], "median": per[len(per) // 2], "max": per[-1]},
              "full_test_seconds_per_smollm2_reference": round(full_per_model, 2), "searches": rows}
    (out / "bench_registry.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "searches"}, indent=1))


if __name__ == "__main__":
    main()
