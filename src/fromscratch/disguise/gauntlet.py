"""The gauntlet: disguise a model every way the referee should see through, and audit each copy.

For every disguise the organiser's own model is transformed, written to disk
the way a team would submit it, fingerprinted like any submission and compared
with the original (``fromscratch.lineage``). A disguise is *caught* when the
copy is judged ``identical`` or ``derived``; it is *complete* when, in
addition, every block the copy kept is derived (p below the decision
threshold) and mapped to the block it came from, and no re-initialised block
is flagged. Function-preserving disguises are checked to compute the same
logits as the original (numpy forward pass in float64, random token
sequences); the others report how far their logits moved, for information.

Nothing is tuned here: the verdicts are the lineage comparison's, at its fixed
thresholds. A disguise the statistics cannot see comes out ``caught: false``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.disguise import exact, forward, io, lossy
from fromscratch.disguise.llama import Llama

SCHEMA = "fromscratch.gauntlet/1"
#: a function-preserving disguise passes when max |dlogit| <= this x max |logit|
FUNCTION_TOL = 1e-4
DERIVED = ("identical", "derived")


@dataclass
class Copy:
    """A disguised model and what the gauntlet must know about it."""

    model: Llama
    #: original block of each block of the copy (None: re-initialised)
    origin: list[int | None]
    ids_map: np.ndarray | None = None          # new id of each original token id
    write: str = "safetensors-F32"             # safetensors-F32 | safetensors-F16 | gguf-Q8_0
    skipped: str | None = None


@dataclass(frozen=True)
class Disguise:
    name: str
    description: str
    exact: bool                               # the function should be preserved
    make: Callable[[Llama, int], Copy] = field(repr=False)


def _same(m: Llama, out: Llama, **kw: Any) -> Copy:
    return Copy(out, list(range(out.spec.layers)), **kw)


def _prune(m: Llama, seed: int) -> Copy:
    n = m.spec.layers
    drop = list(range(n // 2, n // 2 + max(1, n // 8))) if n > 1 else []
    keep = [i for i in range(n) if i not in drop]
    return Copy(lossy.prune_layers(m, drop), keep)


def _duplicate(m: Llama, seed: int) -> Copy:
    n = m.spec.layers
    rep = sorted({n // 4, n // 2})
    order = [j for i in range(n) for j in ([i, i] if i in rep else [i])]
    return Copy(lossy.duplicate_layers(m, rep), order)


def _reinit(m: Llama, seed: int) -> Copy:
    n = m.spec.layers
    fresh = list(range(1, n, 4)) if n > 1 else []
    return Copy(lossy.reinit_layers(m, fresh, seed), [None if i in fresh else i for i in range(n)])


def _reorder(m: Llama, seed: int) -> Copy:
    out, new_id = lossy.reorder_vocab(m, seed)
    return _same(m, out, ids_map=new_id)


def _gguf(m: Llama, seed: int) -> Copy:
    why = io.gguf_supported(m)
    return _same(m, m, write="gguf-Q8_0", skipped=why)


def _rng_seeds(seed: int, k: int) -> list[int]:
    return [int(s) for s in np.random.default_rng(seed).integers(0, 2**31, size=k)]


def _rotate_permute(m: Llama, seed: int) -> Copy:
    a, b = _rng_seeds(seed, 2)
    return _same(m, exact.permute_units(exact.rotate(m, a), b))


def _no_tokenizer(m: Llama, seed: int) -> Copy:
    a, b = _rng_seeds(seed, 2)
    out = exact.permute_residual(exact.permute_units(m, a), b)
    return _same(m, replace(out, tokenizer=None, tokenizer_files={}))


def _no_tokenizer_rotate(m: Llama, seed: int) -> Copy:
    return _same(m, replace(exact.rotate(m, seed), tokenizer=None, tokenizer_files={}))


def _rotate_drift(m: Llama, seed: int) -> Copy:
    a, b = _rng_seeds(seed, 2)
    return _same(m, lossy.drift(exact.rotate(m, a), b, 0.2))


DISGUISES: tuple[Disguise, ...] = (
    Disguise("format-f16", "re-saved as safetensors F16 (format and dtype change)", False,
             lambda m, s: _same(m, m, write="safetensors-F16")),
    Disguise("format-gguf-q8_0", "converted to a llama.cpp GGUF quantised to Q8_0", False, _gguf),
    Disguise("requantise-q4_0", "every matrix quantised to Q4_0 and decoded back, stored as F32", False,
             lambda m, s: _same(m, io.quantise_roundtrip(m, "Q4_0"))),
    Disguise("permute-units", "MLP units and attention heads (KV groups, query heads) permuted", True,
             lambda m, s: _same(m, exact.permute_units(m, s))),
    Disguise("permute-residual", "residual coordinates permuted, with sign flips", True,
             lambda m, s: _same(m, exact.permute_residual(m, s))),
    Disguise("sign-flips", "signs flipped on residual coordinates, MLP units, value channels, q/k pairs", True,
             lambda m, s: _same(m, exact.flip_signs(m, s))),
    Disguise("rotate", "norm gains folded into their readers, residual stream rotated by a random "
             "orthogonal matrix", True, lambda m, s: _same(m, exact.rotate(m, s))),
    Disguise("rescale", "MLP up rows x c / down columns / c, value x a / output / a, query x b / key / b "
             "per rotary pair, norm gains x c / readers / c", True,
             lambda m, s: _same(m, exact.rescale(m, s))),
    Disguise("rotate+permute", "rotation with folded norms, then units and heads permuted", True,
             _rotate_permute),
    Disguise("rotate+drift-20", "rotation with folded norms, then 20 % relative drift", False, _rotate_drift),
    Disguise("prune-layers", "about an eighth of the blocks removed from the middle", False, _prune),
    Disguise("duplicate-layers", "two blocks duplicated (depth up-scaling)", False, _duplicate),
    Disguise("extend-vocab", "5 % new tokens appended (rows: mean of old rows)", True,
             lambda m, s: _same(m, lossy.extend_vocab(m, s, max(8, m.spec.vocab // 20)))),
    Disguise("reorder-vocab", "token ids shuffled (rows and token strings together)", True, _reorder),
    Disguise("drift-5", "5 % relative noise on every tensor (a light fine-tune)", False,
             lambda m, s: _same(m, lossy.drift(m, s, 0.05))),
    Disguise("drift-20", "20 % relative noise on every tensor", False,
             lambda m, s: _same(m, lossy.drift(m, s, 0.2))),
    Disguise("drift-50", "50 % relative noise on every tensor", False,
             lambda m, s: _same(m, lossy.drift(m, s, 0.5))),
    Disguise("reinit-partial", "every fourth block (from block 1) re-initialised at random, the rest kept",
             False, _reinit),
    Disguise("no-tokenizer+permute", "shipped without tokenizer files; units, heads and residual permuted",
             True, _no_tokenizer),
    Disguise("no-tokenizer+rotate", "shipped without tokenizer files; norm gains folded, residual stream rotated",
             True, _no_tokenizer_rotate),
)


def _write(c: Copy, out: Path) -> Path:
    if c.write == "gguf-Q8_0":
        return io.save_gguf(c.model, out / "model.gguf", "Q8_0")
    return io.save(c.model, out / "model", dtype=c.write.split("-")[1])


def _blocks(obj: dict[str, Any], origin: list[int | None], threshold: float) -> dict[str, Any]:
    """Per kept block: derived and mapped to its source; per re-initialised block: flagged or not."""
    kept = derived = mapped = fresh = flagged = 0
    for comp in obj["components"]:
        if comp["layer"] is None or comp["kind"] == "norm" or comp["layer"] >= len(origin):
            continue
        src = origin[comp["layer"]]
        hit = comp["relation"] in DERIVED and comp["p_value"] < threshold
        if src is None:
            fresh += 1
            flagged += comp["relation"] in DERIVED
            continue
        kept += 1
        derived += hit
        mapped += hit and comp.get("reference_layer") == src
    return {"kept": kept, "derived": derived, "mapped_to_source": mapped,
            "reinitialised": fresh, "reinitialised_flagged": flagged}


def _function(m: Llama, c: Copy, loaded: Llama | None, ids: np.ndarray, ref: np.ndarray,
              is_exact: bool) -> tuple[bool | None, float, float]:
    diff, scale = forward.logit_check(m, loaded or c.model, ids, ids_b=c.ids_map, reference=ref)
    ok = (diff <= FUNCTION_TOL * max(scale, 1.0)) if is_exact else None
    return ok, diff, scale


def run_one(d: Disguise, m: Llama, ref_fp: Any, seed: int, ids: np.ndarray, ref_logits: np.ndarray,
            work: Path) -> dict[str, Any]:
    """One disguise: make, write, check the function, fingerprint, compare."""
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.lineage.compare import DERIVED_P
    from fromscratch.lineage.fingerprint import build_fingerprint

    c = d.make(m, seed)
    row: dict[str, Any] = {"name": d.name, "description": d.description, "expects_same_function": d.exact,
                           "written_as": c.write}
    if c.skipped:
        return {**row, "function_preserved": None, "max_logit_diff": None, "verdict": "not-run",
                "caught": False, "complete": False, "skipped": c.skipped}
    out = work / d.name
    path = _write(c, out)
    loaded = io.load(path) if c.write != "safetensors-F32" else None
    ok, diff, scale = _function(m, c, loaded, ids, ref_logits, d.exact)
    del loaded
    fp = build_fingerprint(path, use_cache=False)
    shutil.rmtree(out, ignore_errors=True)
    obj = compare_fingerprints(fp, ref_fp, seed=seed)
    blocks = _blocks(obj, c.origin, DERIVED_P)
    caught = obj["verdict"] in DERIVED
    complete = (caught and blocks["derived"] == blocks["kept"] == blocks["mapped_to_source"]
                and blocks["reinitialised_flagged"] == 0)
    return {**row, "function_preserved": ok, "max_logit_diff": diff, "logit_scale": scale,
            "verdict": obj["verdict"], "p_value": obj["p_value"], "caught": caught, "complete": complete,
            "shared_parameter_fraction": obj["shared_parameter_fraction"], "blocks": blocks,
            "parameters": c.model.parameters()}


def _model_summary(location: str, m: Llama, fmt: str) -> dict[str, Any]:
    s = m.spec
    return {"path": str(location), "format": fmt, "parameters": m.parameters(), "layers": s.layers,
            "hidden": s.hidden, "heads": s.heads, "kv_heads": s.kv_heads, "vocab": s.vocab,
            "tied_embeddings": s.tied, "tokenizer": m.tokenizer is not None}


def run(location: str | Path, *, seed: int = 0, only: list[str] | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole gauntlet on one model (``fromscratch.gauntlet/1``)."""
    from fromscratch.artifacts.model import open_model
    from fromscratch.lineage.fingerprint import build_fingerprint

    m = io.load(location)
    with open_model(location) as handle:
        fmt = handle.format
    ref_fp = build_fingerprint(location)
    ids = forward.probe_ids(m.spec.vocab, seed)
    ref_logits = forward.logits(m, ids)
    chosen = [d for d in DISGUISES if only is None or d.name in only]
    seeds = _rng_seeds(seed, len(DISGUISES))
    rows = []
    with tempfile.TemporaryDirectory(prefix="fromscratch-gauntlet-") as tmp:
        for i, d in enumerate(DISGUISES):
            if d not in chosen:
                continue
            if progress:
                progress(d.name)
            rows.append(run_one(d, m, ref_fp, seeds[i], ids, ref_logits, Path(tmp)))
    ran = [r for r in rows if r["verdict"] != "not-run"]
    return {"schema": SCHEMA, "model": _model_summary(str(location), m, fmt), "seed": int(seed),
            "function_tolerance": FUNCTION_TOL, "disguises": rows,
            "caught": sum(r["caught"] for r in ran), "total": len(ran),
            "complete": sum(r["complete"] for r in ran),
            "missed": [r["name"] for r in ran if not r["caught"]],
            "function_broken": [r["name"] for r in ran if r["function_preserved"] is False]}
