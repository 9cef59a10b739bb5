"""Attention block of the NetLLM serving stack."""

import numpy as np


def rope_cache(dim, pos, theta=10000.0):
    freq = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    ang = np.outer(pos.astype(np.float32), freq)
    both = np.concatenate([ang, ang], axis=-1)
    return np.cos(both), np.sin(both)


def half_rotate(t):
    mid = t.shape[-1] // 2
    return np.concatenate([-t[..., mid:], t[..., :mid]], axis=-1)


def rope(t, c, s):
    return t * c + half_rotate(t) * s


def stable_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    ez = np.exp(z)
    return ez / ez.sum(axis=axis, keepdims=True)


class NetAttention:
    def __init__(self, q_w, k_w, v_w, o_w, heads, kv_heads):
        self.q_w, self.k_w, self.v_w, self.o_w = q_w, k_w, v_w, o_w
        self.heads = heads
        self.kv_heads = kv_heads
        self.dim = q_w.shape[0] // heads

    def __call__(self, x, pos, store=None):
        n = x.shape[0]
        q = (x @ self.q_w.T).reshape(n, self.heads, self.dim)
        k = (x @ self.k_w.T).reshape(n, self.kv_heads, self.dim)
        v = (x @ self.v_w.T).reshape(n, self.kv_heads, self.dim)
        c, s = rope_cache(self.dim, pos)
        q = rope(q, c[:, None, :], s[:, None, :])
        k = rope(k, c[:, None, :], s[:, None, :])
        if store is not None:
            k, v = store.extend(k, v)
        rep = self.heads // self.kv_heads
        k = np.repeat(k, rep, axis=1)
        v = np.repeat(v, rep, axis=1)
        att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(self.dim)
        full = k.shape[0]
        shift = full - n
        causal = np.triu(np.ones((n, full), dtype=bool), k=shift + 1)
        att = np.where(causal[None], -np.inf, att)
        p = stable_softmax(att)
        y = np.einsum("hqk,khd->qhd", p, v).reshape(n, -1)
        return y @ self.o_w.T


class KVStore:
    def __init__(self):
        self.k = None
        self.v = None

    def extend(self, k, v):
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = np.concatenate([self.k, k], axis=0)
            self.v = np.concatenate([self.v, v], axis=0)
        return self.k, self.v
