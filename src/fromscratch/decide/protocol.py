"""The round protocol: what decides an elimination, fixed (and sealed) before results exist.

A protocol is a small TOML file. It is validated here into a pydantic model so that
every later stage can trust its shape, and it is *sealed*: the SHA-256 of the RFC 8785
canonical JSON of the TOML exactly as parsed (no defaults added), so that a decision
can prove it was taken under the rules that were published before the scores were.
Defaults are applied only in the validated model, never in the sealed bytes, so adding
a key whose value equals the default still changes the seal (what the file says is
what was promised).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fromscratch.errors import InputError
from fromscratch.tomlio import load_toml
from fromscratch.schemas.literals import PolicyVerdict

NORMALISATIONS = ("raw", "random-baseline", "target-relative", "zscore", "rank")
Normalisation = Literal["raw", "random-baseline", "target-relative", "zscore", "rank"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_PROTOCOL_BYTES = 1_000_000
MAX_SEAL_BYTES = 1_000_000  # a seal record is a few hundred bytes


class Choices(BaseModel):
    """Team-chosen benchmarks: one pillar, and for each team the benchmarks it picked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pillar: str = Field(description="The pillar the team-chosen benchmarks feed (must be in [pillars]).")
    picks: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="team -> the benchmarks that team chose; its pillar score is the mean of its own picks.",
    )


class Originality(BaseModel):
    """How the originality (from-scratch) verdicts of the policy audit affect the decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate: Literal["none", "disqualify", "penalty"] = Field(
        "none",
        description=(
            "'disqualify': a team whose verdict is 'violation' leaves regardless of score, in addition "
            "to the `eliminate` lowest of the other teams; 'penalty': its total is multiplied by "
            "(1 - penalty); 'none': verdicts are reported only."
        ),
    )
    penalty: float = Field(0.0, ge=0.0, le=1.0, description="Fraction of the total removed under gate = 'penalty'.")
    needs_review: Literal["ignore", "apply"] = Field(
        "ignore", description="Whether a 'needs-review' verdict is treated like 'violation' ('apply') or not."
    )
    verdicts: dict[str, PolicyVerdict] = Field(
        default_factory=dict,
        description="team -> policy verdict (as `fromscratch audit --policy` reports it); a --verdicts file overrides.",
    )


class Counterfactuals(BaseModel):
    """What the published counterfactuals vary that the rules themselves do not fix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    penalty: float | None = Field(
        None, gt=0.0, le=1.0,
        description=("The penalty shown in the 'originality gate as a penalty' row when the official gate "
                     "disqualifies (default: [originality] penalty when > 0, else 0.1)."),
    )
    weights: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description=("pillar -> [lowest, highest] weight the rules could reasonably have chosen; the decision is "
                     "recomputed with the pillar's weight at each end (default for a pillar: half and 1.5 times "
                     "its weight)."),
    )


