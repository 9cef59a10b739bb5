"""Derivations of a trained llama: the kinds of reuse the lineage test must catch.

Each function takes a trained ``LlamaForCausalLM`` and returns a new model whose
weights come from it, transformed the way real derived models are made
(permutation to disguise, pruning, SOLAR-style depth up-scaling, vocabulary
extension, width pruning, MoE upcycling). Training afterwards (healing) is the
builder's job.
"""

from __future__ import annotations

from dataclasses import replace

from fromscratch.errors import require
from fromscratch.zoo.models import LlamaCfg, LlamaForCausalLM

torch = require("torch", "demo")


def _clone(sd: dict) -> dict:
    return {k: v.detach().clone() for k, v in sd.items()}


def _layer_items(sd: dict, i: int) -> dict:
    pre = f"model.layers.{i}."
    return {k[len(pre):]: v for k, v in sd.items() if k.startswith(pre)}


def _new(cfg: LlamaCfg, sd: dict) -> LlamaForCausalLM:
    m = LlamaForCausalLM(cfg)
    m.load_state_dict(sd, strict=True)
    m.eval()
    return m


def _moved_perm(n: int, g) -> list[int]:
    """A random permutation of range(n) that is not the identity (when n > 1), so a
    disguised copy never keeps a block's heads in place by chance."""
    while True:
        p = torch.randperm(n, generator=g).tolist()
        if n < 2 or p != list(range(n)):
            return p


def permute_units(model: LlamaForCausalLM, seed: int) -> LlamaForCausalLM:
    """Function-preserving permutation of MLP hidden units and attention heads.

    KV heads are permuted as groups; the query heads that share a KV head move
    with it and are also shuffled inside their group. Each head's internal
    dimension order is kept, so rotary pairs stay intact.
    """
    c = model.c
    g = torch.Generator().manual_seed(seed)
    sd = _clone(model.state_dict())
    hd, nh, nkv = c.head_dim, c.num_attention_heads, c.num_key_value_heads
    rep = nh // nkv
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        u = torch.randperm(c.intermediate_size, generator=g)
        sd[p + "mlp.gate_proj.weight"] = sd[p + "mlp.gate_proj.weight"][u]
        sd[p + "mlp.up_proj.weight"] = sd[p + "mlp.up_proj.weight"][u]
        sd[p + "mlp.down_proj.weight"] = sd[p + "mlp.down_proj.weight"][:, u]
        kv_order = _moved_perm(nkv, g)
        q_heads: list[int] = []
        for grp in kv_order:
            inner = _moved_perm(rep, g)
            q_heads.extend(grp * rep + r for r in inner)
        q_rows = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in q_heads])
        kv_rows = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in kv_order])
        sd[p + "self_attn.q_proj.weight"] = sd[p + "self_attn.q_proj.weight"][q_rows]
        sd[p + "self_attn.k_proj.weight"] = sd[p + "self_attn.k_proj.weight"][kv_rows]
        sd[p + "self_attn.v_proj.weight"] = sd[p + "self_attn.v_proj.weight"][kv_rows]
        sd[p + "self_attn.o_proj.weight"] = sd[p + "self_attn.o_proj.weight"][:, q_rows]
    return _new(c, {k: v.contiguous() for k, v in sd.items()})


def _remap_layers(model: LlamaForCausalLM, order: list[int]) -> LlamaForCausalLM:
    """A model whose layer j is a copy of the source's layer ``order[j]``."""
    sd = model.state_dict()
    out = {k: v.clone() for k, v in sd.items() if not k.startswith("model.layers.")}
    for j, src in enumerate(order):
        for k, v in _layer_items(sd, src).items():
            out[f"model.layers.{j}.{k}"] = v.clone()
    return _new(replace(model.c, num_hidden_layers=len(order)), out)


def prune_layers(model: LlamaForCausalLM, drop: list[int]) -> LlamaForCausalLM:
    """Remove whole blocks (layer pruning)."""
    return _remap_layers(model, [i for i in range(model.c.num_hidden_layers) if i not in drop])


def upscale_depth(model: LlamaForCausalLM, overlap: int) -> LlamaForCausalLM:
    """SOLAR-style depth up-scaling: two copies of the stack, the first without its last
    ``overlap`` layers and the second without its first ``overlap``, concatenated."""
    n = model.c.num_hidden_layers
    return _remap_layers(model, list(range(n - overlap)) + list(range(overlap, n)))


