"""The decision: official totals and eliminations, and everything that says how firm they are.

`decide_from_files` is the single entry point (api.decide and the CLI call it). It reads
and validates the inputs, computes the official result exactly as the protocol says,
then measures the decision's uncertainty (paired bootstrap), its sensitivity to the
weights (simplex shares and the exact LP flip distance), to the normalisation, to each
benchmark (leave-one-out, Shapley) and to team-chosen benchmarks (self-selection), and
states its robustness in one sentence. Every random draw comes from a Generator seeded
by the protocol seed and a fixed per-purpose tag, so the JSON is byte-identical for the
same inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.artifacts.hfdir import load_json
from fromscratch.decide import aggregate as agg
from fromscratch.decide import influence, selection, stats, weights
from fromscratch.decide.bootstrap import resample
from fromscratch.decide.counterfactuals import counterfactuals
from fromscratch.decide.data import RoundData, build
from fromscratch.decide.protocol import (
    NORMALISATIONS,
    Protocol,
    check_seal,
    digest,
    load_raw,
    parse,
)
from fromscratch.decide.reliability import krippendorff_interval
from fromscratch.decide.robustness import robustness
from fromscratch.decide.tables import file_sha256, read_human, read_results
from fromscratch.errors import InputError
from fromscratch.schemas.decision import Decision, TeamRow

SCHEMA = "fromscratch.decision/1"
_VERDICTS = ("compliant", "violation", "needs-review")


def _rng(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & (2**63 - 1), tag]))


def read_verdicts(path: str | Path) -> dict[str, str]:
    """team -> verdict from a JSON object; values are verdict strings or audit objects with 'verdict'."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "verdicts file not found")
    obj = load_json(p)  # the one capped reader: oversized, non-UTF-8 or deeply nested -> InputError
    if not isinstance(obj, dict):
        raise InputError(p, "verdicts file must be a JSON object mapping team -> verdict")
    out = {}
    for team, v in obj.items():
        if isinstance(v, dict):
            v = v.get("verdict")
        if v not in _VERDICTS:
            raise InputError(p, f"team {team!r}: verdict must be one of {', '.join(_VERDICTS)}, got {v!r}")
        out[str(team)] = v
    return out


def _gate(proto: Protocol, teams: list[str], verdicts: dict[str, str], source) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(eligible, factor, flagged teams) under the originality gate."""
    for team in verdicts:
        if team not in teams:
            raise InputError(source, f"verdict for unknown team {team!r}")
    g = proto.originality
    bad = {"violation"} | ({"needs-review"} if g.needs_review == "apply" else set())
    flagged = [t for t in teams if verdicts.get(t) in bad]
    eligible = np.ones(len(teams), dtype=bool)
    factor = np.ones(len(teams))
    for i, t in enumerate(teams):
        if t in flagged and g.gate == "disqualify":
            eligible[i] = False
        elif t in flagged and g.gate == "penalty":
            factor[i] = 1.0 - g.penalty
    return eligible, factor, flagged if g.gate != "none" else []


def _point(data: RoundData, st: agg.Structure, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    S = agg.benchmark_scores(data)
    H = agg.human_scores(data)
    N = agg.normalise(S, kind, st)
    return S, N, agg.pillar_scores(N, H, st)


def _fl(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def decide_from_files(
    protocol_path: str | Path,
    results_path: str | Path,
    human_path: str | Path | None = None,
    *,
    resamples: int | None = None,
    seal_path: str | Path | None = None,
    verdicts_path: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The `fromscratch.decision/1` object for a protocol and its result tables.

    `resamples` defaults to the protocol's `resamples` (10,000). With `seal_path`, a
    protocol whose canonical hash differs from the seal is refused (InputError).
    `verdicts_path`: JSON object team -> policy verdict (or audit object with 'verdict'),
    overriding the protocol's [originality.verdicts].
    """
    raw = load_raw(protocol_path)
    proto = parse(raw, protocol_path)
    sha = check_seal(protocol_path, seal_path) if seal_path is not None else digest(raw, protocol_path)
    reps = int(resamples if resamples is not None else proto.resamples)
    if not 100 <= reps <= 1_000_000:
        raise InputError("--resamples", f"must be between 100 and 1000000, got {reps}")
    clusters: dict[str, dict[str, str]] = {}
    results = read_results(results_path, clusters)
    human = read_human(human_path, proto.human_scale) if human_path is not None else None
    data = build(proto, results, human, results_path, human_path, clusters)
    verdicts = dict(proto.originality.verdicts)
    if verdicts_path is not None:
        verdicts.update(read_verdicts(verdicts_path))
    eligible, factor, flagged = _gate(proto, data.teams, verdicts, verdicts_path or protocol_path)
    st = agg.structure(proto, data, factor, protocol_path)
    decision = compute(proto, data, st, eligible, flagged, verdicts, reps, progress)
    inputs = {
        "protocol": {"file": Path(protocol_path).name, "sha256": sha},
        "results": {"file": Path(results_path).name, "sha256": file_sha256(results_path)},
        "human": None if human_path is None else {"file": Path(human_path).name, "sha256": file_sha256(human_path)},
        "verdicts": None if verdicts_path is None else {"file": Path(verdicts_path).name, "sha256": file_sha256(verdicts_path)},
        "seal": None if seal_path is None else {"file": Path(seal_path).name, "sha256": file_sha256(seal_path)},
        "resamples": reps,
    }
    return Decision(schema=SCHEMA, protocol_sha256=sha, **decision, inputs=inputs).model_dump(
        by_alias=True, exclude_unset=True)


