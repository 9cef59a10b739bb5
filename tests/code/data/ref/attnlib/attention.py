# Copyright 2023 Attnlib Contributors. All rights reserved.
# SPDX-License-Identifier: Apache-2.0
"""A small pure-Python attention module written for the fromscratch tests."""

import math


def softmax_rows(matrix):
    """Row-wise softmax with the usual max shift for stability."""
    out = []
    for row in matrix:
        peak = max(row)
        exps = [math.exp(v - peak) for v in row]
        total = sum(exps)
        out.append([e / total for e in exps])
    return out


def scaled_scores(queries, keys, head_dim):
    scale = 1.0 / math.sqrt(head_dim)
    scores = []
    for q in queries:
        line = []
        for k in keys:
            acc = 0.0
            for a, b in zip(q, k):
                acc += a * b
            line.append(acc * scale)
        scores.append(line)
    return scores


class RotaryTable:
    def __init__(self, head_dim, base=10000.0):
        self.head_dim = head_dim
        self.inv_freq = [1.0 / (base ** (2 * i / head_dim)) for i in range(head_dim // 2)]

    def angles(self, position):
        return [position * f for f in self.inv_freq]

    def rotate(self, vec, position):
        half = len(vec) // 2
        out = list(vec)
        for i, theta in enumerate(self.angles(position)):
            c, s = math.cos(theta), math.sin(theta)
            x1, x2 = vec[i], vec[i + half]
            out[i] = x1 * c - x2 * s
            out[i + half] = x1 * s + x2 * c
        return out


class TinyAttention:
    def __init__(self, q_proj, k_proj, v_proj, o_proj, head_dim):
        self.q_proj = q_proj
        self.k_proj = k_proj
        self.v_proj = v_proj
        self.o_proj = o_proj
        self.rotary = RotaryTable(head_dim)
        self.head_dim = head_dim

    def forward(self, tokens):
        q = [self.rotary.rotate(self.q_proj(t), i) for i, t in enumerate(tokens)]
        k = [self.rotary.rotate(self.k_proj(t), i) for i, t in enumerate(tokens)]
        v = [self.v_proj(t) for t in tokens]
        weights = softmax_rows(scaled_scores(q, k, self.head_dim))
        mixed = []
        for w in weights:
            mixed.append([sum(wi * vi[j] for wi, vi in zip(w, v)) for j in range(len(v[0]))])
        return [self.o_proj(m) for m in mixed]
