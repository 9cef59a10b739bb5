"""Typed models of every command's JSON output, and the registry that finds one by its ``schema``.

Some outputs are built from these models (``bench run --json`` and a round's ``bench.json``
from `schemas.bench`; the seal and the whole decision, with its team rows, robustness and
counterfactuals, from `schemas.decision`), with field order as key order. The other commands still build
plain dictionaries (written by ``fromscratch.jsonio`` in their own key order); these models
describe those dictionaries: downstream code and tests validate against them, and
``docs/schemas/*.json`` are generated from them (``python scripts/gen_schemas.py``). Models allow extra keys, because outputs grow;
every key docs/cli.md and docs/schemas/ document is typed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from fromscratch.schemas.audit import Audit
from fromscratch.schemas.bench import Bench, BenchRun, BenchSummary, BenchTaskRun, SummaryRow
from fromscratch.schemas.code import Code
from fromscratch.schemas.decision import Decision, Seal, Sensitivity
from fromscratch.schemas.inspect import Inspect
from fromscratch.schemas.lineage import Chain, Compare, Gauntlet, Registry, Search
from fromscratch.schemas.round import ItemLog, LedgerEntry, ResultRow, RoundVerdicts
from fromscratch.schemas.tokenizer import Tokenizer

#: schema id -> model, for documents that carry a ``schema`` key
BY_ID: dict[str, type[BaseModel]] = {
    "fromscratch.compare/1": Compare,
    "fromscratch.audit/1": Audit,
    "fromscratch.code/1": Code,
    "fromscratch.tokenizer/1": Tokenizer,
    "fromscratch.inspect/1": Inspect,
    "fromscratch.decision/1": Decision,
    "fromscratch.bench/1": Bench,
    "fromscratch.bench-summary/1": BenchSummary,
    "fromscratch.seal/1": Seal,
    "fromscratch.sensitivity/1": Sensitivity,
    "fromscratch.search/1": Search,
    "fromscratch.registry/1": Registry,
    "fromscratch.chain/1": Chain,
    "fromscratch.gauntlet/1": Gauntlet,
}

#: file stem under docs/schemas/ -> model (rows and ledger entries carry no ``schema`` key)
ALL: dict[str, type[BaseModel]] = {
    **{sid.split(".", 1)[1].split("/", 1)[0]: m for sid, m in BY_ID.items()},
    "ledger-entry": LedgerEntry,
    "result-row": ResultRow,
    "item-log": ItemLog,
    "round-verdicts": RoundVerdicts,
}


def json_schemas() -> dict[str, str]:
    """file name under ``docs/schemas/`` -> its JSON Schema text (deterministic)."""
    from fromscratch.jsonio import dumps

    out = {}
    for stem, model in ALL.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
        out[f"{stem}.json"] = dumps(schema)
    return out


def validate(doc: dict[str, Any]) -> BaseModel:
    """The typed model of a document with a ``schema`` key (``pydantic.ValidationError`` if it breaks it)."""
    model = BY_ID.get(str(doc.get("schema")))
    if model is None:
        raise KeyError(f"no model for schema {doc.get('schema')!r}")
    return model.model_validate(doc)


__all__ = ["ALL", "BY_ID", "Audit", "Bench", "BenchRun", "BenchSummary", "BenchTaskRun", "SummaryRow", "Chain", "Code", "Compare", "Decision", "Gauntlet", "Inspect",
           "ItemLog", "LedgerEntry", "Registry", "ResultRow", "RoundVerdicts", "Search", "Seal", "Sensitivity",
           "Tokenizer", "json_schemas", "validate"]