class Protocol(BaseModel):
    """A validated round protocol. Field descriptions are the reference documentation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Round name, reported in the decision.")
    seed: int = Field(description="Seed of every random draw (bootstrap, weight sampling, lottery ties).")
    eliminate: int = Field(1, ge=0, description="How many teams leave on score (after any disqualification).")
    normalisation: Normalisation = Field(
        "raw",
        description=(
            "How a benchmark score (mean of item scores, 0-1) is put on the pillar scale before averaging: "
            "raw; random-baseline (s-r)/(1-r) with r from [random_baseline]; target-relative s/t with t the "
            "team's declared target model score from [targets.TEAM]; zscore across teams (population sd); "
            "rank = win rate against the other teams (ties count half)."
        ),
    )
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="Significance level: CI are 1-alpha, tests use Holm at alpha.")
    pillars: dict[str, float] = Field(description="pillar -> weight (>= 0; need not sum to 100).")
    benchmarks: dict[str, str] = Field(default_factory=dict, description="benchmark -> pillar for benchmarks every team runs.")
    choices: Choices | None = Field(None, description="Team-chosen benchmarks ([choices] with `pillar` and team = [...]).")
    teams: tuple[str, ...] | None = Field(
        None, description="The competing teams; default: the teams of [choices], else those in the results table."
    )
    tie_policy: Literal["eliminate-all", "spare-all", "lottery"] = Field(
        "spare-all",
        description=(
            "An exact tie of totals at the elimination boundary: 'spare-all' keeps every tied team (fewer leave), "
            "'eliminate-all' removes every tied team (more leave), 'lottery' draws among them with the seed."
        ),
    )
    statistical_tie: Literal["report", "spare"] = Field(
        "report",
        description=(
            "'report': a statistical tie is only reported; 'spare': a team whose Holm-adjusted paired test "
            "against the lowest surviving team does not reject at alpha is not eliminated."
        ),
    )
    missing_items: Literal["refuse", "zero", "skip"] = Field(
        "refuse",
        description=(
            "A team lacking some items (or a whole benchmark) it must be scored on: 'refuse' (an input error), "
            "'zero' (missing items score 0), 'skip' (scored on the items it has; listed in warnings)."
        ),
    )
    random_baseline: dict[str, float] = Field(
        default_factory=dict, description="benchmark -> chance score in [0, 1), for normalisation = 'random-baseline'."
    )
    targets: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="team -> benchmark -> score of the team's declared target model (> 0), for 'target-relative'.",
    )
    human_scale: tuple[float, float] = Field(
        (0.0, 1.0), description="[lowest, highest] possible human score; mapped linearly to 0-1."
    )
    criteria: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="human pillar -> the criteria its raters must use (optional check)."
    )
    resamples: int = Field(10_000, ge=100, le=1_000_000, description="Bootstrap resamples (the CLI may override).")
    weight_samples: int = Field(20_000, ge=100, le=2_000_000, description="Dirichlet draws for the weight-simplex shares.")
    neighbourhood: float = Field(
        0.1, gt=0.0, le=1.0,
        description="Weight neighbourhood: w = (1-h) w0 + h u, u uniform on the simplex (L1 distance <= 2h).",
    )
    originality: Originality = Field(default_factory=Originality, description="Originality gate ([originality]).")
    counterfactuals: Counterfactuals = Field(default_factory=Counterfactuals,
                                             description="Ranges the published counterfactuals use ([counterfactuals]).")

    @field_validator("pillars")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("[pillars] must name at least one pillar")
        for k, w in v.items():
            if not _NAME.match(k):
                raise ValueError(f"bad pillar name {k!r}")
            if not (w >= 0) or w == float("inf"):
                raise ValueError(f"pillar {k!r} has weight {w!r}; weights must be finite and >= 0")
        if sum(v.values()) <= 0:
            raise ValueError("pillar weights sum to 0")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Protocol":
        for bench, pillar in self.benchmarks.items():
            if pillar not in self.pillars:
                raise ValueError(f"benchmark {bench!r} feeds unknown pillar {pillar!r}")
        if self.choices is not None:
            if self.choices.pillar not in self.pillars:
                raise ValueError(f"[choices] pillar {self.choices.pillar!r} is not in [pillars]")
            if self.choices.pillar in set(self.benchmarks.values()):
                raise ValueError(f"pillar {self.choices.pillar!r} is fed both by [benchmarks] and [choices]")
            for team, picks in self.choices.picks.items():
                if not picks:
                    raise ValueError(f"team {team!r} chose no benchmarks")
                if len(set(picks)) != len(picks):
                    raise ValueError(f"team {team!r} lists a benchmark twice")
                clash = set(picks) & set(self.benchmarks)
                if clash:
                    raise ValueError(f"team {team!r} picked {sorted(clash)[0]!r}, which is already in [benchmarks]")
        if self.teams is not None:
            if len(set(self.teams)) != len(self.teams):
                raise ValueError("teams lists a team twice")
            if self.choices is not None:
                extra = set(self.choices.picks) - set(self.teams)
                if extra:
                    raise ValueError(f"[choices] names team {sorted(extra)[0]!r} that is not in teams")
        lo, hi = self.human_scale
        if not hi > lo:
            raise ValueError("human_scale must be [lowest, highest] with highest > lowest")
        for bench, r in self.random_baseline.items():
            if not 0.0 <= r < 1.0:
                raise ValueError(f"random_baseline for {bench!r} must be in [0, 1)")
        for team, row in self.targets.items():
            for bench, t in row.items():
                if not t > 0:
                    raise ValueError(f"target score of {team!r} on {bench!r} must be > 0")
        for pillar, (lo, hi) in self.counterfactuals.weights.items():
            if pillar not in self.pillars:
                raise ValueError(f"[counterfactuals.weights] names {pillar!r}, which is not in [pillars]")
            if not 0 <= lo <= hi or hi == float("inf"):
                raise ValueError(f"[counterfactuals.weights] {pillar} must be [lowest, highest] with 0 <= lowest <= highest")
        for pillar in self.criteria:
            if pillar not in self.human_pillars:
                raise ValueError(f"[criteria] names {pillar!r}, which is not a human pillar")
        return self

    # ---- derived views -------------------------------------------------------------
    @property
    def benchmark_pillars(self) -> list[str]:
        """Pillars fed by [benchmarks], in [pillars] order."""
        used = set(self.benchmarks.values())
        return [p for p in self.pillars if p in used]

    @property
    def choice_pillar(self) -> str | None:
        return None if self.choices is None else self.choices.pillar

    @property
    def human_pillars(self) -> list[str]:
        """Pillars fed by the human-scores table (neither [benchmarks] nor [choices])."""
        fed = set(self.benchmarks.values()) | ({self.choices.pillar} if self.choices else set())
        return [p for p in self.pillars if p not in fed]

    @property
    def weights_normalised(self) -> dict[str, float]:
        total = sum(self.pillars.values())
        return {p: w / total for p, w in self.pillars.items()}


def _from_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """Map the TOML layout onto the model's fields ([choices] mixes `pillar` and team keys)."""
    data = dict(raw)
    ch = data.get("choices")
    if isinstance(ch, dict):
        picks = {k: v for k, v in ch.items() if k != "pillar"}
        for team, v in picks.items():
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ValueError(f"[choices] {team} must be a list of benchmark names")
        data["choices"] = {"pillar": ch.get("pillar"), "picks": picks}
    return data


