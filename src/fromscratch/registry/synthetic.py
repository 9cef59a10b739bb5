"""Generated fingerprints for the bulk of a large test registry.

A registry of a thousand real models is not at hand, so the bulk is made from
real fingerprints (templates) by keeping their structure -- component names,
shapes, dtypes, towers, anchor keys (the same tokenizer), selected coordinates
-- and replacing every value by a seeded random one: anchor rows and norm
vectors Gaussian, unit profiles random int8 with random scales, tensor hashes
random. Each is a model of the template's architecture and tokenizer whose
weights are unrelated to every other model: the bulk tests that the search
neither flags nor spends the full test on unrelated models of the *same*
architecture and tokenizer as the candidate, which is the hardest case for a
pre-filter keyed on tokens and shapes. Trained-but-independent models (which
share more structure than random ones) are measured on the zoo and the real
models instead.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np

from fromscratch.lineage.fingerprint import Fingerprint


def random_like(template: Fingerprint, seed: int) -> Fingerprint:
    rng = np.random.default_rng(seed)
    arrays = {}
    for key, a in template.arrays.items():
        kind = key.split("|", 1)[0]
        if kind in {"anchor_keys", "anchor_part", "coords", "head_keys"}:
            arrays[key] = a
        elif a.dtype == np.int8 and kind == "prof":
            p = rng.integers(-127, 128, size=a.shape, dtype=np.int8)
            scale = (rng.random((a.shape[0], 1), dtype=np.float32) * 0.01 + 1e-4).astype(np.float32)
            p[:, :4] = scale.view(np.int8)
            arrays[key] = p
        else:
            arrays[key] = rng.standard_normal(a.shape).astype(a.dtype)
    meta = copy.deepcopy(template.meta)
    meta["path"] = f"generated:{seed}"
    for c in meta["components"]:
        for t in c["tensors"]:
            t["sha256"] = hashlib.sha256(f"{seed}|{c['name']}|{t['role']}|{t['expert']}".encode()).hexdigest()
    return Fingerprint(meta, arrays)
