"""Checkpoint chains for tests and the demo: genuine ones really trained, and forged ones.

A *genuine* chain is a tiny llama (the zoo's own module, at a smaller width)
initialised from a real random draw and trained with torch, saved at several
steps, the initialisation included. The set varies seeds, optimisers (AdamW,
Adam, SGD with momentum, RMSprop, Adagrad), learning-rate schedules (constant,
cosine, step decay, inverse square root, linear warm-up, and a warm-up whose
early steps are a thousand times smaller), checkpoint spacing (even,
logarithmic) and initialisation schemes (normal, uniform, scaled residual).

*Forged* chains are what a team without a real training run could hand in:
(a) an "init" that is a trained reference plus Gaussian noise of the init's
scale, trained on from there; (b) an "init" that is a trained reference with
rows and columns permuted (norms reset to one); (c) a genuine chain whose middle
checkpoint is replaced by a fine-tune of a reference; (d) a genuine chain
submitted with a reference's fine-tune as the model; (e) another team's
genuine chain submitted with an independently trained model.

Built lazily (``build_chains()``), deterministically, and cached under
``cache_dir()/chains/<version>``, where the version hashes this file and the
zoo's version (its modules are reused here). Building needs the ``demo`` extra.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from fromscratch.zoo.catalogue import cache_dir
from fromscratch.cache import file_lock

FORMAT = 1
TRAIN_LR = {"adamw": 3e-3, "adam": 2e-3, "sgd": 0.3, "rmsprop": 1e-3, "adagrad": 3e-2}

#: (name, seed, optimiser, schedule, steps, checkpoint steps, init) -- the genuine chains.
GENUINE: list[tuple[str, int, str, str, int, tuple[int, ...], str]] = [
    ("g00", 100, "adamw", "cosine", 60, (0, 10, 20, 30, 40, 50, 60), "normal"),
    ("g01", 101, "adamw", "tiny-warmup", 60, (0, 5, 10, 15, 20, 30, 45, 60), "normal"),
    ("g02", 102, "sgd", "constant", 60, (0, 1, 2, 4, 8, 16, 32, 60), "normal"),
    ("g03", 103, "adam", "linear-warmup", 60, (0, 10, 20, 30, 40, 60), "uniform"),
    ("g04", 104, "rmsprop", "step", 60, (0, 12, 24, 36, 48, 60), "normal"),
    ("g05", 105, "adagrad", "inverse-sqrt", 60, (0, 15, 30, 45, 60), "scaled"),
    ("g06", 106, "adamw", "constant", 40, (0, 10, 20, 30, 40), "normal"),
    ("g07", 107, "adamw", "tiny-warmup", 80, (0, 2, 4, 8, 16, 24, 40, 60, 80), "normal"),
    ("g08", 108, "sgd", "cosine", 60, (0, 10, 20, 30, 40, 50, 60), "normal"),
    ("g09", 109, "adam", "step", 60, (0, 20, 40, 60), "normal"),
    ("g10", 110, "rmsprop", "linear-warmup", 60, (0, 6, 12, 24, 36, 60), "uniform"),
    ("g11", 111, "adagrad", "constant", 50, (0, 10, 20, 30, 40, 50), "normal"),
    ("g12", 112, "adamw", "inverse-sqrt", 60, (0, 1, 2, 4, 8, 16, 32, 60), "scaled"),
    ("g13", 113, "adam", "tiny-warmup", 60, (0, 6, 12, 18, 24, 36, 48, 60), "normal"),
    ("g14", 114, "sgd", "step", 60, (0, 15, 30, 45, 60), "normal"),
    ("g15", 115, "adamw", "linear-warmup", 60, (0, 3, 6, 12, 24, 36, 48, 60), "normal"),
    ("g16", 116, "rmsprop", "cosine", 60, (0, 10, 20, 30, 40, 50, 60), "normal"),
    ("g17", 117, "adagrad", "tiny-warmup", 60, (0, 10, 20, 30, 40, 50, 60), "normal"),
    ("g18", 118, "adam", "constant", 30, (0, 5, 10, 15, 20, 25, 30), "normal"),
    ("g19", 119, "sgd", "tiny-warmup", 60, (0, 5, 10, 15, 20, 40, 60), "uniform"),
    ("g20", 120, "adamw", "step", 100, (0, 20, 40, 60, 80, 100), "normal"),
    ("g21", 121, "adam", "cosine", 60, (0, 2, 4, 8, 16, 32, 60), "scaled"),
]
#: a held-out set (reported, never used to tune a threshold): other seeds, and each optimiser
#: paired with another chain's schedule, spacing and initialisation scheme.
HELDOUT = [(f"h{i:02d}", 500 + i, GENUINE[i][2], GENUINE[(i + 7) % len(GENUINE)][3],
            GENUINE[(i + 7) % len(GENUINE)][4], GENUINE[(i + 7) % len(GENUINE)][5], GENUINE[(i + 3) % len(GENUINE)][6])
           for i in range(len(GENUINE))]
#: the genuine chains the default (fast) test run checks; the rest run under ``slow``.
CI_GENUINE = ("g00", "g01", "g02", "g05")

INIT_OPTIONS = {"normal": [], "uniform": ["family=uniform"], "scaled": ["residual=scaled"]}
INIT_STD = 0.02


def chains_version() -> str:
    from fromscratch.zoo import zoo_version

    h = hashlib.sha256(f"chains-format={FORMAT}\0{zoo_version()}\0".encode())
    h.update(Path(__file__).read_bytes())
    return "c1-" + h.hexdigest()[:12]


def chains_root() -> Path:
    return cache_dir() / "chains" / chains_version()


def _cfg():
    from fromscratch.zoo.models import LlamaCfg

    return LlamaCfg(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, intermediate_size=176, max_position_embeddings=128)


# --------------------------------------------------------------------------- training

def _lr_factor(schedule: str, step: int, steps: int) -> float:
    frac = step / max(1, steps)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return (step + 1) / 6 if step < 6 else 0.1 + 0.45 * (1 + math.cos(math.pi * frac))
    if schedule == "linear-warmup":
        return min(1.0, (step + 1) / (0.3 * steps))
    if schedule == "tiny-warmup":   # very small early steps, then the full rate
        return 1e-3 if frac < 0.3 else 1.0
    if schedule == "step":
        return 1.0 if frac < 0.6 else 0.1
    if schedule == "inverse-sqrt":
        return 1.0 / math.sqrt(1.0 + step)
    raise ValueError(schedule)


def _optimizer(torch, name: str, params):
    lr = TRAIN_LR[name]
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    return torch.optim.Adagrad(params, lr=lr)


def _init(torch, model, scheme: str, seed: int) -> None:
    """A real random initialisation under the named scheme (the HF one, or uniform, or scaled residual)."""
    from fromscratch.zoo.models import init_weights

    torch.manual_seed(seed)
    init_weights(model, INIT_STD)
    layers = model.c.num_hidden_layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim < 2:
                continue
            if scheme == "uniform":
                a = INIT_STD * math.sqrt(3.0)
                p.uniform_(-a, a)
            elif scheme == "scaled" and name.endswith(("o_proj.weight", "down_proj.weight")):
                p.normal_(0.0, INIT_STD / math.sqrt(2 * layers))


def _train(torch, model, data, *, seed: int, optimiser: str, schedule: str, steps: int,
           save_at: tuple[int, ...], save) -> None:
    """Train ``model`` for ``steps`` steps, calling ``save(step)`` at each step in ``save_at`` (0 = before any)."""
    from fromscratch.zoo.train import lm_loss_fn

    opt = _optimizer(torch, optimiser, list(model.parameters()))
    loss_fn = lm_loss_fn(model, data, 8, 48, seed)
    base = [g["lr"] for g in opt.param_groups]
    if 0 in save_at:
        save(0)
    model.train()
    for step in range(steps):
        for g, lr in zip(opt.param_groups, base):
            g["lr"] = lr * _lr_factor(schedule, step, steps)
        loss = loss_fn(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
        opt.step()
        if step + 1 in save_at:
            model.eval()
            save(step + 1)
            model.train()
    model.eval()


class _Builder:
    """Writes every model of the chain material into ``work``."""

    def __init__(self, work: Path) -> None:
        from fromscratch.errors import require

        self.torch = require("torch", "demo")
        self.work = work
        self.tok = work / "tokenizer"
        self.data: dict[str, Any] = {}
        self.cfg = _cfg()

    def prepare(self) -> None:
        import numpy as np

        from fromscratch.zoo import corpus, tok

        general = corpus.generate("general", 120_000, seed=3)
        t = tok.train_bpe(general, self.cfg.vocab_size)
        tok.save(t, self.tok)
        for name, text in (("general", general), ("finetune", corpus.generate("finetune", 60_000, seed=3))):
            ids = np.asarray(tok.encode_lines(t, text), dtype=np.int64)
            self.data[name] = self.torch.from_numpy(ids)

    def save(self, model, rel: str) -> str:
        from fromscratch.zoo.export import save_hf
        from fromscratch.zoo.tok import BOS, EOS

        save_hf(model, self.work / rel, model.c.hf_config(BOS, EOS), self.tok)
        return rel

    def new_model(self, seed: int, scheme: str = "normal"):
        from fromscratch.zoo.models import LlamaForCausalLM

        m = LlamaForCausalLM(self.cfg)
        _init(self.torch, m, scheme, seed)
        return m

    def chain(self, folder: str, model, *, seed: int, optimiser: str, schedule: str, steps: int,
              save_at: tuple[int, ...], data: str = "general") -> list[str]:
        paths: list[str] = []
        _train(self.torch, model, self.data[data], seed=seed, optimiser=optimiser, schedule=schedule,
               steps=steps, save_at=save_at,
               save=lambda s: paths.append(self.save(model, f"{folder}/step-{s:04d}")))
        return paths

    def trained(self, rel: str, model, *, seed: int, steps: int, data: str = "general",
                optimiser: str = "adamw") -> str:
        _train(self.torch, model, self.data[data], seed=seed, optimiser=optimiser, schedule="cosine",
               steps=steps, save_at=(steps,), save=lambda s: None)
        return self.save(model, rel)

    def load(self, rel: str):
        from safetensors.torch import load_file

        from fromscratch.zoo.models import LlamaForCausalLM

        m = LlamaForCausalLM(self.cfg)
        m.load_state_dict(load_file(str(self.work / rel / "model.safetensors")))
        m.eval()
        return m


# --------------------------------------------------------------------------- forgeries

def _reset_norms(torch, model) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and "norm" in name:
                p.fill_(1.0)


def noised_copy(torch, model, seed: int):
    """Forgery (a): a trained model plus Gaussian noise of the init's scale, norms back at one."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                p.add_(torch.randn(p.shape, generator=g) * INIT_STD)
    _reset_norms(torch, model)
    return model


