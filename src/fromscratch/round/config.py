"""The round file (ROUND.toml): who submitted what, and how the round is run.

::

    [round]
    name = "round-1"
    protocol = "protocol.toml"        # the decision protocol (sealed by the run)
    human = "human.csv"               # human scores (optional)
    policy = "korea-2026"             # audit policy preset or file (optional)
    seed = 0                          # seed of the audits
    resamples = 2000                  # decision bootstrap (default: the protocol's)

    [registry]                        # what submissions are audited against
    references = ["llama-ref=/models/ref", "/models/other", "org/name"]  # NAME=LOCATION or LOCATION
    code = ["vllm=/src/vllm"]                                     # reference code trees
    fingerprints = "/shared/registry"   # a fingerprint registry (`fromscratch registry`), optional

    [benchmarks]                      # every benchmark the protocol names: pack, YAML or loader
    ko-particles = "ko-particles"
    kmmlu = "kmmlu:data/kmmlu"

    [teams.alpha]
    model = "/submissions/alpha/model"        # a model location (as for `compare`)
    code = "/submissions/alpha/code"          # inference code (optional)
    tokenizer = "/submissions/alpha/tok"      # a model location, recorded in the ledger (optional)
    bom = "/submissions/alpha/bom.json"       # the team's declaration (optional)
    benchmarks = ["ko-reading", "en-units"]   # the team's own picks (must match the protocol)
    backend = {kind = "http", base_url = "http://10.0.0.5:8000/v1", model = "alpha"}  # optional

Relative paths are relative to the round file. A model location (team
``model`` and ``tokenizer``, registry ``references``) may also be a Hugging Face
hub id (``org/name`` or ``org/name@revision``) when no such path exists beside
the round file: it is resolved from the local cache only, exactly as
``compare`` and ``audit`` do (`fromscratch.artifacts.resolve_hub_id`), and the
snapshot folder it resolves to is what is digested and read. Every team runs
every benchmark of ``[benchmarks]`` (the others' picks included: the
cross-evaluation that measures self-selection advantage needs them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fromscratch.errors import InputError
from fromscratch.tomlio import load_toml

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class Location(NamedTuple):
    """Where the round file's string led: a path, and the hub id when it named one."""

    path: Path
    hub_id: str | None = None  # the round file's string, verbatim, when resolved from the hub cache


def locate(value: str, base: Path, what: str, *, hub: bool = True) -> Location:
    """An existing path (relative to ``base``) or, with ``hub``, a cached hub id.

    A path wins; otherwise a string shaped like a hub id (``org/name[@revision]``)
    is resolved from the local Hugging Face cache only, as `compare` and `audit`
    do. ``what`` names the team and role (or the reference) in the one-line
    error when neither exists.
    """
    q = Path(value).expanduser()
    p = q if q.is_absolute() else base / q
    if p.exists():
        return Location(p)
    if hub and not value.startswith((".", "/", "~")):
        from fromscratch.artifacts.model import _HUB_ID, resolve_hub_id

        if _HUB_ID.match(value):
            hit = resolve_hub_id(value)
            if hit is not None:
                return Location(hit[0], value)
            raise InputError(value, f"{what}: neither a path (relative to the round file) nor a hub id "
                                    "in the local Hugging Face cache (hub ids are resolved offline only)")
    raise InputError(p, f"{what} not found")


class TeamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Model location (in a sealed round it comes with `round submit`).")
    code: str | None = Field(None, description="Inference-code folder, audited for copied code.")
    tokenizer: str | None = Field(None, description="Tokenizer files, if separate from the model.")
    bom: str | None = Field(None, description="Declared bill of materials (TOML or CycloneDX JSON).")
    benchmarks: list[str] = Field(default_factory=list, description="The team's own benchmark picks.")
    backend: dict[str, Any] | None = Field(None, description="How to query the model (default: in-process).")
    chain: list[str] = Field(default_factory=list, description="Checkpoint chain CKPT_0 ... CKPT_n (claimed init first).")
    chain_init: list[str] = Field(default_factory=list, description="The chain's declared init scheme, KEY=VALUE "
                                                                      "options as for `chain --init` (default: config).")
    commitment: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                   description="SHA-256 commitment to the team's picks (revealed at submission).")


class RoundMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    protocol: str
    human: str | None = None
    policy: str | None = None
    seed: int = 0
    resamples: int | None = Field(None, ge=100)
    deadline: str | None = Field(None, description="Submission deadline, ISO 8601 with a time zone (sealed rounds).")
    rubric: str | None = Field(None, description="The human-scoring rubric file (sealed at open).")
    resubmission: bool = Field(False, description="Whether a team may submit again before the deadline.")


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    references: list[str] = Field(default_factory=list)
    code: list[str] = Field(default_factory=list)
    fingerprints: str | None = Field(None, description="A fingerprint registry folder (`fromscratch registry`): "
                                                        "the models its pre-filter passes become references.")


class RoundSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round: RoundMeta
    registry: Registry = Field(default_factory=Registry)
    benchmarks: dict[str, str] = Field(default_factory=dict)
    teams: dict[str, TeamSpec]
    base: Path = Field(Path("."), exclude=True)

    def path(self, p: str | None) -> Path | None:
        if p is None:
            return None
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.base / q)

    def location(self, value: str, what: str, *, hub: bool = True) -> Location:
        """An existing path (relative to the round file) or, with ``hub``, a cached hub id (see `locate`)."""
        return locate(value, self.base, what, hub=hub)

    def labelled_location(self, spec: str, role: str, *, hub: bool = True) -> tuple[str, Location]:
        """NAME=LOCATION or LOCATION (a path, or with ``hub`` a cached hub id) -> (name, location)."""
        name, raw = self._split_label(spec)
        name = name or self.path(raw).name  # type: ignore[union-attr]  # org/name -> name, like `audit`
        return name, self.location(raw, f"{role} {name}", hub=hub)

    def _split_label(self, spec: str) -> tuple[str, str]:
        if "=" in spec and not (self.base / spec).exists() and not Path(spec).exists():
            name, _, p = spec.partition("=")
            return name, p
        return "", spec

    def labelled(self, spec: str) -> tuple[str, Path]:
        """NAME=PATH or PATH -> (name, absolute path)."""
        name, p = self._split_label(spec)
        path = self.path(p)
        assert path is not None
        return (name or path.name), path


def load_round(path: str | Path) -> RoundSpec:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "round file not found")
    raw = load_toml(path, what="round file")
    try:
        spec = RoundSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(path, f"invalid round file: {where}: {first['msg']}") from None
    spec.base = path.resolve().parent
    if not spec.teams:
        raise InputError(path, "no [teams.NAME] tables")
    for name in list(spec.teams) + list(spec.benchmarks):
        if not _NAME.match(name):
            raise InputError(path, f"bad team or benchmark name {name!r} (letters, digits, _ . -)")
    for team, t in spec.teams.items():
        for b in t.benchmarks:
            if b not in spec.benchmarks:
                raise InputError(path, f"team {team!r} picked {b!r}, which [benchmarks] does not define")
    return spec
