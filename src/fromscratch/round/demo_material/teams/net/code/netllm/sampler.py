"""Sampling utilities for NetLLM."""

import numpy as np


def keep_top_k(scores, k):
    if k <= 0 or k >= scores.shape[-1]:
        return scores
    threshold = np.partition(scores, -k)[-k]
    return np.where(scores < threshold, -np.inf, scores)


def keep_top_p(scores, p):
    if p >= 1.0:
        return scores
    idx = np.argsort(-scores)
    ordered = scores[idx]
    pr = np.exp(ordered - ordered.max())
    pr /= pr.sum()
    cum = np.cumsum(pr)
    n_keep = np.searchsorted(cum, p) + 1
    mask = np.zeros_like(scores, dtype=bool)
    mask[idx[:n_keep]] = True
    return np.where(mask, scores, -np.inf)


def pick(scores, temperature=0.0, top_k=0, top_p=1.0, rng=None):
    if temperature <= 0.0:
        return int(np.argmax(scores))
    z = scores / temperature
    z = keep_top_k(z, top_k)
    z = keep_top_p(z, top_p)
    pr = np.exp(z - z.max())
    pr /= pr.sum()
    rng = rng or np.random.default_rng()
    return int(rng.choice(len(pr), p=pr))


def run_generation(net, prefix, budget, eos=(), **kw):
    out = list(prefix)
    for _ in range(budget):
        scores = net.next_token_logits(out)
        tok = pick(scores, **kw)
        if tok in eos:
            break
        out.append(tok)
    return out[len(prefix):]
