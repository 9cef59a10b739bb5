"""The ``inspect`` object: what a checkpoint holds, from headers only.

Built as plain data (for ``--json``) and rendered separately, so the JSON is
deterministic and the terminal view can change freely.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from fromscratch.artifacts.base import tower_of
from fromscratch.artifacts.model import Model
from fromscratch.artifacts import hfdir
from fromscratch.errors import InputError

SCHEMA = "fromscratch.inspect/1"
_QUANTISED_PREFIXES = ("Q", "IQ", "TQ", "MXFP", "NVFP")


def _special_from_ids(tokens: list[str] | None, tok: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("bos", "eos", "unknown", "padding", "seperator", "separator", "cls", "mask"):
        tid = tok.get(f"{key}_token_id")
        if isinstance(tid, int) and tokens and 0 <= tid < len(tokens):
            out[{"unknown": "unk", "padding": "pad", "seperator": "sep", "separator": "sep"}.get(key, key)] = tokens[tid]
    return out


def tokenizer_summary(model: Model) -> dict[str, Any] | None:
    """Type, vocabulary size and a few special tokens, from wherever the model keeps them."""
    emb = model.embedded_tokenizer
    if emb and emb.get("tokens"):
        tokens = emb.get("tokens")
        return {"source": "gguf", "type": emb.get("model"), "pre": emb.get("pre"), "vocab_size": len(tokens),
                "merges": len(emb["merges"]) if isinstance(emb.get("merges"), list) else None,
                "special_tokens": _special_from_ids(tokens, emb),
                "chat_template": bool(emb.get("chat_template"))}
    files = model.side_files
    if "tokenizer.json" in files:
        try:
            data = hfdir.load_json(files["tokenizer.json"])
        except InputError:
            data = None
        if isinstance(data, dict):
            m = data.get("model") if isinstance(data.get("model"), dict) else {}
            vocab = m.get("vocab")
            added = [a for a in data.get("added_tokens") or [] if isinstance(a, dict)]
            size = len(vocab) if isinstance(vocab, (dict, list)) else 0
            ids = [a.get("id") for a in added if isinstance(a.get("id"), int)]
            if isinstance(vocab, dict):
                size = max([size] + [i + 1 for i in ids])
            specials = {}
            for a in added[:8]:
                if a.get("special"):
                    specials[str(a.get("id"))] = a.get("content")
            return {"source": "tokenizer.json", "type": m.get("type"), "vocab_size": size,
                    "merges": len(m["merges"]) if isinstance(m.get("merges"), list) else None,
                    "special_tokens": specials}
    for name, kind in (("tokenizer.model", "sentencepiece"), ("spiece.model", "sentencepiece"),
                       ("sentencepiece.bpe.model", "sentencepiece")):
        if name in files:
            return {"source": name, "type": kind, "vocab_size": None, "special_tokens": {}}
    for name in ("vocab.txt", "vocabulary.txt"):
        if name in files:
            try:
                n = sum(1 for _ in open(files[name], encoding="utf-8", errors="replace"))
            except OSError:
                n = None
            return {"source": name, "type": "WordPiece" if name == "vocab.txt" else "vocabulary", "vocab_size": n,
                    "special_tokens": {}}
    return None


def dtype_summary(model: Model) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for info in model.tensor_infos():
        d = out.setdefault(info.dtype, {"tensors": 0, "parameters": 0, "bytes": 0})
        d["tensors"] += 1
        d["parameters"] += info.numel
        d["bytes"] += info.nbytes
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["parameters"], kv[0])))


def is_quantised(label: str) -> bool:
    return label.startswith(_QUANTISED_PREFIXES) or label in {"I8", "U8"}


def inspect_model(model: Model, *, location: str | None = None, read_values: bool = False,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The ``fromscratch.inspect/1`` object. ``read_values`` adds per-tensor statistics."""
    comps = []
    learned = 0
    for comp in model.components():
        tensors = []
        for t in comp.tensors:
            entry: dict[str, Any] = {"name": t.source_name, "role": t.role, "shape": list(t.shape), "dtype": t.dtype}
            if t.rows is not None:
                entry["rows"] = list(t.rows)
            if t.expert is not None:
                entry["expert"] = t.expert
            if not t.learned:
                entry["learned"] = False
            if read_values:
                arr = model.load(t)
                finite = np.isfinite(arr)
                vals = arr[finite].astype(np.float64)
                entry["stats"] = {"l2": float(np.sqrt((vals ** 2).sum())) if vals.size else 0.0,
                                  "mean": float(vals.mean()) if vals.size else 0.0,
                                  "std": float(vals.std()) if vals.size else 0.0,
                                  "nonfinite": int(arr.size - int(finite.sum()))}
                if progress:
                    progress(1)
            tensors.append(entry)
        learned += comp.learned_parameters
        comps.append({"name": comp.name, "kind": comp.kind, "layer": comp.layer, "parameters": comp.parameters,
                      "tensors": tensors})
    dts = dtype_summary(model)
    quant = sorted(k for k in dts if is_quantised(k))
    cfg = model.config or {}
    arch = {k: cfg[k] for k in ("model_type", "architectures", "hidden_size", "num_hidden_layers",
                                "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size",
                                "tie_word_embeddings") if k in cfg}
    side = model.side_files
    return {
        "schema": SCHEMA,
        "path": location if location is not None else str(model.path),
        "format": model.format,
        "parameters": model.parameters,
        "learned_parameters": learned,
        "tensors": len(model.tensor_infos()),
        "dtypes": dts,
        "quantisation": quant or None,
        "architecture": arch,
        "components": comps,
        "tokenizer": tokenizer_summary(model),
        "claims": model.claims,
        "side_files": sorted(side),
        "resolved": model.metadata.get("resolved"),
        "warnings": model.metadata.get("warnings", []),
    }


