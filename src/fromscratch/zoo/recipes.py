"""How each zoo model is made: one function per model, run in a worker process.

Every function takes the build folder and returns the catalogue entries (as
dicts) it wrote. Hyper-parameters live here, in one place, and are part of the
zoo version hash, so changing any of them rebuilds the cache.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from fromscratch.errors import require
from fromscratch.zoo import export, models, train, variants
from fromscratch.zoo.corpus import CAPTION_CLASSES, caption
from fromscratch.zoo.tok import BOS, EOS, MASK, PAD

torch = require("torch", "demo")
F = torch.nn.functional

SEQ = 64
BATCH = 8
LR = 3e-3
SEED_STEPS = 100

LLAMA = models.LlamaCfg(vocab_size=1024)
LLAMA_B = models.LlamaCfg(vocab_size=1536, hidden_size=192, intermediate_size=512)
BERT = models.BertCfg(vocab_size=1024)
VISION = models.VisionCfg()
LLAVA_TEXT = models.LlamaCfg(vocab_size=1024, hidden_size=192, num_hidden_layers=2,
                             intermediate_size=512)

ALL_LLAMA = ["embed_tokens", "lm_head", "norm", "layers."]
#: blocks of llama-s0 re-initialised in llama-s0-reinit
REINIT_LAYERS = [1, 3]


# --------------------------------------------------------------------------- helpers

def ids(work: Path, name: str):
    return torch.from_numpy(np.load(work / "data" / f"{name}.npy").astype(np.int64))


def tokdir(work: Path, name: str) -> Path:
    return work / "tokenizers" / name


def mdir(work: Path, name: str) -> Path:
    return work / "models" / name


def save_llama(work: Path, name: str, model, tok: str = "A") -> Path:
    out = mdir(work, name)
    export.save_hf(model, out, model.c.hf_config(BOS, EOS), tokdir(work, tok))
    return out


def load_llama(work: Path, name: str):
    st = require("safetensors.torch", "demo")
    out = mdir(work, name)
    cfgj = json.loads((out / "config.json").read_text())
    fields = {k: cfgj[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers",
                                    "num_attention_heads", "num_key_value_heads",
                                    "intermediate_size", "max_position_embeddings",
                                    "rms_norm_eps", "rope_theta")}
    m = models.LlamaForCausalLM(models.LlamaCfg(**fields))
    m.load_state_dict(st.load_file(str(out / "model.safetensors")))
    m.eval()
    return m


def entry(name, family, parent, relation, reused, description, fmt="safetensors", file="",
          **metrics) -> dict:
    return {"name": name, "family": family, "format": fmt, "parent": parent,
            "relation": relation, "reused_components": list(reused),
            "description": description, "file": file,
            "metrics": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()}}


def train_llama(model, data, steps: int, lr: float, seed: int, **kw) -> list[float]:
    return train.run(model, train.lm_loss_fn(model, data, BATCH, SEQ, seed), steps, lr, **kw)


def _lm_metrics(model, work: Path, losses: list[float], evalset: str = "eval") -> dict:
    return {"steps": len(losses), "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None,
            "ln_vocab": math.log(model.c.vocab_size),
            "eval_loss": train.eval_lm(model, ids(work, evalset))}


def _drift(a, b) -> float:
    """Relative L2 change of all 2-D weights present in both models with equal shapes."""
    sa, sb = a.state_dict(), b.state_dict()
    num = den = 0.0
    for k, v in sa.items():
        if v.ndim == 2 and k in sb and sb[k].shape == v.shape:
            num += float((sb[k] - v).pow(2).sum())
            den += float(v.pow(2).sum())
    return math.sqrt(num / den)


# --------------------------------------------------------------------------- independent llamas

def llama_seed(work: Path, k: int, steps: int = SEED_STEPS) -> list[dict]:
    torch.manual_seed(1000 + k)
    m = models.LlamaForCausalLM(LLAMA)
    losses = train_llama(m, ids(work, "general"), steps, LR, seed=1000 + k)
    save_llama(work, f"llama-s{k}", m)
    return [entry(f"llama-s{k}", "llama", None, "independent", [],
                  f"Tiny llama trained from scratch (seed {1000 + k}); a seed sibling of the "
                  "other llama-s* models: same architecture, tokenizer A, same data, "
                  "different initialisation and data order.", **_lm_metrics(m, work, losses))]


def llama_tokb(work: Path) -> list[dict]:
    torch.manual_seed(2000)
    m = models.LlamaForCausalLM(LLAMA_B)
    losses = train_llama(m, ids(work, "general_b"), SEED_STEPS, LR, seed=2000)
    save_llama(work, "llama-tokb", m, tok="B")
    return [entry("llama-tokb", "llama", None, "independent", [],
                  "Independent llama with its own tokenizer B (1536 tokens) and width 192.",
                  **_lm_metrics(m, work, losses, "eval_b"))]


def llama_normpair(work: Path, which: str) -> list[dict]:
    seed = {"a": 3000, "b": 3001}[which]
    torch.manual_seed(seed)
    m = models.LlamaForCausalLM(LLAMA)
    # same data order for both (shared data does not make models dependent), different init
    losses = train_llama(m, ids(work, "general"), 80, LR, seed=3000, norm_lr_scale=0.5)
    save_llama(work, f"llama-norm-{which}", m)
    return [entry(f"llama-norm-{which}", "llama", None, "independent", [],
                  "One of an independently initialised pair trained on the same data in the "
                  "same order, with RMSNorm weights at half the learning rate: the norms move "
                  "(they are learned) but stay near 1, so the pair's norm weights have cosine "
                  ">= 0.99 although no weight is shared.",
                  **_lm_metrics(m, work, losses))]


# --------------------------------------------------------------------------- derived from llama-s0

def _parent(work: Path):
    return load_llama(work, "llama-s0")


def llama_ft(work: Path) -> list[dict]:
    base = _parent(work)
    m = _parent(work)
    losses = train_llama(m, ids(work, "finetune"), 40, 1e-3, seed=5001, warmup=5)
    save_llama(work, "llama-s0-ft", m)
    return [entry("llama-s0-ft", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "llama-s0 fine-tuned briefly (40 steps, lr 1e-3) on the question/instruction "
                  "register.", drift=_drift(base, m),
                  eval_loss_general=train.eval_lm(m, ids(work, "eval")),
                  **_lm_metrics(m, work, losses, "eval_ft"))]


def llama_cpt(work: Path) -> list[dict]:
    base = _parent(work)
    m = _parent(work)
    losses = train_llama(m, ids(work, "cpt"), 200, 6e-3, seed=5002, warmup=10, weight_decay=0.1)
    save_llama(work, "llama-s0-cpt", m)
    return [entry("llama-s0-cpt", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "llama-s0 after long continued pre-training (200 steps, twice the original, "
                  "peak lr 6e-3, new data mix): weights drift far from the parent.",
                  drift=_drift(base, m), **_lm_metrics(m, work, losses))]


def llama_perm(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.permute_units(base, seed=5003)
    x = ids(work, "eval")[: 4 * SEQ].view(4, SEQ)
    with torch.no_grad():
        diff = float((base(x) - m(x)).abs().max())
    if diff > 1e-4:
        raise RuntimeError(f"permutation changed the function (max |dlogit| {diff})")
    save_llama(work, "llama-s0-perm", m)
    return [entry("llama-s0-perm", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "llama-s0 with MLP hidden units permuted and attention heads permuted "
                  "(KV groups together, query heads inside each group); function-preserving.",
                  max_abs_logit_diff=diff)]


def llama_prune(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.prune_layers(base, drop=[2])
    losses = train_llama(m, ids(work, "general"), 25, 1e-3, seed=5004, warmup=5)
    save_llama(work, "llama-s0-prune", m)
    return [entry("llama-s0-prune", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "llama-s0 with block 2 removed (layer pruning; new layers 0,1,2 = old "
                  "0,1,3), healed for 25 steps.", layer_map=[0, 1, 3],
                  **_lm_metrics(m, work, losses))]


def llama_dus(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.upscale_depth(base, overlap=1)
    losses = train_llama(m, ids(work, "general"), 30, 1e-3, seed=5005, warmup=5)
    save_llama(work, "llama-s0-dus", m)
    return [entry("llama-s0-dus", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "SOLAR-style depth up-scaling of llama-s0 (layers 0,1,2 then 1,2,3: six "
                  "blocks), trained 30 steps.", layer_map=[0, 1, 2, 1, 2, 3],
                  **_lm_metrics(m, work, losses))]


def llama_vocab(work: Path) -> list[dict]:
    tk = require("tokenizers", "demo")
    base = _parent(work)
    old = tk.Tokenizer.from_file(str(tokdir(work, "A") / "tokenizer.json"))
    ext = tk.Tokenizer.from_file(str(tokdir(work, "A-ext") / "tokenizer.json"))
    n_old, n_new = old.get_vocab_size(), ext.get_vocab_size()
    pieces = [old.encode(ext.id_to_token(i)).ids for i in range(n_old, n_new)]
    m = variants.extend_vocab(base, n_new, pieces)
    losses = train_llama(m, ids(work, "general_ext"), 30, 1e-3, seed=5006, warmup=5)
    save_llama(work, "llama-s0-vocab", m, tok="A-ext")
    return [entry("llama-s0-vocab", "llama", "llama-s0", "derived", ALL_LLAMA,
                  f"llama-s0 with {n_new - n_old} tokens appended to tokenizer A "
                  "(new embedding and lm_head rows start as the mean of their old pieces), "
                  "trained 30 steps with the extended tokenizer.", new_tokens=n_new - n_old,
                  **_lm_metrics(m, work, losses, "eval_ext"))]


def llama_width(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.prune_width(base, keep_fraction=0.75)
    losses = train_llama(m, ids(work, "general"), 20, 1e-3, seed=5007, warmup=5)
    save_llama(work, "llama-s0-width", m)
    return [entry("llama-s0-width", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "llama-s0 with the 25% least important MLP units of every block removed "
                  "(704 -> 528), healed 20 steps.", **_lm_metrics(m, work, losses))]


def llama_moe(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.upcycle_moe(base, experts=4, top_k=2, noise=0.01, seed=5008)
    losses = train_llama(m, ids(work, "general"), 30, 1e-3, seed=5008, warmup=5)
    save_llama(work, "llama-s0-moe", m)
    reused = ["embed_tokens", "lm_head", "norm"]
    for i in range(LLAMA.num_hidden_layers):
        reused += [f"layers.{i}.attention", f"layers.{i}.experts", f"layers.{i}.norm"]
    return [entry("llama-s0-moe", "llama", "llama-s0", "derived", reused,
                  "Mixtral-style sparse upcycling of llama-s0: each MLP copied into 4 "
                  "experts (+1% noise), new top-2 router (not reused), trained 30 steps.",
                  **_lm_metrics(m, work, losses))]


def llama_reinit(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.reinitialise_layers(base, REINIT_LAYERS, seed=5009)
    losses = train_llama(m, ids(work, "general"), 100, 2e-3, seed=5009, warmup=10)
    save_llama(work, "llama-s0-reinit", m)
    kept = [i for i in range(LLAMA.num_hidden_layers) if i not in REINIT_LAYERS]
    reused = ["embed_tokens", "lm_head", "norm"] + [f"layers.{i}." for i in kept]
    return [entry("llama-s0-reinit", "llama", "llama-s0", "derived", reused,
                  f"llama-s0 with blocks {REINIT_LAYERS} re-initialised (fresh random attention, MLP "
                  "and norms), then the whole model trained 100 steps at lr 2e-3: the kept blocks "
                  "are the parent's, the re-initialised ones learned inside the parent's residual "
                  "basis but share no weights with it.", reinitialised_layers=list(REINIT_LAYERS),
                  drift=_drift(base, m), **_lm_metrics(m, work, losses))]


def llama_permft_notok(work: Path) -> list[dict]:
    base = _parent(work)
    m = variants.permute_residual(variants.permute_units(base, seed=5010), seed=5011)
    x = ids(work, "eval")[: 4 * SEQ].view(4, SEQ)
    with torch.no_grad():
        diff = float((base(x) - m(x)).abs().max())
    if diff > 1e-4:
        raise RuntimeError(f"permutation changed the function (max |dlogit| {diff})")
    losses = train_llama(m, ids(work, "finetune"), 40, 1e-3, seed=5012, warmup=5)
    out = mdir(work, "llama-s0-permft-notok")
    export.save_hf(m, out, m.c.hf_config(BOS, EOS), None)
    return [entry("llama-s0-permft-notok", "llama", "llama-s0", "derived", ALL_LLAMA,
                  "llama-s0 with MLP units, heads and the residual stream permuted (with sign "
                  "flips), then fine-tuned 40 steps at lr 1e-3, saved WITHOUT tokenizer files: "
                  "only token ids tie its embedding rows to the parent's.",
                  max_abs_logit_diff_before_training=diff, **_lm_metrics(m, work, losses, "eval_ft"))]


def llama_gguf(work: Path, src: str, qtype: str, claim: str) -> list[dict]:
    st = require("safetensors.torch", "demo")
    d = mdir(work, src)
    state = st.load_file(str(d / "model.safetensors"))
    cfg = json.loads((d / "config.json").read_text())
    name = f"{src}-{qtype.lower().replace('_', '')}"
    path = mdir(work, name) / f"{name}.gguf"
    export.save_gguf(state, cfg, d / "tokenizer.json", path, qtype, name,
                     {"name": claim, "organization": "fromscratch-zoo",
                      "repo_url": f"https://example.invalid/fromscratch-zoo/{claim}"})
    truth = "true" if claim == src else f"FALSE: it is {src}"
    return [entry(name, "llama", src, "identical", ALL_LLAMA,
                  f"{src} converted to GGUF the way llama.cpp does (Q/K per-head row "
                  f"permutation, ggml shape order) and quantised to {qtype}; its "
                  f"general.base_model claim names {claim} ({truth}).",
                  fmt="gguf", file=f"{name}.gguf", quantisation=qtype)]


def llama_pt(work: Path) -> list[dict]:
    m = _parent(work)
    export.save_pytorch(m, mdir(work, "llama-s0-pt"), m.c.hf_config(BOS, EOS), tokdir(work, "A"))
    return [entry("llama-s0-pt", "llama", "llama-s0", "identical", ALL_LLAMA,
                  "llama-s0 saved as a PyTorch zip checkpoint (torch.save of the state dict).",
                  fmt="pytorch", file="pytorch_model.bin")]


# --------------------------------------------------------------------------- encoders

def bert_seed(work: Path, k: int) -> list[dict]:
    seed = 4000 + k
    torch.manual_seed(seed)
    m = models.BertModel(BERT)
    head = models.BertMLMHead(BERT)
    data = ids(work, "general")
    gen = torch.Generator().manual_seed(seed)
    n = data.numel() - SEQ

    def mlm(x, g):
        mask = (torch.rand(x.shape, generator=g) < 0.25) & (x > MASK)
        inp = x.masked_fill(mask, MASK)
        logits = head(m(inp), m.embeddings.word_embeddings.weight)
        return F.cross_entropy(logits[mask], x[mask])

    def fn(step):
        starts = torch.randint(0, n, (BATCH,), generator=gen).tolist()
        return mlm(torch.stack([data[s:s + SEQ] for s in starts]), gen)

    both = torch.nn.ModuleDict({"m": m, "h": head})
    losses = train.run(both, fn, 150, 2e-3, warmup=15)
    ev = ids(work, "eval")
    g2 = torch.Generator().manual_seed(99)
    x = torch.stack([ev[i * SEQ:(i + 1) * SEQ] for i in range(16)])
    with torch.no_grad():
        eval_loss = float(mlm(x, g2))
    out = mdir(work, f"bert-s{k}")
    export.save_hf(m, out, BERT.hf_config(PAD), tokdir(work, "A"))
    return [entry(f"bert-s{k}", "encoder", None, "independent", [],
                  f"Tiny BERT-style encoder (BertModel names, post-LN) trained from scratch "
                  f"with masked-LM, 25% masking, 150 steps (seed {seed}); also the donor of a "
                  "transplanted vision tower. In this budget it learns token statistics but "
                  "little context (MLM loss near the unigram entropy).",
                  drift_from_init=_init_drift(m, BERT, seed),
                  steps=len(losses), train_loss_first=losses[0], train_loss_last=losses[-1],
                  ln_vocab=math.log(BERT.vocab_size), eval_loss=eval_loss)]


def _init_drift(m, cfg, seed: int) -> float:
    """Relative L2 distance of the trained encoder blocks from their own initialisation."""
    torch.manual_seed(seed)
    init = models.BertModel(cfg)
    return _drift(init, m)


# --------------------------------------------------------------------------- two-tower

_BERT_TO_SIGLIP = {
    "attention.self.query": "self_attn.q_proj", "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj", "attention.output.dense": "self_attn.out_proj",
    "attention.output.LayerNorm": "layer_norm1", "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2", "output.LayerNorm": "layer_norm2",
}


def _images(cls: "torch.Tensor", g) -> "torch.Tensor":
    """Toy 32x32 RGB images whose pattern is fixed by the class, plus noise."""
    b = cls.numel()
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    base = torch.zeros(b, 3, 32, 32)
    pats = {
        0: lambda: torch.tensor([1.0, -0.5, -0.5]).view(3, 1, 1).expand(3, 32, 32),
        1: lambda: torch.tensor([-0.5, 1.0, -0.5]).view(3, 1, 1).expand(3, 32, 32),
        2: lambda: torch.tensor([-0.5, -0.5, 1.0]).view(3, 1, 1).expand(3, 32, 32),
        3: lambda: ((yy // 4) % 2 * 2 - 1).expand(3, 32, 32),
        4: lambda: (((yy % 8 - 3.5) ** 2 + (xx % 8 - 3.5) ** 2 < 6) * 2.0 - 1).expand(3, 32, 32),
        5: lambda: torch.full((3, 32, 32), -1.0),
        6: lambda: torch.full((3, 32, 32), 1.0),
        7: lambda: ((((yy // 8) + (xx // 8)) % 2) * 2 - 1).expand(3, 32, 32),
    }
    for i, c in enumerate(cls.tolist()):
        base[i] = pats[c]()
    return base + 0.5 * torch.randn(base.shape, generator=g)


def _captions(tok, cls: list[int], rng: random.Random, length: int = 16):
    rows = []
    for c in cls:
        t = [BOS] + tok.encode(caption(c, rng)).ids + [EOS]
        rows.append((t + [PAD] * length)[:length])
    return torch.tensor(rows)


def _llava(work: Path, name: str, donor: str | None) -> list[dict]:
    tk = require("tokenizers", "demo")
    st = require("safetensors.torch", "demo")
    tok = tk.Tokenizer.from_file(str(tokdir(work, "A") / "tokenizer.json"))
    seed = 6000 if donor else 6001
    torch.manual_seed(seed)
    m = models.LlavaForConditionalGeneration(VISION, LLAVA_TEXT)
    if donor:
        sd = st.load_file(str(mdir(work, donor) / "model.safetensors"))
        tower = m.model.vision_tower.vision_model.encoder.layers
        with torch.no_grad():
            for i, layer in enumerate(tower):
                for src, dst in _BERT_TO_SIGLIP.items():
                    for p in ("weight", "bias"):
                        layer.get_parameter(f"{dst}.{p}").copy_(sd[f"encoder.layer.{i}.{src}.{p}"])
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    n_cls = len(CAPTION_CLASSES)

    def loss_on(cls, imgs, caps):
        logits = m(imgs, caps[:, :-1])
        y = caps[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=PAD)

    def fn(step):
        cls = torch.randint(0, n_cls, (16,), generator=gen)
        return loss_on(cls, _images(cls, gen), _captions(tok, cls.tolist(), rng))

    scale = (lambda n: 0.3 if ".vision_tower." in n else 1.0) if donor else None
    losses = train.run(m, fn, 120, 2e-3, warmup=15, lr_scale=scale)
    g2 = torch.Generator().manual_seed(77)
    r2 = random.Random(77)
    cls = torch.arange(64) % n_cls
    imgs, caps = _images(cls, g2), _captions(tok, cls.tolist(), r2)
    with torch.no_grad():
        ev = float(loss_on(cls, imgs, caps))
        shuffled = float(loss_on(cls, imgs.roll(1, 0), caps))
    vc, tc = VISION, LLAVA_TEXT
    cfg = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
           "vision_config": vc.hf_config(), "text_config": tc.hf_config(BOS, EOS),
           "projector_hidden_act": "gelu", "vision_feature_layer": -1,
           "vision_feature_select_strategy": "full", "image_seq_length": vc.num_patches,
           "image_token_index": MASK, "tie_word_embeddings": False, "torch_dtype": "float32"}
    export.save_hf(m, mdir(work, name), cfg, tokdir(work, "A"))
    metrics = dict(steps=len(losses), train_loss_first=losses[0], train_loss_last=losses[-1],
                   eval_loss=ev, eval_loss_wrong_image=shuffled,
                   ln_vocab=math.log(tc.vocab_size))
    if donor:
        return [entry(name, "twotower", donor, "derived", ["vision.layers."],
                      f"LLaVA-style two-tower model whose SigLIP-named vision tower blocks were "
                      f"COPIED from {donor}'s encoder blocks (attention, MLP, layer norms) and "
                      "then trained further at 0.3x lr on a toy image-caption task; patch and "
                      "position embeddings, post-layernorm, projector and language model were "
                      "trained from scratch.", **metrics)]
    return [entry(name, "twotower", None, "independent", [],
                  "LLaVA-style two-tower model with both towers trained from scratch on the "
                  "toy image-caption task (contrast for the transplant).", **metrics)]


def llava_transplant(work: Path) -> list[dict]:
    return _llava(work, "llava-transplant", "bert-s0")


def llava_clean(work: Path) -> list[dict]:
    return _llava(work, "llava-clean", None)
