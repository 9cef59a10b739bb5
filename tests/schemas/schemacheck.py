"""Checking a JSON document against its committed JSON Schema and its typed model."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from fromscratch.schemas import ALL

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def check(doc: dict, stem: str | None = None) -> None:
    """Valid under the committed JSON Schema file and under the pydantic model."""
    stem = stem or str(doc["schema"]).split(".", 1)[1].split("/", 1)[0]
    schema = json.loads((SCHEMAS / f"{stem}.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    ALL[stem].model_validate(doc)
