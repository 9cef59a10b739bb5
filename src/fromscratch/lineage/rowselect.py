"""Which embedding and head rows a fingerprint keeps: token rows by string hash, id rows by id hash.

Split from ``fingerprint_pass`` (one job: choosing rows; the pass reads and
stores them). ``ctx`` is the pass's ``PassContext`` (its ``selection`` memo and
``n_strings``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fromscratch.lineage import fingerprint as F
from fromscratch.lineage.idrows import id_selection
from fromscratch.lineage.tokens import token_key


def token_selection(ctx: Any, strings: list[str] | None, n_rows: int) -> tuple[list[int], list[int]]:
    """(row ids, token keys) of the hash-selected tokens among the first ``n_rows``; memoised in ``ctx``."""
    memo = ctx.selection.get(n_rows)
    if memo is not None:
        return memo
    if strings is None:
        raise RuntimeError("token selection needs the token strings")
    frac = min(1.0, F.ANCHOR_TOKENS / max(n_rows, 1))
    limit = int(frac * float(1 << 63))
    seen: set[str] = set()
    ids: list[int] = []
    keys: list[int] = []
    for i in range(n_rows):
        s = strings[i]
        if not s or s in seen:
            continue
        k = token_key(s)
        if k < limit:
            seen.add(s)
            ids.append(i)
            keys.append(k)
    ctx.selection[n_rows] = (ids, keys)
    return ids, keys


def is_head(t: Any) -> bool:
    return t.role == "weight" and t.component.endswith("lm_head")


def head_wanted(ctx: Any, t: Any) -> tuple[np.ndarray, list[int], Any] | None:
    """Rows an lm_head keeps (token rows then id rows), or None if ``t`` is not a head of its tower's width."""
    d = ctx.towers.get(t.tower, {}).get("dim")
    if not (is_head(t) and len(t.shape) == 2 and d and int(t.shape[1]) == d):
        return None
    n = int(t.shape[0])
    if ctx.n_strings:
        tok_ids, tok_keys = token_selection(ctx, None, min(n, ctx.n_strings))
        ids, id_keys = id_selection(n, F.ANCHOR_IDS)
        return np.concatenate([np.asarray(tok_ids, dtype=np.int64), ids]), tok_keys, id_keys
    ids, keys = id_selection(n, F.ANCHOR_TOKENS)
    return np.asarray(ids, dtype=np.int64), [], keys


def head_rows(ctx: Any, out: dict, t: Any, wanted: tuple, rows: np.ndarray) -> None:
    """Store a head's kept rows with their keys and parts (token rows, then id rows, as ``head_wanted`` chose)."""
    _, tok_keys, id_keys = wanted
    if ctx.n_strings:
        keys = np.asarray(tok_keys, dtype=np.int64)
        out[f"head_keys|{t.tower}"] = np.concatenate([keys, id_keys])
        out[f"head_rows|{t.tower}"] = rows.astype(np.float16)
        out[f"head_part|{t.tower}"] = np.asarray([F.ANCHOR_PARTS.index("tokens")] * len(keys)
                                                 + [F.ANCHOR_PARTS.index("ids")] * len(id_keys), dtype=np.int8)
    else:
        out[f"head_keys|{t.tower}"] = id_keys
        out[f"head_rows|{t.tower}"] = rows.astype(np.float16)
        out[f"head_part|{t.tower}"] = np.full(len(id_keys), F.ANCHOR_PARTS.index("ids"), dtype=np.int8)
