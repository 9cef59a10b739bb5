"""Disguises of a llama checkpoint: what a team hiding reused weights would do to them.

The referee claims its lineage statistics survive these moves; this package
makes them, so the claim can be tested on any model (``fromscratch gauntlet``,
the lineage tests, the false-positive bank). Everything works on numpy arrays
in Hugging Face ``LlamaForCausalLM`` naming; torch is never needed.

Stable API (other modules and tests import these names from here):

Model and I/O
    ``Llama(spec, sd, tokenizer=None, tokenizer_files={})``, ``Spec`` -- the model;
    ``load(location) -> Llama`` (any format the project reads; ``InputError``
    for anything that is not a plain llama decoder);
    ``save(m, out_dir, dtype="F32"|"F16")``, ``save_gguf(m, path, "Q8_0"|"Q4_0")``,
    ``gguf_supported(m) -> reason | None``, ``quantise_roundtrip(m, "Q4_0")``.

Function-preserving (the copy's logits equal the original's up to rounding)
    ``fold_norms(m)``, ``rotate(m, seed, R=None)``,
    ``permute_residual(m, seed, signs=True, permute=True)``,
    ``permute_units(m, seed, mlp=True, heads=True)``,
    ``rescale_mlp(m, seed, spread=1.0, signs=False)``,
    ``rescale_heads(m, seed, spread=1.0, signs=False)``,
    ``rescale_norms(m, seed, spread=0.5)``, ``rescale(m, seed, spread=1.0)``,
    ``flip_signs(m, seed)``, ``random_orthogonal(n, seed)``.

Function-changing
    ``drift(m, seed, fraction)``, ``relayer(m, order)``, ``prune_layers(m, drop)``,
    ``duplicate_layers(m, repeat)``, ``extend_vocab(m, seed, extra)``,
    ``reorder_vocab(m, seed) -> (Llama, new_id)``, ``reinit_layers(m, layers, seed)``.

Checking
    ``logits(m, ids)`` (float64 numpy forward pass), ``probe_ids(vocab, seed)``,
    ``logit_check(a, b, seqs, ids_b=None) -> (max |dlogit|, max |logit|)``.

Submodules not re-exported: ``gauntlet`` (``run(location, seed=0, only=None)`` ->
``fromscratch.gauntlet/1``), ``nullbank`` (trained seed siblings for the false-positive
bank; needs torch) and ``fpr`` (``compare_bank``, ``tally``, ``upper_bound``).

Same arguments, same seed: byte-identical arrays. Transforms never modify
their input. The MLP gate cannot be rescaled (SiLU is not homogeneous); a
tied output head is untied by transforms that must fold the final norm
(``fold_norms``, ``rotate``, ``rescale_norms``).
"""

from __future__ import annotations

from fromscratch.disguise.exact import (
    flip_signs,
    fold_norms,
    permute_residual,
    permute_units,
    random_orthogonal,
    rescale,
    rescale_heads,
    rescale_mlp,
    rescale_norms,
    rotate,
)
from fromscratch.disguise.forward import logit_check, logits, probe_ids
from fromscratch.disguise.io import (
    gguf_supported,
    load,
    quantise_roundtrip,
    save,
    save_gguf,
)
from fromscratch.disguise.llama import Llama, Spec
from fromscratch.disguise.lossy import (
    drift,
    duplicate_layers,
    extend_vocab,
    prune_layers,
    reinit_layers,
    relayer,
    reorder_vocab,
)

__all__ = [
    "Llama",
    "Spec",
    "drift",
    "duplicate_layers",
    "extend_vocab",
    "flip_signs",
    "fold_norms",
    "gguf_supported",
    "load",
    "logit_check",
    "logits",
    "permute_residual",
    "permute_units",
    "probe_ids",
    "prune_layers",
    "quantise_roundtrip",
    "random_orthogonal",
    "reinit_layers",
    "relayer",
    "reorder_vocab",
    "rescale",
    "rescale_heads",
    "rescale_mlp",
    "rescale_norms",
    "rotate",
    "save",
    "save_gguf",
]
