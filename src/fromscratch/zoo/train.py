"""Deterministic CPU training loops for the zoo (AdamW, warm-up + cosine schedule).

Every source of randomness is an explicit ``torch.Generator`` seeded from the
model's recipe, so a rebuild on the same machine reproduces every byte.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from fromscratch.errors import require

torch = require("torch", "demo")
F = torch.nn.functional


def _schedule(step: int, steps: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac))


def make_optimizer(model, lr: float, weight_decay: float = 0.05, norm_lr_scale: float = 1.0,
                   lr_scale: Callable[[str], float] | None = None):
    """AdamW; matrices decay, vectors (norms, biases) do not; norms may get a scaled LR,
    and ``lr_scale(name)`` scales any parameter's LR (0 freezes it)."""
    groups: dict[tuple[float, float], list] = {}
    for name, p in model.named_parameters():
        scale = 1.0 if lr_scale is None else float(lr_scale(name))
        if scale == 0.0:
            p.requires_grad_(False)
            continue
        if p.ndim >= 2:
            wd = weight_decay
        else:
            wd = 0.0
            if "norm" in name.lower() and name.endswith("weight"):
                scale *= norm_lr_scale
        groups.setdefault((wd, scale), []).append(p)
    pg = [{"params": ps, "weight_decay": wd, "lr_scale": sc} for (wd, sc), ps in groups.items()]
    return torch.optim.AdamW(pg, lr=lr, betas=(0.9, 0.95), eps=1e-8)


def run(model, loss_fn: Callable[[int], "torch.Tensor"], steps: int, lr: float, *,
        warmup: int = 20, norm_lr_scale: float = 1.0, weight_decay: float = 0.05,
        lr_scale: Callable[[str], float] | None = None, clip: float = 1.0) -> list[float]:
    """Train ``model`` for ``steps`` steps; ``loss_fn(step)`` builds the batch and the loss."""
    opt = make_optimizer(model, lr, weight_decay, norm_lr_scale, lr_scale)
    params = [p for g in opt.param_groups for p in g["params"]]
    model.train()
    losses: list[float] = []
    for step in range(steps):
        s = _schedule(step, steps, min(warmup, max(1, steps // 5)))
        for g in opt.param_groups:
            g["lr"] = lr * s * g["lr_scale"]
        loss = loss_fn(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return losses


def lm_loss_fn(model, ids: "torch.Tensor", batch: int, seq: int, seed: int):
    """Next-token loss on random windows of one token stream."""
    gen = torch.Generator().manual_seed(seed)
    n = ids.numel() - seq - 1

    def fn(step: int):
        starts = torch.randint(0, n, (batch,), generator=gen)
        x = torch.stack([ids[s:s + seq] for s in starts.tolist()])
        y = torch.stack([ids[s + 1:s + seq + 1] for s in starts.tolist()])
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    return fn


@torch.no_grad()
def eval_lm(model, ids: "torch.Tensor", seq: int = 64, windows: int = 32) -> float:
    """Mean next-token loss on fixed, evenly spaced windows (deterministic)."""
    model.eval()
    n = ids.numel() - seq - 1
    starts = [int(i * n / windows) for i in range(windows)]
    x = torch.stack([ids[s:s + seq] for s in starts])
    y = torch.stack([ids[s + 1:s + seq + 1] for s in starts])
    logits = model(x)
    return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