def load_raw(path: str | Path) -> dict[str, Any]:
    """Parse a protocol TOML file (size-capped) into plain data, exactly as written."""
    return load_toml(path, what="protocol file", limit=MAX_PROTOCOL_BYTES)


def parse(raw: dict[str, Any], source: str | Path | None = None) -> Protocol:
    """Validate parsed TOML into a Protocol; any problem is one InputError line."""
    try:
        return Protocol.model_validate(_from_raw(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "picks")
        msg = err.get("msg", "invalid")
        raise InputError(source, f"invalid protocol: {where + ': ' if where else ''}{msg}") from None
    except ValueError as exc:
        raise InputError(source, f"invalid protocol: {exc}") from None


def load(path: str | Path) -> Protocol:
    """Read and validate a protocol file."""
    return parse(load_raw(path), path)


def canonical_bytes(raw: dict[str, Any], source: str | Path | None = None) -> bytes:
    """RFC 8785 canonical JSON of the parsed TOML (the bytes that are sealed)."""
    import rfc8785

    try:
        return rfc8785.dumps(raw)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InputError(
            source, f"protocol cannot be sealed: {exc} (dates/times and integers beyond 2^53 are not allowed)"
        ) from None


def digest(raw: dict[str, Any], source: str | Path | None = None) -> str:
    return hashlib.sha256(canonical_bytes(raw, source)).hexdigest()


def seal(path: str | Path) -> str:
    """SHA-256 hex digest of the protocol file's canonical JSON."""
    raw = load_raw(path)
    load(path)  # only a valid protocol can be sealed
    return digest(raw, path)


def seal_record(path: str | Path) -> dict[str, Any]:
    """The content of a seal file: the digest plus the canonical protocol it covers."""
    from fromscratch.schemas.decision import Seal

    raw = load_raw(path)
    proto = parse(raw, path)
    return Seal(schema="fromscratch.seal/1", sha256=digest(raw, path), name=proto.name,
                canonical=canonical_bytes(raw, path).decode("utf-8")).model_dump(by_alias=True)


def read_seal(path: str | Path) -> str:
    """The sha256 a seal file records (a JSON object with 'sha256', or a bare hex digest)."""
    from fromscratch.artifacts.hfdir import load_json

    p = Path(path)
    try:
        if p.stat().st_size > MAX_SEAL_BYTES:
            raise InputError(p, f"seal larger than {MAX_SEAL_BYTES} bytes")
        text = p.read_text(encoding="utf-8").strip()
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(p, "seal file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(p, f"cannot read seal ({exc})") from None
    if re.fullmatch(r"[0-9a-f]{64}", text):
        return text
    try:
        obj = load_json(p, limit=MAX_SEAL_BYTES)
    except InputError:
        raise InputError(p, "seal is neither JSON nor a hex SHA-256 digest") from None
    sha = obj.get("sha256") if isinstance(obj, dict) else None
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise InputError(p, "seal has no valid 'sha256' (64 lowercase hex digits)")
    return sha


def check_seal(protocol_path: str | Path, seal_path: str | Path) -> str:
    """Refuse a protocol that changed after sealing; returns the (matching) digest."""
    expected = read_seal(seal_path)
    actual = digest(load_raw(protocol_path), protocol_path)
    if actual != expected:
        raise InputError(
            protocol_path,
            f"protocol changed after sealing: sha256 {actual[:12]}... differs from the seal's {expected[:12]}... "
            f"({seal_path})",
        )
    return actual
