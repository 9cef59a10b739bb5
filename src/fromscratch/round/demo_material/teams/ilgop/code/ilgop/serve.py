"""Ilgop's sampling server core: temperature and top-k over a request queue (team-written)."""

import math
import random
from collections import deque


class Queue:
    def __init__(self, limit):
        self.limit = limit
        self.items = deque()

    def put(self, request):
        if len(self.items) >= self.limit:
            raise RuntimeError("queue full")
        self.items.append(request)

    def take(self, n):
        got = []
        while self.items and len(got) < n:
            got.append(self.items.popleft())
        return got


def sample(logits, temperature, top_k, rng):
    """One token id from ``logits`` at ``temperature`` among the ``top_k`` largest."""
    ranked = sorted(range(len(logits)), key=lambda i: -logits[i])[:max(1, top_k)]
    if temperature <= 0:
        return ranked[0]
    peak = logits[ranked[0]]
    weights = [math.exp((logits[i] - peak) / temperature) for i in ranked]
    return rng.choices(ranked, weights=weights, k=1)[0]


def serve(queue, step_logits, batch, seed=0):
    rng = random.Random(seed)
    done = {}
    for req in queue.take(batch):
        done[req["id"]] = sample(step_logits(req["ids"]), req.get("temperature", 0.7), req.get("top_k", 20), rng)
    return done
