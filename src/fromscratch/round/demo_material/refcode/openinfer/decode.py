# Copyright 2024 The OpenInfer Authors.
# SPDX-License-Identifier: Apache-2.0
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may not
# use this file except in compliance with the License.
"""Token selection for autoregressive decoding: greedy, temperature, top-k, top-p."""

import numpy as np


def top_k_filter(logits, k):
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = np.partition(logits, -k)[-k]
    return np.where(logits < kth, -np.inf, logits)


def top_p_filter(logits, p):
    if p >= 1.0:
        return logits
    order = np.argsort(-logits)
    sorted_logits = logits[order]
    probs = np.exp(sorted_logits - sorted_logits.max())
    probs /= probs.sum()
    cumulative = np.cumsum(probs)
    cutoff = np.searchsorted(cumulative, p) + 1
    keep = np.zeros_like(logits, dtype=bool)
    keep[order[:cutoff]] = True
    return np.where(keep, logits, -np.inf)


def choose_token(logits, temperature=0.0, top_k=0, top_p=1.0, rng=None):
    if temperature <= 0.0:
        return int(np.argmax(logits))
    scaled = logits / temperature
    scaled = top_k_filter(scaled, top_k)
    scaled = top_p_filter(scaled, top_p)
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    rng = rng or np.random.default_rng()
    return int(rng.choice(len(probs), p=probs))


def generate(model, prompt_ids, max_new_tokens, stop_ids=(), **sampling):
    ids = list(prompt_ids)
    for _ in range(max_new_tokens):
        logits = model.next_token_logits(ids)
        token = choose_token(logits, **sampling)
        if token in stop_ids:
            break
        ids.append(token)
    return ids[len(prompt_ids):]
