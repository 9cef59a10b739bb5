"""Token-response profiles: block units described by what they do to shared token embeddings.

The residual stream of a copy may be rotated by any orthogonal Q after every
norm gain has been folded into the matrices that read it (embeddings E Q,
readers W diag(g) Q, writers Q^T O); the copy computes the same function, and
residual coordinates no longer mean anything. What survives exactly is how a
unit responds to a token's embedding:

* a reading unit (row w of q, k, v, gate, up, router, with the gain g of the
  norm in front of it) responds to token t with ``w . (g * e_t) / rms(e_t)``,
  which is the same number after folding (g moves into w) and after rotation
  (Q cancels), and after the norm-gain rescaling disguise;
* a writing unit (column o of o_proj or down_proj) with ``e_t . o / rms(e_t)``
  (Q cancels).

The probe tokens are the ``PROBE_TOKENS`` anchor rows with the smallest keys
(token-string hashes, or id hashes without strings), so two models with the
same tokenizer probe the same tokens. Profiles are stored like unit profiles
(int8 with a per-unit scale).

A model with token strings also keeps ``ID_PROBE_TOKENS`` id-keyed probes
(the id rows with the smallest id keys, the same ids a string-less model of
that vocabulary size probes first) and their profiles (``resp_id|...``): a
copy shipped without its tokenizer is keyed by ids only, and without these the
two would share no probe at all. Fewer than ``PROBE_TOKENS``, to keep the
fingerprint small: the id-keyed profiles add half the size of the
token-keyed ones.
"""

from __future__ import annotations

import functools

import numpy as np

from fromscratch.lineage.fingerprint_q8 import q8

#: anchor rows used as probes per tower
PROBE_TOKENS = 192
#: id-keyed probes a model with token strings keeps as well (see module docstring)
ID_PROBE_TOKENS = 96
READ_ROLES = {"q", "k", "v", "gate", "up", "router"}
WRITE_ROLES = {"o", "down"}
#: which norm (role of ``<prefix>layers.N.norm``) feeds each reading role
NORM_OF = {"q": "attn_norm", "k": "attn_norm", "v": "attn_norm",
           "gate": "mlp_norm", "up": "mlp_norm", "router": "mlp_norm"}


def probes(keys: np.ndarray, rows: np.ndarray, count: int = PROBE_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """(keys, rows / rms) of the probe tokens: the smallest keys of the table (the same tokens in every model)."""
    order = np.argsort(keys, kind="stable")[:count]
    order = order[np.argsort(keys[order], kind="stable")]
    x = rows[order].astype(np.float64)
    rms = np.sqrt(np.mean(x * x, axis=1, keepdims=True))
    rms[rms == 0] = 1.0
    return keys[order], (x / rms).astype(np.float32)


def norm_component(component: str) -> str | None:
    """``a.layers.3.mlp`` -> ``a.layers.3.norm`` (the block's norms)."""
    head, sep, _ = component.rpartition(".")
    return f"{head}.norm" if sep and ".layers." in f".{head}" else None


@functools.lru_cache(maxsize=1)
def _blas():
    """One threadpool controller per process (finding the BLAS libraries costs ~1 ms; a limit then ~10 us)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def response(arr: np.ndarray, role: str, probe_rows: np.ndarray, gain: np.ndarray | None) -> np.ndarray | None:
    """int8 token-response profile (units x probes) of one matrix, or None if it neither reads nor writes d.

    The product runs on one BLAS thread: it is one (units x d) by (d x 192)
    product per matrix, too small for threads to pay, and on a busy machine
    multi-threaded OpenBLAS made it about 10x slower (measured on the shared
    2-core machine: 23 ms against 3 ms for a 688 x 256 matrix). OpenBLAS splits
    the output among threads, not the sums, so the values are bit-identical to
    the threaded product (checked on SmolLM2's and the zoo's matrix shapes).
    """
    d = probe_rows.shape[1]
    if role in READ_ROLES and arr.ndim == 2 and arr.shape[1] == d:
        p = probe_rows if gain is None else probe_rows * gain[None, :].astype(np.float32)
        with _blas().limit(limits=1, user_api="blas"):
            return q8(np.asarray(arr, np.float32) @ p.T)
    if role in WRITE_ROLES and arr.ndim == 2 and arr.shape[0] == d:
        with _blas().limit(limits=1, user_api="blas"):
            return q8((probe_rows @ np.asarray(arr, np.float32)).T)
    return None
