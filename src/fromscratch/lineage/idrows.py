"""Token ids as the row correspondence of checkpoints that ship no token strings.

Without a tokenizer the embedding's rows cannot be matched by string, but two
checkpoints with the same vocabulary size still have a correspondence fixed
before any weight is looked at: row i with row i. It is a fixed, data-independent
pairing of rows, so the anchor test's null (independent models, rows paired in
advance) is exactly as valid as with token strings; what it loses is robustness
to a re-ordered vocabulary (a copy whose rows were shuffled is not aligned by
ids), which is stated in the JSON as ``"rows": "ids"``.

Rows are selected by a hash of the id alone (the same rows in every model of
that vocabulary size, about ``ANCHOR_TOKENS`` of them) and keyed in a namespace
of their own, so an id row never meets a token-string row.
"""

from __future__ import annotations

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)
_NAMESPACE = np.uint64(0x1D5_0F_1D5)


def id_keys(n: int) -> np.ndarray:
    """A 63-bit key per id 0..n-1 (splitmix64 of the id in the id namespace)."""
    with np.errstate(over="ignore"):
        z = (np.arange(n, dtype=np.uint64) + _NAMESPACE) * _MIX
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(1)).astype(np.int64)


def id_selection(n_rows: int, expected: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, keys) of the rows kept: those whose key falls below a fraction of the key space."""
    keys = id_keys(n_rows)
    frac = min(1.0, expected / max(n_rows, 1))
    keep = np.flatnonzero(keys < np.int64(min(int(frac * float(1 << 63)), (1 << 63) - 1)))
    return keep, keys[keep]
