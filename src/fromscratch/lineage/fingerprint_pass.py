"""The fingerprint pass in three steps that a cluster can split (``registry.distributed``).

1. ``context`` -- the anchor pass: embeddings (token, position, patch rows),
   each tower's residual coordinates, probe rows and the norm gains. Everything
   any other tensor's summary depends on, besides the tensor itself, and small.
2. ``block_pass`` -- every other tensor, one at a time, given the context. Its
   output for a tensor depends only on that tensor and the context, so the
   tensors can be split into any groups (one task each) and the parts merged.
3. ``finish`` -- the metadata, in the model's component order.

Large tensors are read in row blocks (``fingerprint_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fromscratch.lineage import fingerprint as F
from fromscratch.lineage import fingerprint_rows as R
from fromscratch.lineage import responses
from fromscratch.lineage.fingerprint_q8 import q8
from fromscratch.lineage.idrows import id_selection
from fromscratch.lineage.rowselect import head_rows, head_wanted, is_head, token_selection
from fromscratch.lineage.shapes import attention_shapes
from fromscratch.lineage.tokens import token_strings

Key = R.Key
tkey = R.tkey


@dataclass
class PassContext:
    """What every tensor's summary depends on besides the tensor itself (picklable, small)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tensors_meta: dict[Key, dict[str, Any]] = field(default_factory=dict)
    towers: dict[str, dict[str, Any]] = field(default_factory=dict)
    selection: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)
    n_strings: int | None = None
    probe: dict[str, np.ndarray] = field(default_factory=dict)
    #: id-keyed probe rows of towers keyed by token strings (``responses.ID_PROBE_TOKENS``)
    probe_id: dict[str, np.ndarray] = field(default_factory=dict)
    gains: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    #: (key, stored name, values, ``early``) of the tensors left for step 2, in model order
    todo: list[tuple[Key, str, int, bool]] = field(default_factory=list)
    comps: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

# -- step 1: the context ---------------------------------------------------------------------

def _is_token_embedding(c: Any, t: Any) -> bool:
    return c.kind == "embedding" and c.name.endswith("embed_tokens") and t.role == "weight" and len(t.shape) == 2


def _anchor_tensor(ctx: PassContext, scratch: R.Scratch, strings: list[str] | None, parts: dict,
                   c: Any, t: Any) -> bool:
    """Anchor rows of one embedding tensor (recorded too); False if ``t`` is not an anchor source."""
    tower, d = t.tower, int(t.shape[1]) if len(t.shape) >= 2 else 0
    add = parts.setdefault
    if _is_token_embedding(c, t):
        if strings:
            tok_ids, tok_keys = token_selection(ctx, strings, min(int(t.shape[0]), len(strings)))
            ids, id_keys = id_selection(int(t.shape[0]), F.ANCHOR_IDS)  # for checkpoints without strings
            got = R.rows_of(scratch, ctx.arrays, ctx.tensors_meta, t, np.concatenate(
                [np.asarray(tok_ids, dtype=np.int64), np.asarray(ids, dtype=np.int64)]))
            add(tower, []).append((np.asarray(tok_keys, dtype=np.int64), got[:len(tok_ids)], "tokens"))
            add(tower, []).append((id_keys, got[len(tok_ids):], "ids"))
        else:  # no token strings: token ids are the rows (see idrows)
            ids, keys = id_selection(int(t.shape[0]), F.ANCHOR_TOKENS)
            add(tower, []).append((keys, R.rows_of(scratch, ctx.arrays, ctx.tensors_meta, t, ids), "ids"))
        ctx.towers.setdefault(tower, {"dim": d})
    elif c.kind == "embedding" and c.name.endswith("embed_positions") and t.role == "weight" and len(t.shape) == 2:
        n = min(int(t.shape[0]), F.MAX_POSITION_ROWS)
        keys = np.asarray([F._stable_key("pos", i) for i in range(n)], dtype=np.int64)
        add(tower, []).append((keys, R.rows_of(scratch, ctx.arrays, ctx.tensors_meta, t, np.arange(n)), "positions"))
        ctx.towers.setdefault(tower, {"dim": d})
    elif c.kind == "embedding" and c.name.endswith("embed_patches") and t.role in {"patch", "conv1"} \
            and len(t.shape) >= 2:
        mat = scratch.load(t)
        flat = mat.reshape(mat.shape[0], -1).T  # (input features, d)
        keys = np.asarray([F._stable_key("feat", tower, t.role, tuple(mat.shape[1:]), i)
                           for i in range(flat.shape[0])], dtype=np.int64)
        add(tower, []).append((keys, flat.astype(np.float32), t.role))
        ctx.towers.setdefault(tower, {"dim": int(mat.shape[0])})
        R.record(ctx.arrays, ctx.tensors_meta, t, mat)
    else:
        return False
    return True


