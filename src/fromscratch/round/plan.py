"""What a round evaluates, as one typed value: the round file's one-call form and a
sealed round folder (open + submissions) both become a `RoundPlan`, and the stages
(`stages.py`) read only the plan — one implementation of the evaluation for both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fromscratch.errors import InputError
from fromscratch.round.config import Location, RoundSpec, load_round


@dataclass(frozen=True)
class TeamPlan:
    model: Location
    code: Location | None = None
    tokenizer: Location | None = None
    bom: Location | None = None
    chain: tuple[Location, ...] = ()
    chain_init: tuple[str, ...] = ()  # declared init scheme of the chain (KEY=VALUE), when the config does not say
    backend: dict[str, Any] | None = None

    def roles(self) -> dict[str, Location]:
        """The located files in the ledger's role order (model, code, tokenizer, bom)."""
        return {r: loc for r in ("model", "code", "tokenizer", "bom") if (loc := getattr(self, r)) is not None}


@dataclass(frozen=True)
class RoundPlan:
    name: str
    seed: int
    resamples: int | None
    protocol: Path  # the protocol file as given
    teams: dict[str, TeamPlan]
    benchmarks: dict[str, str]  # name -> task spec (pack, YAML, loader)
    base: Path  # relative task specs resolve here
    references: list[tuple[str, Location]] = field(default_factory=list)
    code_refs: list[tuple[str, Location]] = field(default_factory=list)
    policy: str | None = None  # preset name or file path
    policy_path: Path | None = None  # the file, when `policy` names one
    human: Path | None = None
    round_file: Path | None = None  # copied as round.toml (the one-call form)
    protocol_text: bytes | None = None  # the protocol to seal when it is not the file as given
    keep: tuple[str, ...] = ()  # files under DIR written before the run (sealed copies)
    fp_registry: Path | None = None  # a fingerprint registry folder (`fromscratch registry`)
    fp_registry_sealed: bool = False  # whether `round open` sealed it (else it is recorded at run)


def registry_of(spec: RoundSpec) -> tuple[list[tuple[str, Location]], list[tuple[str, Location]]]:
    refs = [spec.labelled_location(r, "reference") for r in spec.registry.references]
    code_refs = [spec.labelled_location(r, "reference-code", hub=False) for r in spec.registry.code]
    return refs, code_refs


def fp_registry_of(spec: RoundSpec) -> Path | None:
    """The round file's ``[registry] fingerprints`` folder, which must exist."""
    loc = spec.path(spec.registry.fingerprints)
    if loc is not None and not loc.is_dir():
        raise InputError(loc, "fingerprint registry ([registry] fingerprints) not found")
    return loc


def policy_of(spec: RoundSpec) -> tuple[str | None, Path | None]:
    policy = spec.round.policy
    p = spec.path(policy) if policy else None
    return policy, (p if p is not None and p.is_file() else None)


def check_protocol(spec: RoundSpec, round_path: Path, picks: dict[str, tuple[str, ...]] | None = None) -> None:
    """The protocol parses and every benchmark it needs is defined by the round."""
    from fromscratch.decide import protocol as P

    src = spec.path(spec.round.protocol)
    if src is None or not src.is_file():
        raise InputError(src, "protocol file not found")
    proto = P.load(src)
    chosen = dict(proto.choices.picks) if proto.choices else {}
    chosen.update(picks or {})
    needed = set(proto.benchmarks) | {b for ps in chosen.values() for b in ps}
    missing = sorted(needed - set(spec.benchmarks))
    if missing:
        raise InputError(round_path, f"the protocol needs benchmark {missing[0]!r}, which [benchmarks] does not define")
    if proto.choices:
        for team, t in spec.teams.items():
            ps = chosen.get(team)
            if t.benchmarks and ps is not None and sorted(ps) != sorted(t.benchmarks):
                raise InputError(round_path, f"team {team!r}: picks {t.benchmarks} differ from the sealed protocol's {list(ps)}")


def from_round_file(round_path: str | Path) -> RoundPlan:
    """The one-call form: every team's files named in the round file (unsealed)."""
    round_path = Path(round_path)
    spec = load_round(round_path)
    check_protocol(spec, round_path)  # before anything is written
    teams = {}
    for team, t in sorted(spec.teams.items()):
        if t.model is None:
            raise InputError(round_path, f"team {team!r} has no model (the one-call form needs every team's files)")
        loc = {role: spec.location(value, f"team {team}: {role}", hub=role in ("model", "tokenizer"))
               for role in ("model", "code", "tokenizer", "bom") if (value := getattr(t, role)) is not None}
        chain = tuple(spec.location(c, f"team {team}: chain", hub=False) for c in t.chain)
        teams[team] = TeamPlan(chain=chain, chain_init=tuple(t.chain_init), backend=t.backend, **loc)
    refs, code_refs = registry_of(spec)
    policy, policy_path = policy_of(spec)
    human = spec.path(spec.round.human) if spec.round.human else None
    if human is not None and not human.is_file():
        raise InputError(human, "human scores file not found")
    proto = spec.path(spec.round.protocol)
    assert proto is not None
    return RoundPlan(name=spec.round.name, seed=spec.round.seed, resamples=spec.round.resamples, protocol=proto,
                     teams=teams, benchmarks=dict(spec.benchmarks), base=spec.base, references=refs,
                     code_refs=code_refs, policy=policy, policy_path=policy_path, human=human, round_file=round_path,
                     fp_registry=fp_registry_of(spec))