def shuffled_copy(torch, model, seed: int):
    """Forgery (b): every matrix of a trained model with its rows and columns permuted, norms at one."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                rows = torch.randperm(p.shape[0], generator=g)
                cols = torch.randperm(p.shape[1], generator=g)
                p.copy_(p[rows][:, cols])
    _reset_norms(torch, model)
    return model


def _references(b: _Builder) -> dict[str, str]:
    """Two trained references and a fine-tune of the first (what a forger would take)."""
    refs = {"ref-a": b.trained("references/ref-a", b.new_model(900), seed=900, steps=200),
            "ref-b": b.trained("references/ref-b", b.new_model(901), seed=901, steps=200)}
    refs["ref-a-ft"] = b.trained("references/ref-a-ft", b.load(refs["ref-a"]), seed=902, steps=40,
                                 data="finetune", optimiser="adam")
    return refs


def _entry(kind: str, chain: list[str], model: str, expect: dict[str, Any], description: str,
           init: str = "normal") -> dict[str, Any]:
    return {"kind": kind, "checkpoints": chain, "model": model, "init_options": INIT_OPTIONS[init],
            "expect": expect, "description": description}


def _valid(relation: str) -> dict[str, Any]:
    return {"verdict": "valid", "submission": relation, "step": None, "check": None}


def _invalid(step: int, check: str) -> dict[str, Any]:
    return {"verdict": "invalid", "step": step, "check": check}


def _forged(b: _Builder, refs: dict[str, str], g00: list[str], g01: list[str]) -> dict[str, dict[str, Any]]:
    saves = (0, 10, 20, 30, 40, 50, 60)
    out: dict[str, dict[str, Any]] = {}
    for key, make, seed in (("forged-noise", noised_copy, 201), ("forged-shuffle", shuffled_copy, 202)):
        m = make(b.torch, b.load(refs["ref-a"]), seed)
        chain = b.chain(key, m, seed=seed, optimiser="adamw", schedule="cosine", steps=60, save_at=saves)
        what = "plus Gaussian noise of the init's scale" if key == "forged-noise" else "with rows and columns permuted"
        out[key] = _entry("forged", chain, chain[-1], _invalid(0, "init"),
                          f"(a/b) the 'init' is the trained reference ref-a {what} (norms reset to one), "
                          "then trained on for 60 steps")
    splice = list(g00)
    splice[3] = refs["ref-a-ft"]
    out["forged-splice"] = _entry("forged", splice, g00[-1], _invalid(3, "continuity"),
                                  "(c) genuine chain g00 with checkpoint 3 replaced by a fine-tune of ref-a")
    out["forged-submission"] = _entry("forged", g00, refs["ref-a-ft"], _invalid(len(g00) - 1, "submission"),
                                      "(d) genuine chain g00, but the submitted model is a fine-tune of ref-a")
    out["forged-other"] = _entry("forged", g01, g00[-1], _invalid(len(g01) - 1, "submission"),
                                 "(e) the genuine chain of another model (g01) submitted with g00's final model")
    return out


def _build_into(work: Path) -> dict[str, Any]:
    b = _Builder(work)
    threads, deterministic = b.torch.get_num_threads(), b.torch.are_deterministic_algorithms_enabled()
    b.torch.set_num_threads(1)
    b.torch.use_deterministic_algorithms(True)
    try:
        return _build_chains(b)
    finally:
        b.torch.set_num_threads(threads)
        b.torch.use_deterministic_algorithms(deterministic)


def _build_chains(b: _Builder) -> dict[str, Any]:
    b.prepare()
    refs = _references(b)
    chains: dict[str, dict[str, Any]] = {}
    for name, seed, opt, sched, steps, saves, init in GENUINE + HELDOUT:
        paths = b.chain(name, b.new_model(seed, init), seed=seed, optimiser=opt, schedule=sched,
                        steps=steps, save_at=saves)
        chains[name] = _entry("genuine", paths, paths[-1], _valid("identical"),
                              f"trained from a {init} random init (seed {seed}), {opt}, {sched} schedule, "
                              f"{steps} steps, checkpoints at {list(saves)}", init)
        chains[name]["set"] = "held-out" if name.startswith("h") else "calibration"
    g00 = chains["g00"]["checkpoints"]
    post = b.trained("g00-post", b.load(g00[-1]), seed=300, steps=20, data="finetune", optimiser="adam")
    chains["genuine-post"] = _entry("genuine", g00, post, _valid("derived"),
                                    "genuine chain g00; the submitted model is its final checkpoint "
                                    "post-trained for 20 steps on other text")
    chains.update(_forged(b, refs, g00, chains["g01"]["checkpoints"]))
    return {"schema": "fromscratch.chains/1", "version": chains_version(), "init_std": INIT_STD,
            "references": refs, "ci_genuine": list(CI_GENUINE), "chains": chains}


def _absolute(root: Path, cat: dict[str, Any]) -> dict[str, Any]:
    cat = json.loads(json.dumps(cat))
    cat["root"] = str(root)
    cat["references"] = {k: str(root / v) for k, v in cat["references"].items()}
    for e in cat["chains"].values():
        e["checkpoints"] = [str(root / p) for p in e["checkpoints"]]
        e["model"] = str(root / e["model"])
    return cat


def build_chains() -> dict[str, Any]:
    """The chain catalogue (paths absolute), building the material first if it is not cached."""
    root = chains_root()
    catalogue = root / "chains.json"
    if not catalogue.is_file():
        with file_lock(root.with_suffix(".lock")):
            if not catalogue.is_file():
                work = root.with_name(root.name + f".tmp-{os.getpid()}")
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                cat = _build_into(work)
                (work / "chains.json").write_text(json.dumps(cat, indent=2, sort_keys=True) + "\n", encoding="utf-8")
                shutil.rmtree(root, ignore_errors=True)
                work.rename(root)
    return _absolute(root, json.loads(catalogue.read_text(encoding="utf-8")))


def demo_chains() -> dict[str, Any]:
    """The demo's two chain submissions: a valid one and a forged one (paths absolute).

    ``{"genuine": {"chain": [...], "model": ..., "init_options": [...], "description": ...},
    "forged": {...}, "references": {"ref-a": ..., "ref-b": ...}}``. The genuine one is g00; the
    forged one is (b), whose "init" is the trained reference ref-a with rows and columns
    permuted: its final model is lineage-independent of ref-a, so only the chain's init test
    catches it (a forgery the audit without a chain would pass).
    """
    cat = build_chains()
    pick = {"genuine": cat["chains"]["g00"], "forged": cat["chains"]["forged-shuffle"]}
    out: dict[str, Any] = {k: {"chain": e["checkpoints"], "model": e["model"], "init_options": e["init_options"],
                               "description": e["description"]} for k, e in pick.items()}
    out["references"] = {k: cat["references"][k] for k in ("ref-a", "ref-b")}
    return out