def _anchor_tables(ctx: PassContext, parts: dict) -> None:
    """Each tower's anchor table: keys, rows (float16) and which part each row comes from."""
    for tower, got in parts.items():
        d = ctx.towers[tower]["dim"]
        got = [p for p in got if p[1].shape[1] == d]
        if not got:
            continue
        ctx.arrays[f"anchor_part|{tower}"] = np.concatenate(
            [np.full(len(p[0]), F.ANCHOR_PARTS.index(p[2]), dtype=np.int8) for p in got])
        ctx.arrays[f"anchor_keys|{tower}"] = np.concatenate([p[0] for p in got])
        ctx.arrays[f"anchor_rows|{tower}"] = np.concatenate([p[1] for p in got]).astype(np.float16)
        ctx.towers[tower]["anchor"] = sorted({p[2] for p in got})


def _widths_from_blocks(ctx: PassContext, comps: list[Any]) -> None:
    """Towers without an anchor take their width from the first block matrix that reads it."""
    for c in comps:
        if c.tower not in ctx.towers and c.kind in {"attention", "mlp"}:
            for t in c.tensors:
                if t.role in {"q", "up", "gate"} and len(t.shape) == 2:
                    ctx.towers[c.tower] = {"dim": int(t.shape[1])}
                    break


def _head_selections(ctx: PassContext, comps: list[Any], strings: list[str] | None) -> None:
    """The heads' token rows, chosen now so that step 2 needs no token strings."""
    for c in comps:
        for t in c.tensors:
            if strings and is_head(t) and len(t.shape) == 2:
                token_selection(ctx, strings, min(int(t.shape[0]), len(strings)))


def _coordinates(ctx: PassContext, comps: list[Any]) -> None:
    """Towers without an anchor take their width from a block; then each tower's kept coordinates."""
    _widths_from_blocks(ctx, comps)
    a, kept = ctx.arrays, F.FIXED_COORDS + F.HASHED_COORDS
    for tower, info in ctx.towers.items():
        d = info["dim"]
        if f"anchor_rows|{tower}" in a:
            # the rows a model is primarily keyed by (token strings when it has them) choose the coordinates
            part = a[f"anchor_part|{tower}"]
            ids = F.ANCHOR_PARTS.index("ids")
            primary = part != ids if np.any(part != ids) else part >= 0
            coords = F._select_coords(a[f"anchor_keys|{tower}"][primary],
                                      a[f"anchor_rows|{tower}"][primary].astype(np.float32),
                                      ctx.n_strings is None)
        else:
            coords = np.arange(min(d, kept)) if d <= kept else np.arange(F.FIXED_COORDS)
        a[f"coords|{tower}"] = coords.astype(np.int32)


def _probes_and_gains(ctx: PassContext, model: Any, comps: list[Any], done: set[Key]) -> None:
    """Probe rows for token-response profiles, and the norm gains in front of each block's readers."""
    a = ctx.arrays
    for tower in ctx.towers:
        k, r = a.get(f"anchor_keys|{tower}"), a.get(f"anchor_rows|{tower}")
        if k is not None:
            part = a[f"anchor_part|{tower}"]
            sel = np.isin(part, [F.ANCHOR_PARTS.index("tokens")]) if np.any(part == 0) \
                else part == F.ANCHOR_PARTS.index("ids")
            if int(np.sum(sel)) >= 16:
                a[f"probe_keys|{tower}"], ctx.probe[tower] = responses.probes(k[sel], r[sel].astype(np.float32))
            ids = part == F.ANCHOR_PARTS.index("ids")
            if np.any(part == 0) and int(np.sum(ids)) >= 16:  # a copy without strings probes by id
                a[f"probe_id_keys|{tower}"], ctx.probe_id[tower] = responses.probes(
                    k[ids], r[ids].astype(np.float32), responses.ID_PROBE_TOKENS)
    for c in comps:
        if c.kind == "norm" and ctx.probe:
            for t in c.tensors:
                if len(t.shape) == 1 and tkey(t) not in done:
                    ctx.gains[(c.name, t.role)] = np.asarray(model.load(t), np.float32).reshape(-1)