def extend_vocab(model: LlamaForCausalLM, new_vocab: int, pieces: list[list[int]]) -> LlamaForCausalLM:
    """Append embedding and lm_head rows; each new row starts as the mean of the rows of
    the old-tokenizer pieces that spell the new token (a common practical recipe)."""
    sd = _clone(model.state_dict())
    old = model.c.vocab_size
    assert len(pieces) == new_vocab - old
    for key in ("model.embed_tokens.weight", "lm_head.weight"):
        w = sd[key]
        rows = [w[torch.tensor(p)].mean(0) if p else w.mean(0) for p in pieces]
        sd[key] = torch.cat([w, torch.stack(rows)], 0).contiguous()
    return _new(replace(model.c, vocab_size=new_vocab), sd)


def prune_width(model: LlamaForCausalLM, keep_fraction: float) -> LlamaForCausalLM:
    """Drop the least important MLP units in every layer (importance = product of the
    unit's gate, up and down norms); kept units stay in their original order."""
    c = model.c
    keep = int(round(c.intermediate_size * keep_fraction))
    sd = _clone(model.state_dict())
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}.mlp."
        gw, uw, dw = sd[p + "gate_proj.weight"], sd[p + "up_proj.weight"], sd[p + "down_proj.weight"]
        score = gw.norm(dim=1) * uw.norm(dim=1) * dw.norm(dim=0)
        idx = torch.sort(torch.topk(score, keep).indices).values
        sd[p + "gate_proj.weight"] = gw[idx].contiguous()
        sd[p + "up_proj.weight"] = uw[idx].contiguous()
        sd[p + "down_proj.weight"] = dw[:, idx].contiguous()
    return _new(replace(c, intermediate_size=keep), sd)


def upcycle_moe(model: LlamaForCausalLM, experts: int, top_k: int, noise: float,
                seed: int) -> LlamaForCausalLM:
    """Sparse upcycling: every expert starts as a copy of the dense MLP plus small
    Gaussian noise (relative to each matrix's std); the router is new."""
    c = model.c
    g = torch.Generator().manual_seed(seed)
    sd = model.state_dict()
    mc = replace(c, num_local_experts=experts, num_experts_per_tok=top_k)
    out = {}
    for k, v in sd.items():
        if ".mlp." not in k:
            out[k] = v.clone()
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        gate, up, down = (sd[p + f"mlp.{n}_proj.weight"] for n in ("gate", "up", "down"))
        for e in range(experts):
            for src, dst in ((gate, "w1"), (down, "w2"), (up, "w3")):
                eps = torch.randn(src.shape, generator=g) * (noise * float(src.std()))
                out[p + f"block_sparse_moe.experts.{e}.{dst}.weight"] = (src + eps).contiguous()
        out[p + "block_sparse_moe.gate.weight"] = torch.randn(experts, c.hidden_size, generator=g) * 0.02
    return _new(mc, out)


def permute_residual(model: LlamaForCausalLM, seed: int) -> LlamaForCausalLM:
    """Function-preserving permutation and sign flip of the residual-stream coordinates.

    Coordinate i of the new stream is ``s[i] * old[P[i]]``: embedding and lm_head
    columns, every matrix that reads the stream (columns) and writes it (rows)
    move with it; RMSNorm gains are permuted only (the norm of a vector does not
    change under a signed permutation, and its sign passes through the gain).
    """
    c = model.c
    g = torch.Generator().manual_seed(seed)
    perm = torch.tensor(_moved_perm(c.hidden_size, g))
    sign = torch.where(torch.rand(c.hidden_size, generator=g) < 0.5, -1.0, 1.0)
    sd = _clone(model.state_dict())
    for k, v in list(sd.items()):
        if k.endswith("norm.weight") or k.endswith("layernorm.weight"):
            sd[k] = v[perm]
        elif k.endswith(("embed_tokens.weight", "lm_head.weight", "q_proj.weight", "k_proj.weight",
                         "v_proj.weight", "gate_proj.weight", "up_proj.weight")):
            sd[k] = v[:, perm] * sign[None, :]
        elif k.endswith(("o_proj.weight", "down_proj.weight")):
            sd[k] = v[perm, :] * sign[:, None]
        else:
            raise ValueError(f"permute_residual does not know where {k} lives")
    return _new(c, {k: v.contiguous() for k, v in sd.items()})


def reinitialise_layers(model: LlamaForCausalLM, layers: list[int], seed: int) -> LlamaForCausalLM:
    """Fresh random weights (the model's own initialisation) for whole blocks; the rest is kept."""
    torch.manual_seed(seed)
    fresh = LlamaForCausalLM(model.c).state_dict()
    sd = _clone(model.state_dict())
    for i in layers:
        pre = f"model.layers.{i}."
        for k in sd:
            if k.startswith(pre):
                sd[k] = fresh[k].clone()
    return _new(model.c, sd)