@dataclass(frozen=True)
class Context:
    """What every step of the decision reads: the validated protocol, data and gate."""

    proto: Protocol
    data: RoundData
    st: agg.Structure
    eligible: np.ndarray  # (T,) not disqualified by the originality gate
    flagged: list[str]
    verdicts: dict[str, str]
    reps: int

    @property
    def teams(self) -> list[str]:
        return self.data.teams

    @property
    def disq(self) -> np.ndarray:
        return ~self.eligible

    def rule(self, tot: np.ndarray, tag: int = 1) -> np.ndarray:
        """The official elimination rule on totals (any leading axes)."""
        return agg.eliminated(tot, self.eligible, self.proto.eliminate, self.proto.tie_policy,
                              _rng(self.proto.seed, tag))


@dataclass(frozen=True)
class Point:
    """The official (point-estimate) result."""

    S: np.ndarray  # (T, nb) benchmark scores
    N: np.ndarray  # (T, nb) normalised
    H: np.ndarray  # (T, nh) human pillars
    Pm: np.ndarray  # (T, P) pillar scores
    tot: np.ndarray  # (T,) totals
    on_score: np.ndarray  # (T,) eliminated by the rule (disqualified teams excluded)
    rank: np.ndarray


@dataclass(frozen=True)
class Boot:
    """The paired bootstrap: replicated scores, totals and eliminations."""

    Sr: np.ndarray
    Tr: np.ndarray
    Er: np.ndarray
    ci: np.ndarray
    rint: np.ndarray
    p_elim: np.ndarray
    p_same: float
    above: np.ndarray


def official(ctx: Context) -> Point:
    S, N, Pm = _point(ctx.data, ctx.st, ctx.proto.normalisation)
    H = agg.human_scores(ctx.data)
    tot = agg.totals(Pm, ctx.st.weights, ctx.st.factor)
    return Point(S, N, H, Pm, tot, ctx.rule(tot), agg.ranks(tot))


def bootstrap(ctx: Context, pt: Point, progress=None) -> Boot:
    proto, st = ctx.proto, ctx.st
    Sr, Hr = resample(ctx.data, ctx.reps, proto.seed, progress)
    Nr = agg.normalise(Sr, proto.normalisation, st)
    Tr = agg.totals(agg.pillar_scores(Nr, Hr, st), st.weights, st.factor)
    Er = ctx.rule(Tr, 4)
    Rr = agg.ranks(Tr)
    q = [proto.alpha / 2, 1 - proto.alpha / 2]
    return Boot(
        Sr=Sr, Tr=Tr, Er=Er, ci=np.quantile(Tr, q, axis=0),
        rint=np.quantile(Rr, q, axis=0, method="inverted_cdf").astype(int),
        p_elim=np.where(ctx.disq, 1.0, Er.mean(axis=0)),
        p_same=float(np.all(Er == pt.on_score, axis=1).mean()),
        above=(Tr[:, :, None] > Tr[:, None, :]).mean(axis=0),  # P(total_i > total_j)
    )


