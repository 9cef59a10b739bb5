"""Turning the two tables into aligned arrays, under the protocol's rules.

Everything downstream (point estimates, bootstrap, sensitivity) works on the arrays
built here, so the one place that decides which team must be scored on which items is
here too. The rule for gaps is the protocol's `missing_items`:

- `refuse` (default): a team lacking any item of a benchmark it must be scored on (a
  common/national benchmark, or one of its own picks) is an input error;
- `zero`: each missing item scores 0 (a missing answer is a wrong answer);
- `skip`: the team is scored on the items it has (a benchmark it lacks entirely is left
  out of its pillar mean); every such gap is listed in `warnings`.

A benchmark's item set is the union of the item ids any team has on it. When the results
carry a `cluster` column, the bootstrap draws whole clusters of items instead of items. Results of
teams on *other* teams' picks are optional (they feed the self-selection analysis
only) and are always used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fromscratch.decide.protocol import Protocol
from fromscratch.errors import InputError


@dataclass
class BenchmarkData:
    """Item scores of one benchmark: X[t, i] (0 where absent) and the presence mask M."""

    name: str
    pillar: str
    items: list[str]
    X: np.ndarray  # (T, n) float64
    M: np.ndarray  # (T, n) bool: the item counts for team t
    required: np.ndarray  # (T,) bool: the team must be scored on this benchmark
    cluster: np.ndarray | None = None  # (n,) cluster code of each item; the bootstrap resamples clusters
    n_clusters: int = 0


@dataclass
class HumanData:
    """One human pillar: R[t, r] = rater r's mean over criteria for team t; RM marks presence."""

    pillar: str
    raters: list[str]
    R: np.ndarray  # (T, nR)
    RM: np.ndarray  # (T, nR) bool


@dataclass
class RoundData:
    teams: list[str]
    benchmarks: list[BenchmarkData]
    human: list[HumanData]
    pillars: list[str]  # protocol order
    warnings: list[str] = field(default_factory=list)

    @property
    def bench_names(self) -> list[str]:
        return [b.name for b in self.benchmarks]


def _teams(protocol: Protocol, results: dict, results_path: Path) -> list[str]:
    if protocol.teams is not None:
        teams = list(protocol.teams)
    elif protocol.choices is not None and protocol.choices.picks:
        teams = list(protocol.choices.picks)
    else:
        teams = sorted({t for per_team in results.values() for t in per_team})
    known = set(teams)
    for bench in sorted(results):
        for team in sorted(results[bench]):
            if team not in known:
                raise InputError(results_path, f"unknown team {team!r} (on benchmark {bench!r}); the protocol's teams are {sorted(known)}")
    if len(teams) < 2:
        raise InputError(results_path, "a decision needs at least two teams")
    if protocol.choices is not None:
        for team in teams:
            if team not in protocol.choices.picks:
                raise InputError(results_path, f"team {team!r} has no picks in the protocol's [choices]")
    return sorted(teams)