def _skeleton(ctx: PassContext, model: Any, comps: list[Any], strings: list[str] | None) -> None:
    """Metadata that needs no values: components with their tensor keys, model facts, the tensors left."""
    ctx.comps = [{"name": c.name, "kind": c.kind, "layer": c.layer, "tower": c.tower,
                  "parameters": int(c.parameters), "learned_parameters": int(c.learned_parameters),
                  "keys": [tkey(t) for t in c.tensors]} for c in comps]
    ctx.meta = {"method": F.METHOD_VERSION, "path": str(model.path), "format": model.format,
                "parameters": int(model.parameters), "has_tokenizer": strings is not None,
                "claims": F._plain(model.claims), "row_keys": "tokens" if strings else "ids",
                "attention_shapes": attention_shapes(model.config)}


def context(model: Any, scratch: R.Scratch | None = None) -> PassContext:
    """Step 1: the anchor pass and everything derived from it (see module docstring)."""
    comps = model.components()
    scratch = scratch or R.Scratch(model)
    strings = token_strings(model)
    ctx = PassContext(n_strings=None if strings is None else len(strings))
    parts: dict[str, list] = {}
    done: set[Key] = set()
    for c in comps:
        for t in c.tensors:
            if t.learned and _anchor_tensor(ctx, scratch, strings, parts, c, t):
                done.add(tkey(t))
    _anchor_tables(ctx, parts)
    _coordinates(ctx, comps)
    _probes_and_gains(ctx, model, comps, done)
    _head_selections(ctx, comps, strings)
    ctx.todo = [(tkey(t), t.source_name, R.numel(t.shape), early(t)) for c in comps for t in c.tensors
                if tkey(t) not in done]
    _skeleton(ctx, model, comps, strings)
    return ctx


def early(t: Any) -> bool:
    """True for a tensor whose summary needs no anchor-derived value (coordinates, probes, gains).

    Heads and other non-block matrices: their entry, and an lm_head's kept rows,
    need only the tower widths (from the headers) and the token selection, so a
    cluster can summarise them while another worker computes the context.
    """
    return (len(t.shape) >= 2 and t.kind not in F.MATRIX_KINDS and t.kind != "projector"
            and not t.component.endswith("router") and t.kind != "embedding")


def header_context(model: Any) -> PassContext:
    """The part of the context that ``early`` tensors need: tower widths and the heads' token selection.

    Widths follow ``_anchor_tensor`` and ``_coordinates``, from shapes only.
    """
    comps = model.components()
    strings = token_strings(model)
    ctx = PassContext(n_strings=None if strings is None else len(strings))
    for c in comps:
        for t in c.tensors:
            if not t.learned or len(t.shape) < 2:
                continue
            if _is_token_embedding(c, t) or (c.kind == "embedding" and c.name.endswith("embed_positions")
                                             and t.role == "weight" and len(t.shape) == 2):
                ctx.towers.setdefault(t.tower, {"dim": int(t.shape[1])})
            elif c.kind == "embedding" and c.name.endswith("embed_patches") and t.role in {"patch", "conv1"}:
                ctx.towers.setdefault(t.tower, {"dim": int(t.shape[0])})
    _widths_from_blocks(ctx, comps)
    _head_selections(ctx, comps, strings)
    ctx.todo = [(tkey(t), t.source_name, R.numel(t.shape), True) for c in comps for t in c.tensors if early(t)]
    return ctx


# -- step 2: every other tensor ----------------------------------------------------------------

def _profiles(ctx: PassContext, out: dict, t: Any, arr: np.ndarray) -> None:
    """Unit profiles on the kept coordinates (block matrices, stacked experts, projectors) or the vector itself."""
    d = ctx.towers.get(t.tower, {}).get("dim")
    coords = ctx.arrays.get(f"coords|{t.tower}")
    role = t.role
    if (t.kind in F.MATRIX_KINDS or t.component.endswith(("router",))) and arr.ndim == 2 and d and coords is not None:
        if role in F.INPUT_ROLES and arr.shape[1] == d:
            out[f"prof|{t.component}|{t.role}|{t.expert}"] = q8(np.take(arr, coords, axis=1))
        elif role in F.OUTPUT_ROLES and arr.shape[0] == d:
            out[f"prof|{t.component}|{t.role}|{t.expert}"] = q8(arr[coords, :].T)
    elif t.kind == "experts" and arr.ndim == 3 and d and coords is not None:
        _expert_profiles(out, t, arr, 0, d, coords)
    elif t.kind == "projector" and arr.ndim == 2:
        for tw, info in sorted(ctx.towers.items()):  # a projector reads one tower's residual stream
            tc = ctx.arrays.get(f"coords|{tw}")
            if arr.shape[1] == info["dim"] and tc is not None and tw != "text":
                out[f"prof|{t.component}|{t.role}|{tw}"] = q8(np.take(arr, tc, axis=1))
                break
    elif arr.ndim == 1 and d and arr.shape[0] == d and not t.role.endswith("bias") and t.learned:
        out[f"vec|{t.component}|{t.role}|{t.expert}"] = arr.astype(np.float32)