def paired_tests(ctx: Context, pt: Point, bs: Boot) -> list[dict[str, Any]]:
    """Each score-eliminated team against the lowest survivor (Holm-adjusted)."""
    teams, tot = ctx.teams, pt.tot
    tests: list[dict[str, Any]] = []
    survivors = np.flatnonzero(~pt.on_score & ctx.eligible)
    if not len(survivors):
        return tests
    nxt = int(survivors[np.argmin(tot[survivors])])
    for e in np.flatnonzero(pt.on_score):
        d = float(tot[nxt] - tot[e])
        tests.append({"eliminated": teams[e], "next": teams[nxt], "difference": d,
                      "p_value": stats.bootstrap_p(d, bs.Tr[:, nxt] - bs.Tr[:, e])})
    for t, adj in zip(tests, stats.holm([t["p_value"] for t in tests])):
        t["p_holm"] = adj
        t["significant"] = bool(adj <= ctx.proto.alpha)
    return tests


def benchmark_tests(ctx: Context, pt: Point, bs: Boot, pair: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Per benchmark, the boundary pair's difference (Benjamini-Hochberg adjusted)."""
    out: list[dict[str, Any]] = []
    if pair is None:
        return out
    e, s = pair
    S = pt.S
    for b, name in enumerate(ctx.data.bench_names):
        if np.isnan(S[e, b]) or np.isnan(S[s, b]) or not (ctx.data.benchmarks[b].required[[e, s]].all()):
            continue
        d = float(S[s, b] - S[e, b])
        out.append({"benchmark": name, "next_minus_eliminated": d,
                    "p_value": stats.bootstrap_p(d, bs.Sr[:, s, b] - bs.Sr[:, e, b])})
    for t, adj in zip(out, stats.benjamini_hochberg([t["p_value"] for t in out])):
        t["p_bh"] = adj
    return out


def normalisation_rows(ctx: Context, pt: Point) -> list[dict[str, Any]]:
    """The decision under each normalisation (point estimates)."""
    data, st, teams, disq = ctx.data, ctx.st, ctx.teams, ctx.disq
    T = len(teams)
    norms: list[dict[str, Any]] = []
    for kind in NORMALISATIONS:
        if kind == "target-relative":
            need = np.array([[bd.required[t] for bd in data.benchmarks] for t in range(T)])
            if need.size and np.isnan(st.target[need]).any():
                norms.append({"normalisation": kind, "available": False,
                              "reason": "the protocol does not declare target-model scores for every team and benchmark",
                              "eliminated": None, "totals": None})
                continue
        _, _, Pk = _point(data, st, kind)
        tk = agg.totals(Pk, st.weights, st.factor)
        ek = ctx.rule(tk) | disq
        row = {"normalisation": kind, "available": True, "official": kind == ctx.proto.normalisation,
               "eliminated": [teams[i] for i in np.flatnonzero(ek)],
               "totals": {teams[i]: float(tk[i]) for i in range(T)},
               "same_decision": bool(np.all(ek == (pt.on_score | disq)))}
        if kind == "random-baseline":
            missing = [bd.name for bd in data.benchmarks if bd.name not in ctx.proto.random_baseline]
            if missing:
                row["note"] = f"no chance score declared for {len(missing)} benchmark(s); 0 used (same as raw there)"
        norms.append(row)
    return norms


def team_rows(ctx: Context, pt: Point, bs: Boot, official_out: np.ndarray, ssa, ssa_ci) -> list[dict[str, Any]]:
    teams, st, bench_names = ctx.teams, ctx.st, ctx.data.bench_names
    rows = []
    for i in range(len(teams)):
        rows.append(TeamRow(
            team=teams[i], total=float(pt.tot[i]), ci=[float(bs.ci[0, i]), float(bs.ci[1, i])],
            rank=int(pt.rank[i]), rank_interval=[int(bs.rint[0, i]), int(bs.rint[1, i])],
            p_eliminated=float(bs.p_elim[i]),
            selection_advantage=None if ssa is None else _fl(ssa[i]),
            selection_advantage_ci=None if ssa_ci is None or np.isnan(ssa[i]) else [_fl(ssa_ci[0, i]), _fl(ssa_ci[1, i])],
            eliminated=bool(official_out[i]),
            disqualified=bool(ctx.disq[i]),
            verdict=ctx.verdicts.get(teams[i]),
            factor=float(st.factor[i]),
            pillars={p: float(pt.Pm[i, j]) for j, p in enumerate(st.pillars)},
            benchmarks={b: _fl(pt.S[i, j]) for j, b in enumerate(bench_names)},
            normalised={b: _fl(pt.N[i, j]) for j, b in enumerate(bench_names)},
        ).model_dump())
    rows.sort(key=lambda r: (r["rank"], r["team"]))
    return rows


def _weights_section(ctx: Context, shares: dict, flip, w0: np.ndarray) -> dict[str, Any]:
    teams, disq = ctx.teams, ctx.disq

    def p_elim(part: str) -> dict[str, float]:
        return {teams[i]: 1.0 if disq[i] else float(shares[part]["p_eliminated"][i]) for i in range(len(teams))}

    return {
        "official": dict(zip(ctx.st.pillars, w0.tolist())),
        "samples": ctx.proto.weight_samples,
        "neighbourhood": ctx.proto.neighbourhood,
        "overall": {"p_same_decision": shares["overall"]["p_same_decision"], "p_eliminated": p_elim("overall")},
        "near_official": {"p_same_decision": shares["neighbourhood"]["p_same_decision"],
                          "p_eliminated": p_elim("neighbourhood")},
        "min_flip": flip,
    }


def compute(
    proto: Protocol, data: RoundData, st: agg.Structure, eligible: np.ndarray, flagged: list[str],
    verdicts: dict[str, str], reps: int, progress=None,
) -> dict[str, Any]:
    """The decision object (without schema, seal and inputs), step by named step."""
    ctx = Context(proto, data, st, eligible, flagged, verdicts, reps)
    teams, T, disq, seed, k, tie = ctx.teams, len(ctx.teams), ctx.disq, proto.seed, proto.eliminate, proto.tie_policy
    pt = official(ctx)
    bs = bootstrap(ctx, pt, progress)
    pair = influence.boundary_pair(pt.tot, pt.on_score, eligible)
    tests = paired_tests(ctx, pt, bs)
    bench_tests = benchmark_tests(ctx, pt, bs, pair)
    spared = [t["eliminated"] for t in tests if not t["significant"]] if proto.statistical_tie == "spare" else []
    official_out = pt.on_score.copy()
    for name in spared:
        official_out[teams.index(name)] = False
    official_out |= disq
    w0 = st.weights / st.weights.sum()
    shares = weights.simplex_shares(pt.Pm, st.factor, w0, eligible, pt.on_score, k, tie, proto.weight_samples,
                                    proto.neighbourhood, _rng(seed, 2))
    flip = weights.min_flip(pt.Pm, st.factor, w0, eligible, pt.on_score, k, teams, st.pillars)
    norms = normalisation_rows(ctx, pt)
    human_names = [h.pillar for h in data.human]
    lobo = influence.leave_one_out(pt.N, pt.H, st, data.bench_names, teams, eligible, pt.on_score, k, tie, pair,
                                   _rng(seed, 1))
    shap = influence.shapley(pt.N, pt.H, st, data.bench_names, human_names, pair, _rng(seed, 3))
    sel_section, ssa, ssa_ci = _selection(ctx, pt, bs)
    rob = robustness(teams, pt.on_score, disq, bs.p_elim, bs.p_same, flip, w0, st.pillars, reps, bool(data.human))
    return {
        "name": proto.name,
        "teams": team_rows(ctx, pt, bs, official_out, ssa, ssa_ci),
        "eliminated": [teams[i] for i in np.flatnonzero(official_out)],
        "robustness": rob,
        "rule": {
            "eliminate": k, "tie_policy": tie, "statistical_tie": proto.statistical_tie,
            "normalisation": proto.normalisation, "alpha": proto.alpha, "seed": seed,
            "weights": dict(proto.pillars), "weights_normalised": dict(zip(st.pillars, w0.tolist())),
            "originality_gate": proto.originality.gate, "missing_items": proto.missing_items,
        },
        "eliminated_on_score": [teams[i] for i in np.flatnonzero(pt.on_score)],
        "disqualified": [teams[i] for i in np.flatnonzero(disq)],
        "spared": spared,
        "originality_flagged": flagged,
        "bootstrap": {"resamples": reps, "paired": True, "raters_resampled": bool(data.human),
                      "p_same_decision": bs.p_same, "confidence": 1 - proto.alpha,
                      "p_above": {teams[i]: {teams[j]: float(bs.above[i, j]) for j in range(T) if j != i}
                                  for i in range(T)}},
        "tests": tests,
        "benchmark_tests": bench_tests,
        "weights": _weights_section(ctx, shares, flip, w0),
        "normalisations": norms,
        "influence": {
            "boundary": None if pair is None else {"eliminated": teams[pair[0]], "next": teams[pair[1]],
                                                   "margin": float(pt.tot[pair[1]] - pt.tot[pair[0]])},
            "leave_one_out": lobo,
            "shapley": shap,
        },
        "selection": sel_section,
        "counterfactuals": counterfactuals(ctx, pt, norms),
        "benchmarks": [{"benchmark": bd.name, "pillar": bd.pillar, "items": len(bd.items),
                        "clusters": bd.n_clusters if bd.cluster is not None else None,
                        "teams_required": [teams[i] for i in np.flatnonzero(bd.required)]} for bd in data.benchmarks],
        "human": [{"pillar": hd.pillar, "raters": len(hd.raters),
                   "krippendorff_alpha": krippendorff_interval(hd.R, hd.RM)} for hd in data.human],
        "warnings": data.warnings,
    }


def _selection(ctx: Context, pt: Point, bs: Boot):
    """Self-selection advantage and the two team-chosen what-ifs (pillar removed; picks applied to all)."""
    proto, data, st = ctx.proto, ctx.data, ctx.st
    if proto.choices is None:
        return None, None, None
    teams, S, alpha, disq = data.teams, pt.S, proto.alpha, ctx.disq
    picks = selection.pick_index(proto.choices.picks, teams, data.bench_names)
    C = selection.cross_matrix(S, picks)
    ssa = selection.advantage(C)
    ssa_r = selection.advantage(selection.cross_matrix(bs.Sr, picks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ssa_ci = np.nanquantile(ssa_r, [alpha / 2, 1 - alpha / 2], axis=0) if not np.all(np.isnan(ssa_r)) else None
    cp = st.pillars.index(proto.choices.pillar)
    same = pt.on_score | disq

    # counterfactual 1: the team-chosen pillar removed (its weight set to 0)
    w = st.weights.copy()
    w[cp] = 0.0
    e1 = ctx.rule(agg.totals(agg.pillar_scores(pt.N, pt.H, st), w, st.factor)) | disq
    removed = {"eliminated": [teams[i] for i in np.flatnonzero(e1)], "same_decision": bool(np.all(e1 == same))}
    # counterfactual 2: every team scored on the union of all picks
    allpicks = sorted({b for js in picks.values() for b in js})
    if allpicks and not np.isnan(S[:, allpicks]).any():
        K = st.K.copy()
        K[:, allpicks, cp] = 1.0
        t2 = agg.totals(agg.pillar_scores(pt.N, pt.H, st, K), st.weights, st.factor)
        e2 = ctx.rule(t2) | disq
        applied = {"available": True, "eliminated": [teams[i] for i in np.flatnonzero(e2)],
                   "same_decision": bool(np.all(e2 == same)),
                   "totals": {teams[i]: float(t2[i]) for i in range(len(teams))}}
    else:
        applied = {"available": False, "reason": "not every team has results on every team-chosen benchmark",
                   "eliminated": None, "same_decision": None, "totals": None}
    section = {
        "pillar": proto.choices.pillar,
        "picks": {t: list(proto.choices.picks.get(t, ())) for t in teams},
        "cross": {teams[i]: {teams[j]: _fl(C[i, j]) for j in range(len(teams))} for i in range(len(teams))},
        "advantage": {teams[i]: _fl(ssa[i]) for i in range(len(teams))},
        "without_team_chosen": removed,
        "applied_to_all": applied,
        "decided_by_team_chosen": bool(not removed["same_decision"]),
    }
    return section, ssa, ssa_ci
