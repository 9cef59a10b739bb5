"""Helpers shared by registry tests (a module, so tests can import it by name)."""

from __future__ import annotations

ROOTS = ["llama-s0", "llama-s1", "llama-s2", "llama-s3", "llama-tokb", "llama-norm-a", "llama-norm-b",
         "bert-s0", "bert-s1", "llava-clean"]


def fill(reg, zoo, zoo_fp, names, bulk: int = 0):
    """Register zoo models by name plus ``bulk`` generated fingerprints (see registry.synthetic)."""
    from fromscratch.registry.synthetic import random_like

    for n in names:
        reg.put(n, zoo_fp(n), digest=f"zoo:{n}", source=str(zoo.path(n)))
    templates = [zoo_fp(n) for n in names]
    for i in range(bulk):
        reg.put(f"generated-{i:04d}", random_like(templates[i % len(templates)], seed=i), digest=f"gen:{i}",
                source=None, origin="generated")
    return reg
