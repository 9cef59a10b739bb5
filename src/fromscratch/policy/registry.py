"""A reference registry: the known models a round audits against, written once.

A round compares every submission with the same references; listing them in
one TOML file keeps the model, its code base and its licence together::

    [[reference]]
    name = "qwen2.5-vl-7b"            # the label used in verdicts, declarations, the BOM
    model = "/refs/qwen2.5-vl-7b"     # a model location (as for --against)
    code = "/refs/src/qwen-vl"        # optional: its source tree (as for --code-against)
    licence = "Apache-2.0"            # optional: reported beside the evidence

Relative paths are resolved against the registry file's folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fromscratch.errors import InputError
from fromscratch.tomlio import load_toml


class RegistryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Label of the reference.")
    model: str | None = Field(default=None, description="Model location (file, directory or hub id).")
    code: str | None = Field(default=None, description="Source tree of the reference's code base.")
    licence: str | None = Field(default=None, description="SPDX id of the reference's licence.")


def load_registry(path: str | Path) -> list[RegistryEntry]:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such reference registry")
    data = load_toml(path, what="reference registry")
    unknown = set(data) - {"reference"}
    if unknown:
        raise InputError(path, f"unknown table(s) {sorted(unknown)}; use [[reference]]")
    raw = data.get("reference") or []
    if not isinstance(raw, list):
        raise InputError(path, "use [[reference]] tables")
    try:
        entries = [RegistryEntry.model_validate(r) for r in raw]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(path, f"invalid reference: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise InputError(path, "reference names must be unique")
    base = path.parent

    def resolve(p: str | None) -> str | None:
        if p is None:
            return None
        q = Path(p)
        return str(q if q.is_absolute() or not (base / q).exists() else base / q)

    return [e.model_copy(update={"model": resolve(e.model), "code": resolve(e.code)}) for e in entries]


def expand(entries: list[RegistryEntry]) -> tuple[list[str], list[str], dict[str, str]]:
    """``--against`` specs, ``--code-against`` specs and licences by label."""
    models = [f"{e.name}={e.model}" for e in entries if e.model]
    code = [f"{e.name}={e.code}" for e in entries if e.code]
    licences = {e.name: e.licence for e in entries if e.licence}
    return models, code, licences