def human_bytes(n: int) -> str:
    x = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if x < 1024 or unit == "TB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{n} B"


def human_count(n: int) -> str:
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def render(result: dict[str, Any], console: Any) -> None:
    """A compact terminal view: identity, dtypes, components by kind, tokenizer, claims."""
    from rich.table import Table

    console.print(f"[bold]{result['path']}[/bold]  format [cyan]{result['format']}[/cyan]  "
                  f"parameters [bold]{human_count(result['parameters'])}[/bold] ({result['parameters']:,})  "
                  f"tensors {result['tensors']}")
    if result.get("architecture"):
        console.print("architecture: " + ", ".join(f"{k}={v}" for k, v in result["architecture"].items()))
    t = Table(title="storage types", show_edge=False)
    for col in ("dtype", "tensors", "parameters", "bytes"):
        t.add_column(col, justify="right" if col != "dtype" else "left")
    for label, d in result["dtypes"].items():
        mark = " (quantised)" if is_quantised(label) else ""
        t.add_row(label + mark, str(d["tensors"]), f"{d['parameters']:,}", human_bytes(d["bytes"]))
    console.print(t)
    comps = result["components"]
    layers = sorted({c["layer"] for c in comps if c["layer"] is not None and "." not in c["name"].split("layers.")[0]})
    ct = Table(title=f"components ({len(comps)})", show_edge=False)
    for col in ("component", "kind", "parameters", "tensors (role shape dtype)"):
        ct.add_column(col, justify="right" if col == "parameters" else "left")
    shown_layer = min(layers) if layers else None
    hidden = 0
    for c in comps:
        encoder = tower_of(c["name"]) != "text"
        if c["layer"] is not None and c["layer"] != shown_layer and not encoder:
            hidden += 1
            continue
        if c["layer"] is not None and encoder and c["layer"] != 0:
            hidden += 1
            continue
        roles = ", ".join(f"{x['role']} {'x'.join(map(str, x['shape']))} {x['dtype']}" for x in c["tensors"][:6])
        if len(c["tensors"]) > 6:
            roles += f", ... (+{len(c['tensors']) - 6})"
        ct.add_row(c["name"], c["kind"], f"{c['parameters']:,}", roles)
    console.print(ct)
    if hidden:
        console.print(f"({hidden} more components of other layers not shown; use --json for all)")
    tok = result.get("tokenizer")
    if tok:
        sp = ", ".join(f"{k}={v!r}" for k, v in list((tok.get("special_tokens") or {}).items())[:5])
        console.print(f"tokenizer: {tok.get('type')} from {tok.get('source')}, vocabulary {tok.get('vocab_size')}"
                      + (f", merges {tok['merges']}" if tok.get("merges") else "") + (f"; {sp}" if sp else ""))
    else:
        console.print("tokenizer: none found")
    claims = result.get("claims") or {}
    if claims:
        console.print("claims (as stated by the files, not verified):")
        for k, v in claims.items():
            text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            console.print(f"  {k}: {text[:160]}", markup=False, highlight=False)
    for w in result.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {w}")

