# Copyright 2024 The OpenInfer Authors.
# SPDX-License-Identifier: Apache-2.0
# Adapted from openinfer/norms.py (OpenInfer, Apache-2.0); layer_norm removed.
"""Normalisation layers."""

import numpy as np


def rms_norm(x, weight, eps=1e-6):
    variance = np.mean(x.astype(np.float32) ** 2, axis=-1, keepdims=True)
    return (x / np.sqrt(variance + eps)) * weight
