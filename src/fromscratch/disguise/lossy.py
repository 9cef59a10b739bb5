"""Disguises that change the function: what reuse looks like after editing the copy.

* ``drift`` -- Gaussian noise of a given size relative to each tensor's RMS: a
  stand-in for fine-tuning of that size (``||dW|| / ||W||`` = ``fraction`` in
  expectation). Real fine-tuning moves weights in low-rank, data-driven
  directions, which the lineage statistics see more easily than isotropic
  noise of the same norm, so this is the harder case.
* ``relayer`` / ``prune_layers`` / ``duplicate_layers`` -- blocks dropped or
  repeated (depth pruning, SOLAR-style up-scaling).
* ``extend_vocab`` -- new tokens appended; their rows start as the mean of a
  few existing rows (the common recipe) plus a little noise.
* ``reorder_vocab`` -- token ids shuffled, rows and token strings together.
* ``reinit_layers`` -- chosen blocks replaced by fresh random weights of the
  same scale (norm gains reset to one): the part of a reused model its team
  can honestly call its own.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np

from fromscratch.disguise.llama import (
    ATTN_NORM,
    BLOCK_KEYS,
    EMBED,
    LM_HEAD,
    MLP_NORM,
    Llama,
    block_key,
)


def drift(m: Llama, seed: int, fraction: float) -> Llama:
    """Every tensor plus noise of ``fraction`` x its RMS (norm gains included)."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k in sorted(m.sd):
        v = m.sd[k]
        rms = float(np.sqrt(np.mean(v.astype(np.float64) ** 2))) or 1.0
        sd[k] = (v + fraction * rms * rng.standard_normal(v.shape)).astype(np.float32)
    return m.with_(sd)


def relayer(m: Llama, order: list[int]) -> Llama:
    """New block j is a copy of block ``order[j]``."""
    if not order or any(not 0 <= o < m.spec.layers for o in order):
        raise ValueError(f"layer order {order} out of range for {m.spec.layers} blocks")
    sd = {k: v for k, v in m.sd.items() if not k.startswith("model.layers.")}
    for new, old in enumerate(order):
        for s in BLOCK_KEYS:
            sd[block_key(new, s)] = m.sd[block_key(old, s)].copy()
    return m.with_(sd, layers=len(order))


def prune_layers(m: Llama, drop: list[int]) -> Llama:
    return relayer(m, [i for i in range(m.spec.layers) if i not in set(drop)])


def duplicate_layers(m: Llama, repeat: list[int]) -> Llama:
    """Each block in ``repeat`` is followed by a copy of itself."""
    order: list[int] = []
    for i in range(m.spec.layers):
        order += [i, i] if i in set(repeat) else [i]
    return relayer(m, order)


def _tok_ids(tok: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(where, token, id) for every token of a tokenizer.json (vocab dict or Unigram list, added tokens)."""
    model = tok.get("model") or {}
    vocab = model.get("vocab")
    out: list[tuple[str, str, int]] = []
    if isinstance(vocab, dict):
        out += [("vocab", t, int(i)) for t, i in vocab.items()]
    elif isinstance(vocab, list):
        out += [("unigram", str(v[0]), i) for i, v in enumerate(vocab)]
    out += [("added", str(a.get("content")), int(a["id"])) for a in tok.get("added_tokens") or []
            if isinstance(a, dict) and isinstance(a.get("id"), int)]
    return out


def _remap_tokenizer(tok: dict[str, Any], new_id: np.ndarray) -> dict[str, Any]:
    """The tokenizer with every token id i replaced by ``new_id[i]``."""
    out = copy.deepcopy(tok)
    model = out.get("model") or {}
    if isinstance(model.get("vocab"), dict):
        model["vocab"] = {t: int(new_id[i]) for t, i in model["vocab"].items() if 0 <= i < len(new_id)}
    elif isinstance(model.get("vocab"), list):
        old = model["vocab"]
        new = [None] * len(old)
        for i, v in enumerate(old):
            new[int(new_id[i])] = v
        model["vocab"] = new
        if isinstance(model.get("unk_id"), int):
            model["unk_id"] = int(new_id[model["unk_id"]])
    for a in out.get("added_tokens") or []:
        if isinstance(a, dict) and isinstance(a.get("id"), int) and a["id"] < len(new_id):
            a["id"] = int(new_id[a["id"]])
    return out


def reorder_vocab(m: Llama, seed: int) -> tuple[Llama, np.ndarray]:
    """Token ids shuffled; returns the copy and ``new_id`` (new id of each old token id)."""
    rng = np.random.default_rng(seed)
    n = m.spec.vocab
    old_of_new = rng.permutation(n)
    new_id = np.empty(n, np.int64)
    new_id[old_of_new] = np.arange(n)
    sd = dict(m.sd)
    for k in (EMBED, LM_HEAD):
        if k in sd:
            sd[k] = np.ascontiguousarray(sd[k][old_of_new])
    tok = _remap_tokenizer(m.tokenizer, new_id) if m.tokenizer is not None else None
    # side files carrying ids (tokenizer_config.json's added_tokens_decoder) would now be wrong
    return replace(m.with_(sd), tokenizer=tok, tokenizer_files={}), new_id


def extend_vocab(m: Llama, seed: int, extra: int) -> Llama:
    """``extra`` tokens appended; each new row is the mean of three random old rows plus 1 % noise."""
    rng = np.random.default_rng(seed)
    n = m.spec.vocab
    sd = dict(m.sd)
    picks = rng.integers(0, n, size=(extra, 3))
    for k in (EMBED, LM_HEAD):
        if k in sd:
            w = sd[k]
            new = w[picks].mean(axis=1)
            new += 0.01 * float(w.std()) * rng.standard_normal(new.shape)
            sd[k] = np.ascontiguousarray(np.concatenate([w, new.astype(np.float32)]))
    tok = None
    if m.tokenizer is not None:
        tok = copy.deepcopy(m.tokenizer)
        taken = {t for _, t, _ in _tok_ids(tok)}
        added = tok.setdefault("added_tokens", [])
        j = 0
        for i in range(extra):
            while f"<fs_new_{j}>" in taken:
                j += 1
            added.append({"id": n + i, "content": f"<fs_new_{j}>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": False})
            j += 1
    return replace(m.with_(sd, vocab=n + extra), tokenizer=tok, tokenizer_files={})


def reinit_layers(m: Llama, layers: list[int], seed: int) -> Llama:
    """Blocks in ``layers`` replaced by N(0, std of each original matrix); their norm gains set to one."""
    rng = np.random.default_rng(seed)
    sd = dict(m.sd)
    for i in layers:
        for s in BLOCK_KEYS:
            k = block_key(i, s)
            if s in (ATTN_NORM, MLP_NORM):
                sd[k] = np.ones_like(sd[k])
            else:
                sd[k] = (rng.standard_normal(sd[k].shape) * float(sd[k].std())).astype(np.float32)
    return m.with_(sd)
