"""Weight-lineage evidence built directly (the fromscratch.compare/1 shape), for engine tests."""

from __future__ import annotations

TWO_TOWER = [("embed_tokens", "embedding", 4096), ("layers.0.attention", "attention", 1024),
             ("layers.0.mlp", "mlp", 2048), ("layers.1.attention", "attention", 1024),
             ("layers.1.mlp", "mlp", 2048), ("norm", "norm", 32), ("lm_head", "lm_head", 4096),
             ("vision.embed_patches", "embedding", 512), ("vision.layers.0.attention", "attention", 1024),
             ("vision.layers.0.mlp", "mlp", 2048), ("vision.norm", "norm", 32), ("projector", "projector", 1024)]


def compare_obj(reused_prefixes: tuple[str, ...] = (), relation: str = "identical",
                ref_path: str = "/refs/encoder-donor") -> dict:
    comps = []
    for name, kind, params in TWO_TOWER:
        hit = any(name.startswith(p) for p in reused_prefixes)
        comps.append({"name": name, "kind": kind, "layer": None,
                      "reference_name": name if hit else None, "reference_layer": None,
                      "relation": relation if hit else "independent", "basis": "descendant" if hit else None,
                      "p_value": 1e-12 if hit else 0.4, "similarity": 1.0 if hit else 0.01,
                      "parameters": params})
    return {"schema": "fromscratch.compare/1",
            "candidate": {"path": "/sub/model", "format": "safetensors", "parameters": 18944},
            "reference": {"path": ref_path, "format": "safetensors", "parameters": 18944},
            "verdict": relation if reused_prefixes else "independent",
            "p_value": 1e-12 if reused_prefixes else 0.4,
            "shared_parameter_fraction": 0.0, "coverage": 1.0, "components": comps}


def lineage_audit(*compares: dict) -> dict:
    worst = "derived" if any(c["verdict"] != "independent" for c in compares) else "independent"
    return {"schema": "fromscratch.audit/1", "candidate": compares[0]["candidate"], "verdict": worst,
            "references": list(compares)}


def resolve(doc, pointer: str):
    """Follow a JSON pointer (RFC 6901) through a document; KeyError/IndexError if it dangles."""
    node = doc
    if pointer in ("", "/"):
        return node
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node
