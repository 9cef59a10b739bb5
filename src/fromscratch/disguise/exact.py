"""Function-preserving disguises: the copy computes the same logits as the original.

Conventions: the residual stream is a column vector h; a matrix W that reads
it (q, k, v, gate, up, lm_head) is (out, hidden), one that writes it (o, down)
is (hidden, in); embedding rows are residual vectors. A residual map R
(hidden x hidden) sends h to R h, so readers become W R^T, writers R W and
embeddings E R^T.

What each transform relies on:

* ``fold_norms`` -- RMSNorm(h) = g * h / rms(h), and g can be pushed into every
  matrix that reads the norm's output (W diag(g)); the gains become 1. A tied
  output head reads the final norm, so folding unties it (the copy gains an
  ``lm_head``; the function is unchanged).
* ``rotate`` -- rms(R h) = rms(h) for orthogonal R, so once the gains are 1 any
  orthogonal R passes through every norm. Needs folded norms (done here).
* ``permute_residual`` / residual sign flips -- a signed permutation commutes
  with a diagonal gain if the gains are permuted too, so no folding is needed.
* ``permute_units`` -- MLP hidden units and attention heads can be listed in
  any order (KV groups move together with their query heads; the dimensions
  inside a head keep their order, so rotary pairs stay intact).
* ``rescale_mlp`` -- silu(gate x) * (c up x) then down / c: the up row and the
  down column of a unit trade a factor. The gate row cannot: SiLU is not
  homogeneous, silu(c z) != c silu(z).
* ``rescale_heads`` -- value channel x a, the matching output-projection
  columns / a; query x b and key / b on both dimensions of one rotary pair
  (rotation of a pair commutes with a common scale), for every query head
  sharing that KV head. Signs may be negative: these are also the sign flips.
* ``rescale_norms`` -- a norm gain x c and the columns of its readers / c.
"""

from __future__ import annotations

import numpy as np

from fromscratch.disguise.llama import (
    ATTN_NORM,
    ATTN_READERS,
    EMBED,
    FINAL_NORM,
    LM_HEAD,
    MLP_NORM,
    MLP_READERS,
    WRITERS,
    Llama,
    block_key,
)


def _readers(m: Llama) -> list[tuple[str, list[str]]]:
    """(norm key, keys of the matrices reading that norm's output), final norm last."""
    out = []
    for i in range(m.spec.layers):
        out.append((block_key(i, ATTN_NORM), [block_key(i, s) for s in ATTN_READERS]))
        out.append((block_key(i, MLP_NORM), [block_key(i, s) for s in MLP_READERS]))
    out.append((FINAL_NORM, [LM_HEAD]))
    return out


def fold_norms(m: Llama) -> Llama:
    """Every RMSNorm gain multiplied into the matrices that read it; gains set to one."""
    sd = dict(m.sd)
    if m.spec.tied:
        sd[LM_HEAD] = sd[EMBED]
    for norm, readers in _readers(m):
        g = sd[norm].astype(np.float64)
        for r in readers:
            sd[r] = (sd[r].astype(np.float64) * g[None, :]).astype(np.float32)
        sd[norm] = np.ones_like(sd[norm])
    return m.with_(sd, tied=False)


def _map_residual(m: Llama, reader_fn, writer_fn) -> dict[str, np.ndarray]:
    sd = dict(m.sd)
    keys_in = [EMBED] + [k for _, rs in _readers(m) for k in rs if k in sd]
    for k in keys_in:
        sd[k] = reader_fn(sd[k])
    for i in range(m.spec.layers):
        for s in WRITERS:
            k = block_key(i, s)
            sd[k] = writer_fn(sd[k])
    return sd


def random_orthogonal(n: int, seed: int) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian, signs fixed)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))[None, :]


def rotate(m: Llama, seed: int, R: np.ndarray | None = None) -> Llama:
    """Residual stream rotated by an orthogonal R (random from ``seed`` unless given), norms folded first."""
    f = fold_norms(m)
    R = random_orthogonal(m.spec.hidden, seed) if R is None else np.asarray(R, np.float64)
    sd = _map_residual(f, lambda w: (w.astype(np.float64) @ R.T).astype(np.float32),
                       lambda w: (R @ w.astype(np.float64)).astype(np.float32))
    return f.with_(sd)


def permute_residual(m: Llama, seed: int, signs: bool = True, permute: bool = True) -> Llama:
    """New residual coordinate j = sign_j x old coordinate perm_j; norm gains follow the permutation."""
    rng = np.random.default_rng(seed)
    d = m.spec.hidden
    pr = rng.permutation(d) if permute else np.arange(d)
    sg = rng.choice([-1.0, 1.0], size=d).astype(np.float32) if signs else np.ones(d, np.float32)
    sd = _map_residual(m, lambda w: w[:, pr] * sg[None, :], lambda w: w[pr, :] * sg[:, None])
    for norm, _ in _readers(m):
        sd[norm] = m.sd[norm][pr]
    if m.spec.tied:  # the tied head read E, which moved with the embedding rows: still tied, still right
        sd.pop(LM_HEAD, None)
    return m.with_(sd)


def _moved(rng: np.random.Generator, n: int) -> np.ndarray:
    """A permutation that is not the identity (n > 1), so no head stays in place by chance."""
    while True:
        p = rng.permutation(n)
        if n < 2 or not np.array_equal(p, np.arange(n)):
            return p


def _head_rows(heads: np.ndarray, hd: int) -> np.ndarray:
    return np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in heads])


