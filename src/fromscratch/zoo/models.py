"""The zoo's tiny transformers, written directly in torch with Hugging Face tensor names.

Why our own modules instead of ``transformers``: the zoo must build from the
``demo`` extra alone (torch), and it must be byte-reproducible, so every
operation is spelled out here. Module attribute names are chosen so that
``state_dict()`` already carries the real checkpoint names (LlamaForCausalLM,
MixtralForCausalLM, BertModel, SigLIP vision tower inside
LlavaForConditionalGeneration); the readers then see exactly what they would
see in a real checkpoint.

Rotary embeddings follow the Hugging Face ``rotate_half`` convention (first and
second half of each head are the pair), which is why a GGUF export must apply
llama.cpp's per-head Q/K row permutation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from fromscratch.errors import require

torch = require("torch", "demo")
nn = torch.nn
F = torch.nn.functional


# --------------------------------------------------------------------------- configs

@dataclass(frozen=True)
class LlamaCfg:
    vocab_size: int
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 704
    max_position_embeddings: int = 256
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    num_local_experts: int = 0          # > 0: Mixtral-style sparse MoE MLP
    num_experts_per_tok: int = 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def hf_config(self, bos: int, eos: int) -> dict:
        """config.json contents as transformers would write them."""
        base = {
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": False,
            "attention_bias": False,
            "initializer_range": 0.02,
            "bos_token_id": bos,
            "eos_token_id": eos,
            "torch_dtype": "float32",
        }
        if self.num_local_experts:
            base.update(model_type="mixtral", architectures=["MixtralForCausalLM"],
                        num_local_experts=self.num_local_experts,
                        num_experts_per_tok=self.num_experts_per_tok,
                        router_aux_loss_coef=0.0)
        else:
            base.update(model_type="llama", architectures=["LlamaForCausalLM"], mlp_bias=False)
        return base


@dataclass(frozen=True)
class BertCfg:
    vocab_size: int
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 768
    max_position_embeddings: int = 128
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    def hf_config(self, pad: int) -> dict:
        d = asdict(self)
        d.update(model_type="bert", architectures=["BertModel"], hidden_act="gelu",
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                 initializer_range=0.02, pad_token_id=pad, position_embedding_type="absolute",
                 torch_dtype="float32")
        return d


@dataclass(frozen=True)
class VisionCfg:
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 768
    image_size: int = 32
    patch_size: int = 8
    num_channels: int = 3
    layer_norm_eps: float = 1e-6

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def hf_config(self) -> dict:
        d = asdict(self)
        d.update(model_type="siglip_vision_model", hidden_act="gelu_pytorch_tanh",
                 attention_dropout=0.0)
        return d


# --------------------------------------------------------------------------- llama

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def _rope_tables(head_dim: int, n: int, theta: float):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    t = torch.arange(n, dtype=torch.float64)
    freqs = torch.outer(t, inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().float(), emb.sin().float()


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c: LlamaCfg) -> None:
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * hd, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * hd, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * hd, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * hd, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask):
        c = self.c
        b, t, _ = x.shape
        hd = c.head_dim
        q = self.q_proj(x).view(b, t, c.num_attention_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, c.num_key_value_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, c.num_key_value_heads, hd).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        rep = c.num_attention_heads // c.num_key_value_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c.num_attention_heads * hd)
        return self.o_proj(y)


class LlamaMLP(nn.Module):
    def __init__(self, d: int, ff: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d, ff, bias=False)
        self.up_proj = nn.Linear(d, ff, bias=False)
        self.down_proj = nn.Linear(ff, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MixtralExpert(nn.Module):
    def __init__(self, d: int, ff: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d, ff, bias=False)  # gate
        self.w2 = nn.Linear(ff, d, bias=False)  # down
        self.w3 = nn.Linear(d, ff, bias=False)  # up

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoE(nn.Module):
    """Top-k routed experts; computed densely (tiny sizes) so it is deterministic."""

    def __init__(self, c: LlamaCfg) -> None:
        super().__init__()
        self.k = c.num_experts_per_tok
        self.gate = nn.Linear(c.hidden_size, c.num_local_experts, bias=False)
        self.experts = nn.ModuleList(MixtralExpert(c.hidden_size, c.intermediate_size)
                                     for _ in range(c.num_local_experts))

    def forward(self, x):
        logits = self.gate(x)
        top, idx = logits.topk(self.k, dim=-1)
        w = torch.zeros_like(logits).scatter(-1, idx, top.softmax(-1))
        outs = torch.stack([e(x) for e in self.experts], dim=-1)
        return (outs * w.unsqueeze(-2)).sum(-1)


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c: LlamaCfg) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(c)
        if c.num_local_experts:
            self.block_sparse_moe = SparseMoE(c)
        else:
            self.mlp = LlamaMLP(c.hidden_size, c.intermediate_size)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        ff = self.block_sparse_moe(h) if hasattr(self, "block_sparse_moe") else self.mlp(h)
        return x + ff


class LlamaBody(nn.Module):
    def __init__(self, c: LlamaCfg) -> None:
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(LlamaDecoderLayer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        cos, sin = _rope_tables(c.head_dim, c.max_position_embeddings, c.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward_embeds(self, h):
        t = h.shape[1]
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        return self.norm(h)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c: LlamaCfg) -> None:
        super().__init__()
        self.c = c
        self.model = LlamaBody(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        init_weights(self)

    def forward(self, ids):
        return self.lm_head(self.model.forward_embeds(self.model.embed_tokens(ids)))


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Normal(0, std) for every matrix, zeros for biases, ones for norms (HF style)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding, nn.Conv2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------- bert

class _BertSelf(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)


class _BertSelfOutput(nn.Module):
    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)


class _BertAttention(nn.Module):
    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.self = _BertSelf(d)
        self.output = _BertSelfOutput(d, eps)


class _Dense(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.dense = nn.Linear(i, o)


class _BertOutput(nn.Module):
    def __init__(self, ff: int, d: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(ff, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)


class BertLayer(nn.Module):
    """Post-LN block, as in BERT."""

    def __init__(self, c: BertCfg) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.attention = _BertAttention(c.hidden_size, c.layer_norm_eps)
        self.intermediate = _Dense(c.hidden_size, c.intermediate_size)
        self.output = _BertOutput(c.intermediate_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, x):
        a = self.attention
        y = _mha(x, a.self.query, a.self.key, a.self.value, self.heads)
        x = a.output.LayerNorm(x + a.output.dense(y))
        h = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + self.output.dense(h))


def _mha(x, wq, wk, wv, heads: int):
    b, t, d = x.shape
    hd = d // heads
    q = wq(x).view(b, t, heads, hd).transpose(1, 2)
    k = wk(x).view(b, t, heads, hd).transpose(1, 2)
    v = wv(x).view(b, t, heads, hd).transpose(1, 2)
    att = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).softmax(-1)
    return (att @ v).transpose(1, 2).reshape(b, t, d)


class _BertEmbeddings(nn.Module):
    def __init__(self, c: BertCfg) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class _BertEncoder(nn.Module):
    def __init__(self, c: BertCfg) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c.num_hidden_layers))


class BertModel(nn.Module):
    def __init__(self, c: BertCfg) -> None:
        super().__init__()
        self.c = c
        self.embeddings = _BertEmbeddings(c)
        self.encoder = _BertEncoder(c)
        init_weights(self)

    def forward(self, ids):
        e = self.embeddings
        pos = torch.arange(ids.shape[1])
        x = e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings.weight[0]
        x = e.LayerNorm(x)
        for layer in self.encoder.layer:
            x = layer(x)
        return x


class BertMLMHead(nn.Module):
    """Training-only head (tied to the word embeddings); not saved with BertModel."""

    def __init__(self, c: BertCfg) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))
        init_weights(self)

    def forward(self, x, emb_weight):
        return self.LayerNorm(F.gelu(self.dense(x))) @ emb_weight.t() + self.bias


# --------------------------------------------------------------------------- siglip tower + llava

class _SigAttn(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)


class _SigMLP(nn.Module):
    def __init__(self, d: int, ff: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, ff)
        self.fc2 = nn.Linear(ff, d)


class SiglipEncoderLayer(nn.Module):
    """Pre-LN block, as in SigLIP/CLIP vision towers."""

    def __init__(self, c: VisionCfg) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.self_attn = _SigAttn(c.hidden_size)
        self.layer_norm1 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.mlp = _SigMLP(c.hidden_size, c.intermediate_size)
        self.layer_norm2 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x):
        a = self.self_attn
        x = x + a.out_proj(_mha(self.layer_norm1(x), a.q_proj, a.k_proj, a.v_proj, self.heads))
        h = self.layer_norm2(x)
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(h), approximate="tanh"))


class _SigEmbeddings(nn.Module):
    def __init__(self, c: VisionCfg) -> None:
        super().__init__()
        self.patch_embedding = nn.Conv2d(c.num_channels, c.hidden_size, c.patch_size, c.patch_size)
        self.position_embedding = nn.Embedding(c.num_patches, c.hidden_size)


class _SigEncoder(nn.Module):
    def __init__(self, c: VisionCfg) -> None:
        super().__init__()
        self.layers = nn.ModuleList(SiglipEncoderLayer(c) for _ in range(c.num_hidden_layers))


class _SigVisionModel(nn.Module):
    def __init__(self, c: VisionCfg) -> None:
        super().__init__()
        self.embeddings = _SigEmbeddings(c)
        self.encoder = _SigEncoder(c)
        self.post_layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class SiglipVisionTower(nn.Module):
    def __init__(self, c: VisionCfg) -> None:
        super().__init__()
        self.c = c
        self.vision_model = _SigVisionModel(c)

    def forward(self, images):
        vm = self.vision_model
        x = vm.embeddings.patch_embedding(images).flatten(2).transpose(1, 2)
        x = x + vm.embeddings.position_embedding.weight
        for layer in vm.encoder.layers:
            x = layer(x)
        return vm.post_layernorm(x)


class LlavaProjector(nn.Module):
    def __init__(self, dv: int, dt: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(dv, dt)
        self.linear_2 = nn.Linear(dt, dt)

    def forward(self, x):
        return self.linear_2(F.gelu(self.linear_1(x)))


class _LlavaInner(nn.Module):
    def __init__(self, vc: VisionCfg, tc: LlamaCfg) -> None:
        super().__init__()
        self.vision_tower = SiglipVisionTower(vc)
        self.multi_modal_projector = LlavaProjector(vc.hidden_size, tc.hidden_size)
        self.language_model = LlamaBody(tc)


class LlavaForConditionalGeneration(nn.Module):
    """Current transformers layout: ``model.vision_tower``, ``model.multi_modal_projector``,
    ``model.language_model`` and a top-level ``lm_head``."""

    def __init__(self, vc: VisionCfg, tc: LlamaCfg) -> None:
        super().__init__()
        self.vc, self.tc = vc, tc
        self.model = _LlavaInner(vc, tc)
        self.lm_head = nn.Linear(tc.hidden_size, tc.vocab_size, bias=False)
        init_weights(self)

    def forward(self, images, ids):
        m = self.model
        img = m.multi_modal_projector(m.vision_tower(images))
        h = torch.cat([img, m.language_model.embed_tokens(ids)], dim=1)
        out = m.language_model.forward_embeds(h)
        return self.lm_head(out[:, img.shape[1]:])
