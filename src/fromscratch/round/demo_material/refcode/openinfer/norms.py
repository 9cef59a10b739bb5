# Copyright 2024 The OpenInfer Authors.
# SPDX-License-Identifier: Apache-2.0
"""Normalisation layers."""

import numpy as np


def rms_norm(x, weight, eps=1e-6):
    variance = np.mean(x.astype(np.float32) ** 2, axis=-1, keepdims=True)
    return (x / np.sqrt(variance + eps)) * weight


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias
