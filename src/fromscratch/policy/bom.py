"""CycloneDX 1.6 ML-BOM of an audited submission.

The candidate is the BOM's ``metadata.component`` (with a ``modelCard``
holding its architecture family and shape hyper-parameters); each audited component kind
is a component whose ``pedigree.ancestors`` hold the origins the evidence found
(and whose ``pedigree.notes`` say why), with the verdict, rule, p-value and
evidence pointers as ``fromscratch:*`` properties. The document is built with
cyclonedx-python-lib and validated against the bundled 1.6 JSON schema before
it is written; the random serial number and the timestamp the library adds are
replaced by a serial derived from the audit and no timestamp, so the same
audit gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from fromscratch.jsonio import dumps

_TYPE = {"tokenizer": "FILE", "inference-code": "LIBRARY"}


def build_bom(audit: dict[str, Any], declared_licences: dict[str, str] | None = None) -> dict[str, Any]:
    """The ML-BOM as a JSON-ready dict (validated; raises RuntimeError if the schema rejects it)."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType, Pedigree
    from cyclonedx.model.license import LicenseExpression
    from cyclonedx.output.json import JsonV1Dot6

    cand = audit.get("candidate") or {}
    cand_path = str(cand.get("path") or "candidate")
    declared = audit.get("declared") or {}
    model_name = declared.get("model_name") or Path(cand_path).name or "candidate"
    policy = audit.get("policy") or {}
    bom = Bom()
    root = Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=model_name, bom_ref="candidate",
                     properties=[Property(name="fromscratch:path", value=cand_path),
                                 Property(name="fromscratch:format", value=str(cand.get("format") or "")),
                                 Property(name="fromscratch:overall-verdict", value=str(audit.get("verdict"))),
                                 Property(name="fromscratch:policy",
                                          value=f"{policy.get('name', 'none')} v{policy.get('version', '-')}")])
    bom.metadata.component = root
    children = []
    for row in audit.get("verdicts") or []:
        kind = row["component"]
        ancestors = [Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=str(origin),
                               bom_ref=f"{kind}:origin:{origin}")
                     for origin in row.get("origins") or []]
        notes = "; ".join([row.get("reason", "")] + [e["summary"] for e in row.get("evidence", [])
                                                     if e.get("reuse")][:8])
        props = [Property(name="fromscratch:kind", value=kind),
                 Property(name="fromscratch:verdict", value=row["verdict"]),
                 Property(name="fromscratch:rule", value=row["rule"]),
                 Property(name="fromscratch:p-value", value="null" if row.get("p_value") is None else repr(row["p_value"])),
                 Property(name="fromscratch:evidence",
                          value=" ".join(e["pointer"] for e in row.get("evidence", [])) or "none"),
                 Property(name="fromscratch:trained-from-scratch",
                          value="false" if row.get("origins") else "true")]
        licence = (declared_licences or {}).get(kind)
        comp = Component(type=getattr(ComponentType, _TYPE.get(kind, "MACHINE_LEARNING_MODEL")),
                         name=kind, bom_ref=f"candidate:{kind}", properties=props,
                         pedigree=Pedigree(ancestors=ancestors, notes=notes[:4000]) if ancestors or notes else None,
                         licenses=[LicenseExpression(licence)] if licence else None)
        bom.components.add(comp)
        children.append(comp)
    bom.register_dependency(root, children)
    data = json.loads(JsonV1Dot6(bom).output_as_string())
    data.get("metadata", {}).pop("timestamp", None)
    # cyclonedx-python-lib has no modelCard yet: add it to the serialised document (the schema
    # validation below covers it)
    cfg = (audit.get("config") or {}).get("candidate") or {}
    params: dict[str, Any] = {}
    if cfg.get("model_type"):
        params["architectureFamily"] = str(cfg["model_type"])
    card: dict[str, Any] = {"properties": [
        {"name": "fromscratch:config:" + k, "value": str(v)} for k, v in sorted(cfg.items())]}
    if params:
        card["modelParameters"] = params
    if card["properties"] or params:
        data["metadata"]["component"]["modelCard"] = card
    digest = hashlib.sha256(dumps({k: audit.get(k) for k in ("candidate", "verdict", "verdicts")}).encode()).hexdigest()
    data["serialNumber"] = uuid.UUID(digest[:32], version=5).urn
    validate_bom(data)
    return data


def validate_bom(data: dict[str, Any]) -> None:
    """Validate against the CycloneDX 1.6 JSON schema bundled with cyclonedx-python-lib."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(data))
    if error is not None:
        raise RuntimeError(f"generated BOM does not validate against CycloneDX 1.6: {error}")
