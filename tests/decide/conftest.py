"""Synthetic rounds with known truth, built once per session (small, so tests stay fast)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.generators.decide_synthetic import make_human, make_results, write_jsonl

COMMON = [f"c{i}" for i in range(4)]
PICKS = {"a": ["p1", "p2"], "b": ["p3", "p4"], "c": ["p5", "p6"], "d": ["p7", "p8"], "e": ["p9", "p10"]}


def protocol_text(name="t", seed=7, eliminate=1, extra="", picks=PICKS, human=True, common=COMMON) -> str:
    lines = [f'name = "{name}"', f"seed = {seed}", f"eliminate = {eliminate}", extra, "[pillars]", "common = 30",
             "individual = 10"]
    if human:
        lines += ["expert = 35", "user = 25"]
    lines += ["[benchmarks]"] + [f'{c} = "common"' for c in common]
    lines += ["[choices]", 'pillar = "individual"']
    lines += [f"{t} = [{', '.join(repr(p).replace(chr(39), chr(34)) for p in v)}]" for t, v in picks.items()]
    return "\n".join(lines) + "\n"


def write_round(folder, accuracy, human_means=None, items=150, seed=1, spread=1.0, eliminate=1, extra="", human_rows=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "round.toml").write_text(protocol_text(eliminate=eliminate, extra=extra, human=human_means is not None or human_rows is not None))
    write_jsonl(make_results(accuracy, items, seed=seed, spread=spread), folder / "results.jsonl")
    if human_rows is None and human_means is not None:
        human_rows = make_human(human_means, raters=5, seed=seed + 1)
    if human_rows is not None:
        write_jsonl(human_rows, folder / "human.jsonl")
    return folder


@pytest.fixture(scope="session")
def clear_loser(tmp_path_factory):
    """Team e is far below the rest on every benchmark and pillar."""
    levels = {"a": 0.80, "b": 0.76, "c": 0.72, "d": 0.68, "e": 0.45}
    benches = COMMON + [p for v in PICKS.values() for p in v]
    acc = {t: {b: v for b in benches} for t, v in levels.items()}
    hm = {"expert": dict(levels), "user": dict(levels)}
    return write_round(tmp_path_factory.mktemp("clear"), acc, hm, items=200)


@pytest.fixture(scope="session")
def near_tie(tmp_path_factory):
    """Teams d and e are the same test-taker: e's items are d's, shuffled within each benchmark.

    Their totals then differ only by item order, i.e. not at all in expectation and
    by one item in the observed data, so each is eliminated about half the time.
    """
    folder = tmp_path_factory.mktemp("tie")
    levels = {"a": 0.80, "b": 0.76, "c": 0.72, "d": 0.60}
    benches = COMMON + [p for v in PICKS.values() for p in v]
    acc = {t: {b: v for b in benches} for t, v in levels.items()}
    rows = make_results(acc, 200, seed=3)
    rng = np.random.default_rng(5)
    by_bench: dict[str, list[dict]] = {}
    for r in rows:
        if r["team"] == "d":
            by_bench.setdefault(r["benchmark"], []).append(r)
    extra = []
    # e's own picks mirror d's picks (p9 <- p7, p10 <- p8), so its pillar is d's as well
    mirror = {**{c: c for c in COMMON}, "p9": "p7", "p10": "p8"}
    for b, src in sorted(mirror.items()):
        rs = by_bench[src]
        scores = [r["score"] for r in rs]
        perm = rng.permutation(len(scores))
        extra += [{"team": "e", "benchmark": b, "item": f"{b}-{i:05d}", "score": scores[perm[i]]} for i in range(len(rs))]
    # one item lower for e on one common benchmark: e is the official loser by a hair
    for r in extra:
        if r["benchmark"] == "c0" and r["score"] == 1.0:
            r["score"] = 0.0
            break
    from tests.generators.decide_synthetic import write_jsonl as wj

    (folder / "round.toml").write_text(protocol_text(human=False))
    wj(rows + extra, folder / "results.jsonl")
    return folder


@pytest.fixture(scope="session")
def planted_selection(tmp_path_factory):
    """Team a scores +0.15 on its own picks (its true level elsewhere); others have no advantage."""
    levels = {"a": 0.70, "b": 0.68, "c": 0.66, "d": 0.64, "e": 0.55}
    picks_all = [p for v in PICKS.values() for p in v]
    acc = {}
    for t, v in levels.items():
        acc[t] = {b: v for b in COMMON + picks_all}
    for p in PICKS["a"]:
        acc["a"][p] = levels["a"] + 0.15
    folder = tmp_path_factory.mktemp("sel")
    return write_round(folder, acc, None, items=600, spread=0.0, seed=11)