def _bench_pillars(protocol: Protocol, results: dict, rpath: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """benchmark -> pillar (common and picked ones) and benchmark -> the teams that picked it."""
    bench_pillar: dict[str, str] = dict(protocol.benchmarks)
    pickers: dict[str, list[str]] = {}
    if protocol.choices is not None:
        for team, picks in protocol.choices.picks.items():
            for b in picks:
                bench_pillar[b] = protocol.choices.pillar
                pickers.setdefault(b, []).append(team)
    for bench in sorted(results):
        if bench not in bench_pillar:
            raise InputError(rpath, f"unknown benchmark {bench!r}: not in the protocol's [benchmarks] or [choices]")
    return bench_pillar, pickers


def _benchmark(protocol: Protocol, bench: str, pillar: str, per_team: dict[str, dict[str, float]],
               required: np.ndarray, teams: list[str], tix: dict[str, int], rpath: Path,
               clusters: dict[str, dict[str, str]] | None, warnings: list[str]) -> BenchmarkData:
    """One benchmark's (team x item) score and presence matrices, under the missing-items rule."""
    T = len(teams)
    items = sorted({i for scores in per_team.values() for i in scores})
    if not items:
        raise InputError(rpath, f"benchmark {bench!r} has no results")
    iix = {it: k for k, it in enumerate(items)}
    X = np.zeros((T, len(items)))
    M = np.zeros((T, len(items)), dtype=bool)
    for team, scores in per_team.items():
        t = tix[team]
        idx = np.fromiter((iix[i] for i in scores), dtype=np.int64, count=len(scores))
        X[t, idx] = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        M[t, idx] = True
    for t in np.flatnonzero(required):
        have = int(M[t].sum())
        if have == len(items):
            continue
        gap = f"team {teams[t]!r} lacks {len(items) - have} of {len(items)} items of benchmark {bench!r}"
        if protocol.missing_items == "refuse":
            raise InputError(rpath, gap + " (missing_items = 'refuse'; set 'zero' or 'skip' in the protocol to score anyway)")
        if protocol.missing_items == "zero":
            M[t] = True  # X is already 0 there
            warnings.append(gap + "; missing items scored 0")
        else:
            warnings.append(gap + "; scored on the items it has")
    code, ncl = None, 0
    if clusters and bench in clusters:
        names = sorted(set(clusters[bench].values()))
        cix = {c: k for k, c in enumerate(names)}
        code = np.array([cix[clusters[bench][it]] for it in items], dtype=np.int64)
        ncl = len(names)
    return BenchmarkData(bench, pillar, items, X, M, required, code, ncl)


def _human_pillar(protocol: Protocol, pillar: str, per_team: dict, teams: list[str], tix: dict[str, int],
                  hp: Path, warnings: list[str]) -> HumanData:
    """One human pillar's (team x rater) mean-over-criteria matrix."""
    raters = sorted({r for per_rater in per_team.values() for r in per_rater})
    if not raters:
        raise InputError(hp, f"no human scores for pillar {pillar!r}")
    want = protocol.criteria.get(pillar)
    rix = {r: k for k, r in enumerate(raters)}
    R = np.zeros((len(teams), len(raters)))
    RM = np.zeros((len(teams), len(raters)), dtype=bool)
    for team, per_rater in per_team.items():
        for rater, crit in per_rater.items():
            if want is not None and set(crit) != set(want):
                odd = sorted(set(crit) ^ set(want))
                raise InputError(
                    hp, f"rater {rater!r} on team {team!r}, pillar {pillar!r}: criteria differ from the protocol's {list(want)} ({odd[0]!r})"
                )
            R[tix[team], rix[rater]] = float(np.mean(list(crit.values())))
            RM[tix[team], rix[rater]] = True
    for t, team in enumerate(teams):
        if not RM[t].any():
            if protocol.missing_items == "zero":
                RM[t, :] = True
                warnings.append(f"team {team!r} has no human scores for pillar {pillar!r}; scored 0")
            else:
                raise InputError(hp, f"team {team!r} has no human scores for pillar {pillar!r}")
    return HumanData(pillar, raters, R, RM)


def _humans(protocol: Protocol, human: dict | None, human_path: str | Path | None, teams: list[str],
            tix: dict[str, int], warnings: list[str]) -> list[HumanData]:
    hpillars = protocol.human_pillars
    if hpillars and human is None:
        raise InputError(human_path or "--human", f"pillar(s) {', '.join(hpillars)} need a human-scores table (--human)")
    if human is None:
        return []
    hp = Path(human_path) if human_path else Path("--human")
    for pillar in sorted(human):
        if pillar not in hpillars:
            raise InputError(hp, f"unknown human pillar {pillar!r}; the protocol's human pillars are {hpillars}")
        for team in sorted(human[pillar]):
            if team not in tix:
                raise InputError(hp, f"unknown team {team!r} in pillar {pillar!r}")
    return [_human_pillar(protocol, pillar, human.get(pillar, {}), teams, tix, hp, warnings) for pillar in hpillars]


def build(
    protocol: Protocol,
    results: dict[str, dict[str, dict[str, float]]],
    human: dict[str, dict[str, dict[str, dict[str, float]]]] | None,
    results_path: str | Path,
    human_path: str | Path | None,
    clusters: dict[str, dict[str, str]] | None = None,
) -> RoundData:
    """Align the tables with the protocol; raise InputError for anything the rules refuse."""
    rpath = Path(results_path)
    teams = _teams(protocol, results, rpath)
    tix = {t: i for i, t in enumerate(teams)}
    T = len(teams)
    warnings: list[str] = []
    bench_pillar, pickers = _bench_pillars(protocol, results, rpath)
    benches: list[BenchmarkData] = []
    for bench in sorted(bench_pillar):
        if bench in protocol.benchmarks:
            required = np.ones(T, dtype=bool)
        else:
            required = np.zeros(T, dtype=bool)
            for t in pickers.get(bench, []):
                if t in tix:
                    required[tix[t]] = True
        if not required.any():
            continue  # a pick of a team that is not competing
        benches.append(_benchmark(protocol, bench, bench_pillar[bench], results.get(bench, {}), required,
                                  teams, tix, rpath, clusters, warnings))
    humans = _humans(protocol, human, human_path, teams, tix, warnings)
    # every team needs something in every benchmark-fed pillar
    for pillar in protocol.pillars:
        feeding = [b for b in benches if b.pillar == pillar]
        if not feeding:
            continue
        for t, team in enumerate(teams):
            if not any(b.required[t] and b.M[t].any() for b in feeding):
                raise InputError(rpath, f"team {team!r} has no results in pillar {pillar!r}")
    return RoundData(teams, benches, humans, list(protocol.pillars), warnings)
