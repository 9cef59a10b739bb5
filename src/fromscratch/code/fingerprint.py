"""Stable feature hashes and k-gram winnowing.

WHY stable hashes: an index written today must answer the same tomorrow and on
another machine, so nothing here uses Python's salted `hash()`; token and feature
strings go through BLAKE2b and k-grams through a fixed polynomial over those.

Winnowing (Schleimer, Wilkerson & Aiken, 2003): hash every k-gram of the normalised
token stream, keep the minimum of every window of w consecutive hashes (the
rightmost one on ties). Any shared run of at least w + k - 1 tokens yields a shared
fingerprint, and nothing shorter than k tokens ever does.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

K = 10  # noise threshold: k-grams shorter than this are never matched
W = 4   # window: shared runs of >= K + W - 1 = 13 tokens are guaranteed to be found
_MULT = np.uint64(0x100000001B3)

CHANNELS = ("tok", "ident", "struct")
_SALT = {c: i + 1 for i, c in enumerate(CHANNELS)}


@lru_cache(maxsize=1 << 16)
def _h(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def feature_hash(channel: str, feature: str) -> int:
    """64-bit id of a feature string inside its channel (channels never collide by construction)."""
    return _h(f"{_SALT[channel]}\x00{feature}")


def interface_hash(name: str) -> int:
    """64-bit id of a file-level interface name (`interface.py`), apart from every unit channel."""
    return _h(f"iface\x00{name}")


def kgram_hashes(tokens: list[str], k: int = K) -> np.ndarray:
    """Polynomial hashes of every k-gram (a stream shorter than k gives one hash of all of it)."""
    ids = np.fromiter((_h(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    if len(ids) == 0:
        return ids
    if len(ids) < k:
        k = len(ids)
    n = len(ids) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _MULT + ids[j:j + n]
    return h


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """Positions of the fingerprints chosen by winnowing (rightmost minimum per window)."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= w:
        rev = hashes[::-1]
        return np.array([n - 1 - int(np.argmin(rev))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    # argmin returns the first minimum; on the reversed window that is the rightmost
    pos = (w - 1 - np.argmin(windows[:, ::-1], axis=1)) + np.arange(len(windows))
    return np.unique(pos)


def token_fingerprints(tokens: list[str]) -> set[int]:
    """The set of winnowed k-gram hashes of a unit's masked tokens (salted as channel "tok")."""
    hashes = kgram_hashes(tokens)
    picked = hashes[winnow(hashes)]
    salt = np.uint64(_SALT["tok"])
    with np.errstate(over="ignore"):
        return set((picked * _MULT + salt).tolist())


def unit_digest(masked: list[str]) -> int:
    """Hash of a unit's whole normalised token stream: equal digests = copies up to renaming and format."""
    return _h("\x01".join(masked)) if masked else 0


def unit_features(masked: list[str], idents: list[str], struct: list[str]) -> dict[str, set[int]]:
    """The three feature channels of a unit as sets of 64-bit ids."""
    return {
        "tok": token_fingerprints(masked),
        "ident": {feature_hash("ident", f) for f in idents},
        "struct": {feature_hash("struct", f) for f in struct},
    }
