"""What a team declares it used: a small TOML bill of materials or a CycloneDX 1.6 ML-BOM.

The audit compares this declaration with what the evidence shows; reuse that
the evidence finds and the declaration omits is the worst finding. Both input
forms reduce to one `Declared` record.

TOML form::

    [model]
    name = "team-a/foundation-1"
    licence = "Apache-2.0"

    [[component]]
    kind = "vision-encoder"            # a policy kind (see schema.POLICY_KINDS)
    name = "vision tower"
    origin = "Qwen/Qwen2.5-VL-7B"      # what it was taken from; omit when built here
    licence = "Apache-2.0"             # licence of the reused material
    trained_from_scratch = false       # false = reused weights/files (fine-tuned or not)
    modification = "fine-tuned on our data"

CycloneDX form: ``components[]`` of the BOM; the kind comes from the property
``fromscratch:kind`` (else from the name: vision, audio/speech, projector,
tokenizer, embedding; library/framework components are inference-code;
everything else backbone); ``pedigree.ancestors`` names the origin;
``fromscratch:trained-from-scratch`` (``true``/``false``) says whether it was
trained afresh (default: false when an ancestor is named, true otherwise);
the licence is the first ``licenses[]`` id, name or expression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fromscratch.artifacts.hfdir import load_json
from fromscratch.errors import InputError
from fromscratch.policy.schema import POLICY_KINDS, PolicyKind
from fromscratch.tomlio import load_toml


class DeclaredComponent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PolicyKind = Field(description="Policy kind the component belongs to.")
    name: str = Field(default="", description="The team's name for it.")
    origin: str | None = Field(default=None, description="Model, tokenizer or code base it was taken from.")
    licence: str | None = Field(default=None, description="SPDX id of the reused material's licence.")
    trained_from_scratch: bool = Field(default=True, description=(
        "True when initialised afresh and trained from the start; false for reused material."))
    modification: str = Field(default="", description="What was done to reused material.")

    @property
    def reused(self) -> bool:
        return not self.trained_from_scratch


class Declared(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = Field(description="toml or cyclonedx")
    source: str = Field(description="The file the declaration came from.")
    model_name: str | None = None
    model_licence: str | None = None
    components: list[DeclaredComponent] = Field(default_factory=list)

    def reused(self, kind: str) -> list[tuple[int, DeclaredComponent]]:
        return [(i, c) for i, c in enumerate(self.components) if c.kind == kind and c.reused]

    def declared_kinds(self) -> set[str]:
        return {c.kind for c in self.components}


def _fail(path: Path, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return InputError(path, f"invalid declaration: {where}: {first['msg']}")


def _from_toml(data: dict[str, Any], path: Path) -> Declared:
    unknown = set(data) - {"model", "component"}
    if unknown:
        raise InputError(path, f"invalid declaration: unknown table(s) {sorted(unknown)}")
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise InputError(path, "invalid declaration: [model] must be a table")
    comps = data.get("component") or []
    if not isinstance(comps, list):
        raise InputError(path, "invalid declaration: use [[component]] tables")
    try:
        return Declared(format="toml", source=str(path), model_name=model.get("name"),
                        model_licence=model.get("licence") or model.get("license"),
                        components=[DeclaredComponent.model_validate(c) for c in comps])
    except ValidationError as exc:
        raise _fail(path, exc) from None


def _guess_kind(name: str, ctype: str) -> str:
    low = name.lower()
    for words, kind in ((("vision", "image", "vit", "siglip", "clip"), "vision-encoder"),
                        (("audio", "speech", "whisper"), "audio-encoder"),
                        (("projector", "connector", "adapter"), "projector"),
                        (("tokenizer", "vocab"), "tokenizer"),
                        (("embedding", "lm_head", "lm-head"), "embeddings")):
        if any(w in low for w in words):
            return kind
    if ctype in ("library", "framework", "application", "file"):
        return "inference-code"
    return "backbone"


def _licence(comp: dict[str, Any]) -> str | None:
    for entry in comp.get("licenses") or []:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("expression"), str):
            return entry["expression"]
        lic = entry.get("license")
        if isinstance(lic, dict):
            return lic.get("id") or lic.get("name")
    return None


def _from_cyclonedx(data: dict[str, Any], path: Path) -> Declared:
    if data.get("bomFormat") != "CycloneDX":
        raise InputError(path, "not a CycloneDX BOM (bomFormat is not 'CycloneDX')")
    meta = (data.get("metadata") or {}).get("component") or {}
    out: list[DeclaredComponent] = []
    for comp in data.get("components") or []:
        if not isinstance(comp, dict):
            raise InputError(path, "invalid CycloneDX component entry")
        props = {p.get("name"): p.get("value") for p in comp.get("properties") or [] if isinstance(p, dict)}
        name = str(comp.get("name") or "")
        kind = props.get("fromscratch:kind") or _guess_kind(name, str(comp.get("type") or ""))
        if kind not in POLICY_KINDS:
            raise InputError(path, f"component {name!r}: unknown fromscratch:kind {kind!r}")
        ancestors = (comp.get("pedigree") or {}).get("ancestors") or []
        origin = None
        if ancestors and isinstance(ancestors[0], dict):
            origin = ancestors[0].get("purl") or ancestors[0].get("name")
        flag = props.get("fromscratch:trained-from-scratch")
        scratch = (str(flag).lower() == "true") if flag is not None else origin is None
        out.append(DeclaredComponent(kind=kind, name=name, origin=origin, licence=_licence(comp),
                                     trained_from_scratch=scratch,
                                     modification=str(props.get("fromscratch:modification") or "")))
    return Declared(format="cyclonedx", source=str(path), model_name=meta.get("name"),
                    model_licence=_licence(meta), components=out)


def load_declared(path: str | Path) -> Declared:
    """Read a declaration (``.toml`` or CycloneDX ``.json``)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise InputError(path, "no such declaration file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read declaration: {exc}") from exc
    if path.suffix.lower() == ".json" or head.lstrip().startswith(b"{"):
        data = load_json(path)
        if not isinstance(data, dict):
            raise InputError(path, "a CycloneDX BOM must be a JSON object")
        return _from_cyclonedx(data, path)
    data = load_toml(path, what="declaration")
    return _from_toml(data, path)
