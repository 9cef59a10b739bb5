# Copyright (c) 2022 Normlib Team
# Licensed under the MIT License.
import math


class RmsNorm:
    def __init__(self, size, eps=1e-6):
        self.size = size
        self.eps = eps
        self.weight = [1.0] * size

    def __call__(self, values):
        mean_sq = sum(v * v for v in values) / len(values)
        inv = 1.0 / math.sqrt(mean_sq + self.eps)
        return [w * v * inv for w, v in zip(self.weight, values)]


class LayerNorm:
    def __init__(self, size, eps=1e-5):
        self.size = size
        self.eps = eps
        self.gain = [1.0] * size
        self.bias = [0.0] * size

    def __call__(self, values):
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        inv = 1.0 / math.sqrt(var + self.eps)
        return [g * (v - mean) * inv + b for g, v, b in zip(self.gain, values, self.bias)]
