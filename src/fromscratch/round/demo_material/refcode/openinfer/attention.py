# Copyright 2024 The OpenInfer Authors.
# SPDX-License-Identifier: Apache-2.0
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may not
# use this file except in compliance with the License.
"""Grouped-query attention with rotary positions, in plain numpy."""

import numpy as np


def rotary_tables(head_dim, positions, base=10000.0):
    inv = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    angles = np.outer(positions.astype(np.float32), inv)
    doubled = np.concatenate([angles, angles], axis=-1)
    return np.cos(doubled), np.sin(doubled)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def softmax(scores, axis=-1):
    shifted = scores - scores.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


class GroupedQueryAttention:
    def __init__(self, wq, wk, wv, wo, n_heads, n_kv_heads):
        self.wq, self.wk, self.wv, self.wo = wq, wk, wv, wo
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.head_dim = wq.shape[0] // n_heads

    def __call__(self, hidden, positions, cache=None):
        seq = hidden.shape[0]
        q = (hidden @ self.wq.T).reshape(seq, self.n_heads, self.head_dim)
        k = (hidden @ self.wk.T).reshape(seq, self.n_kv_heads, self.head_dim)
        v = (hidden @ self.wv.T).reshape(seq, self.n_kv_heads, self.head_dim)
        cos, sin = rotary_tables(self.head_dim, positions)
        q = apply_rotary(q, cos[:, None, :], sin[:, None, :])
        k = apply_rotary(k, cos[:, None, :], sin[:, None, :])
        if cache is not None:
            k, v = cache.extend(k, v)
        group = self.n_heads // self.n_kv_heads
        k = np.repeat(k, group, axis=1)
        v = np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(self.head_dim)
        total = k.shape[0]
        offset = total - seq
        mask = np.triu(np.ones((seq, total), dtype=bool), k=offset + 1)
        scores = np.where(mask[None], -np.inf, scores)
        weights = softmax(scores)
        out = np.einsum("hqk,khd->qhd", weights, v).reshape(seq, -1)
        return out @ self.wo.T


class KeyValueCache:
    def __init__(self):
        self.keys = None
        self.values = None

    def extend(self, k, v):
        if self.keys is None:
            self.keys, self.values = k, v
        else:
            self.keys = np.concatenate([self.keys, k], axis=0)
            self.values = np.concatenate([self.values, v], axis=0)
        return self.keys, self.values