def _expert_profiles(out: dict, t: Any, arr: np.ndarray, e0: int, d: int, coords: np.ndarray) -> None:
    """Profiles of stacked experts (E, out, in) stored as one tensor; ``arr`` holds experts ``e0...``."""
    for i in range(arr.shape[0]):
        sub, e = arr[i], e0 + i
        if t.role in F.INPUT_ROLES and sub.shape[1] == d:
            out[f"prof|{t.component}|{t.role}|{e}"] = q8(np.take(sub, coords, axis=1))
        elif t.role in F.OUTPUT_ROLES and sub.shape[0] == d:
            out[f"prof|{t.component}|{t.role}|{e}"] = q8(sub[coords, :].T)


def _streamed_experts(ctx: PassContext, scratch: R.Scratch, out: dict, metas: dict, t: Any) -> None:
    """A large stacked-experts tensor, a few experts at a time: its entry and every expert's profiles."""
    d = ctx.towers.get(t.tower, {}).get("dim")
    coords = ctx.arrays.get(f"coords|{t.tower}")
    s = R.Summary(tuple(int(x) for x in t.shape))
    for e0, block in scratch.row_blocks(t):
        s.add(e0, block)
        if d and coords is not None:
            _expert_profiles(out, t, block, e0, d, coords)
    R.store(out, metas, t, s.entry())


def _streams(t: Any) -> bool:
    """A large tensor whose fingerprint is its entry plus kept rows only (embeddings, heads): read in row blocks."""
    return (R.numel(t.shape) > R.STREAM_VALUES and len(t.shape) == 2 and t.kind not in F.MATRIX_KINDS
            and t.kind != "projector" and not t.component.endswith("router"))


def _tensor(ctx: PassContext, scratch: R.Scratch, out: dict, metas: dict, t: Any) -> None:
    """Every stored piece of one tensor's fingerprint."""
    wanted = head_wanted(ctx, t)
    if t.kind == "experts" and len(t.shape) == 3 and R.numel(t.shape) > R.STREAM_VALUES:
        return _streamed_experts(ctx, scratch, out, metas, t)
    if _streams(t):
        rows = R.rows_of(scratch, out, metas, t, wanted[0] if wanted else np.zeros(0, np.int64))
        if wanted:
            head_rows(ctx, out, t, wanted, rows)
        return
    arr = scratch.load(t)
    R.record(out, metas, t, arr)
    if t.tower in ctx.probe and t.kind in F.MATRIX_KINDS and arr.ndim == 2:
        F._record_response(out, t, arr, ctx.probe[t.tower], ctx.gains)
        if t.tower in ctx.probe_id:
            F._record_response(out, t, arr, ctx.probe_id[t.tower], ctx.gains, "resp_id")
    _profiles(ctx, out, t, arr)
    if wanted:
        head_rows(ctx, out, t, wanted, arr[wanted[0]].astype(np.float32))


def block_pass(model: Any, ctx: PassContext, keys: list[Key] | None = None, *, advance: Any = None,
               scratch: R.Scratch | None = None) -> tuple[dict[str, np.ndarray], dict[Key, dict[str, Any]]]:
    """Step 2 over the tensors ``keys`` (default: all left by step 1); (arrays, tensor entries) they add."""
    want = {row[0] for row in ctx.todo} if keys is None else set(keys)
    scratch = scratch or R.Scratch(model)
    arrays: dict[str, np.ndarray] = {}
    metas: dict[Key, dict[str, Any]] = {}
    for c in model.components():
        for t in c.tensors:
            if tkey(t) in want:
                _tensor(ctx, scratch, arrays, metas, t)
                if advance:
                    advance(1)
    return arrays, metas


# -- step 3: metadata ---------------------------------------------------------------------------

def finish(ctx: PassContext, parts: list[tuple[dict[str, np.ndarray], dict[Key, dict[str, Any]]]]) -> F.Fingerprint:
    """The fingerprint from the context and the step-2 parts (any grouping)."""
    arrays = dict(ctx.arrays)
    metas = dict(ctx.tensors_meta)
    for a, m in parts:
        arrays.update(a)
        metas.update(m)
    comp_meta = []
    for c in ctx.comps:
        row = {k: v for k, v in c.items() if k != "keys"}
        row["tensors"] = [metas[k] for k in c["keys"] if k in metas]
        comp_meta.append(row)
    meta = dict(ctx.meta)
    meta["towers"] = ctx.towers
    meta["components"] = comp_meta
    return F.Fingerprint(meta, arrays)