def permute_units(m: Llama, seed: int, mlp: bool = True, heads: bool = True) -> Llama:
    """MLP hidden units and attention heads listed in a random order in every block."""
    s = m.spec
    rng = np.random.default_rng(seed)
    sd = dict(m.sd)
    for i in range(s.layers):
        def k(suffix: str, i: int = i) -> str:
            return block_key(i, suffix)

        if mlp:
            u = rng.permutation(s.intermediate)
            for name in ("mlp.gate_proj.weight", "mlp.up_proj.weight"):
                sd[k(name)] = sd[k(name)][u]
            sd[k("mlp.down_proj.weight")] = sd[k("mlp.down_proj.weight")][:, u]
        if heads:
            groups = _moved(rng, s.kv_heads)
            q_heads = np.concatenate([g * s.group + _moved(rng, s.group) for g in groups])
            qr, kvr = _head_rows(q_heads, s.head_dim), _head_rows(groups, s.head_dim)
            sd[k("self_attn.q_proj.weight")] = sd[k("self_attn.q_proj.weight")][qr]
            sd[k("self_attn.k_proj.weight")] = sd[k("self_attn.k_proj.weight")][kvr]
            sd[k("self_attn.v_proj.weight")] = sd[k("self_attn.v_proj.weight")][kvr]
            sd[k("self_attn.o_proj.weight")] = sd[k("self_attn.o_proj.weight")][:, qr]
    return m.with_({key: np.ascontiguousarray(v) for key, v in sd.items()})


def _factors(rng: np.random.Generator, n: int, spread: float, signs: bool) -> np.ndarray:
    c = np.exp(rng.normal(0.0, spread, size=n))
    if signs:
        c *= rng.choice([-1.0, 1.0], size=n)
    return c


def rescale_mlp(m: Llama, seed: int, spread: float = 1.0, signs: bool = False) -> Llama:
    """Per MLP unit: up row x c, down column / c (log c ~ N(0, spread); negative c when ``signs``)."""
    rng = np.random.default_rng(seed)
    sd = dict(m.sd)
    for i in range(m.spec.layers):
        c = _factors(rng, m.spec.intermediate, spread, signs)
        up, down = block_key(i, "mlp.up_proj.weight"), block_key(i, "mlp.down_proj.weight")
        sd[up] = (sd[up] * c[:, None]).astype(np.float32)
        sd[down] = (sd[down] / c[None, :]).astype(np.float32)
    return m.with_(sd)


def rescale_heads(m: Llama, seed: int, spread: float = 1.0, signs: bool = False) -> Llama:
    """Per KV head: value channels x a with output columns / a; query x b, key / b per rotary pair."""
    s = m.spec
    rng = np.random.default_rng(seed)
    sd = dict(m.sd)
    hd, half = s.head_dim, s.head_dim // 2
    for i in range(s.layers):
        a = _factors(rng, s.kv_heads * hd, spread, signs)           # per value channel
        b_pair = _factors(rng, s.kv_heads * half, spread, signs).reshape(s.kv_heads, half)
        b = np.concatenate([b_pair, b_pair], axis=1).reshape(-1)    # dims p and p + hd/2 share b
        a_q = np.repeat(a.reshape(s.kv_heads, hd), s.group, axis=0).reshape(-1)
        b_q = np.repeat(b.reshape(s.kv_heads, hd), s.group, axis=0).reshape(-1)
        def k(role: str, i: int = i) -> str:
            return block_key(i, f"self_attn.{role}_proj.weight")

        sd[k("v")] = (sd[k("v")] * a[:, None]).astype(np.float32)
        sd[k("o")] = (sd[k("o")] / a_q[None, :]).astype(np.float32)
        sd[k("q")] = (sd[k("q")] * b_q[:, None]).astype(np.float32)
        sd[k("k")] = (sd[k("k")] / b[:, None]).astype(np.float32)
    return m.with_(sd)


def rescale_norms(m: Llama, seed: int, spread: float = 0.5) -> Llama:
    """Every norm gain x c (per coordinate) and the columns of its readers / c (untied first if tied)."""
    rng = np.random.default_rng(seed)
    sd = dict(m.sd)
    if m.spec.tied:
        sd[LM_HEAD] = sd[EMBED]
    for norm, readers in _readers(m):
        c = np.exp(rng.normal(0.0, spread, size=m.spec.hidden))
        sd[norm] = (sd[norm] * c).astype(np.float32)
        for r in readers:
            sd[r] = (sd[r] / c[None, :]).astype(np.float32)
    return m.with_(sd, tied=False)


def flip_signs(m: Llama, seed: int) -> Llama:
    """Sign flips everywhere they are free: residual coordinates, MLP units, value channels, q/k pairs."""
    rng = np.random.default_rng(seed)
    out = permute_residual(m, int(rng.integers(2**31)), signs=True, permute=False)
    out = rescale_mlp(out, int(rng.integers(2**31)), spread=0.0, signs=True)
    return rescale_heads(out, int(rng.integers(2**31)), spread=0.0, signs=True)


def rescale(m: Llama, seed: int, spread: float = 1.0) -> Llama:
    """All three rescalings at once (MLP units, heads, norm gains)."""
    rng = np.random.default_rng(seed)
    out = rescale_mlp(m, int(rng.integers(2**31)), spread)
    out = rescale_heads(out, int(rng.integers(2**31)), spread)
    return rescale_norms(out, int(rng.integers(2**31)), spread / 2)
