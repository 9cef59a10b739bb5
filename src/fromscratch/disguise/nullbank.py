"""A bank of independent model pairs for measuring lineage's false-positive rate.

Why its own models: the zoo's seed siblings are trained for 100 steps and stay
close to their random initialisation, where independent models look alike
only by chance; a referee must also stay silent on siblings that *converged*
-- same architecture, tokenizer, data and recipe, trained long enough that
their learned structure (and spectra) agree. These siblings use the zoo's
tokenizer, data and training loop (imported, not copied), a smaller shape so
that they can be trained on a CPU, and ten times the zoo's steps or more.
Pairs of siblings (half of them share the data order as well) are compared
plain and after disguises that preserve the function -- rotation with folded
norms, rescaling, permutations -- because a disguise applied to an
independent model must not make it look derived either.

Trained siblings are cached under ``cache_dir()/nullbank/<key>``; the key
hashes this file, the recipe, the zoo version (its data and tokenizer) and
the torch version, so nothing is reused across a change of any of them.
Training needs the ``demo`` extra (torch).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fromscratch.cache import cache_dir
from fromscratch.disguise import exact, io
from fromscratch.disguise.llama import Llama


@dataclass(frozen=True)
class Recipe:
    """One sibling recipe (shape and training); siblings differ only in their seeds."""

    hidden: int = 128
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 352
    steps: int = 1000
    lr: float = 3e-3
    batch: int = 8
    seq: int = 64


#: the benchmark's recipe: 10x the zoo's 100 seed steps
BENCH = Recipe()
#: the CI test's smaller bank (still 4x the zoo's steps)
SMALL = Recipe(hidden=96, layers=2, intermediate=256, steps=400)


def _variants() -> dict[str, Callable[[Llama, int], Llama]]:
    return {
        "plain": lambda m, s: m,
        "rotated": lambda m, s: exact.rotate(m, s),
        "rescaled": lambda m, s: exact.rescale(m, s),
        "permuted": lambda m, s: exact.permute_residual(exact.permute_units(m, s), s + 1),
        "rotated+permuted": lambda m, s: exact.permute_units(exact.rotate(m, s), s + 1),
    }


VARIANTS = tuple(_variants())


def bank_key(recipe: Recipe) -> str:
    import importlib.metadata as md

    from fromscratch.zoo import zoo_version

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps(asdict(recipe), sort_keys=True).encode())
    h.update(zoo_version().encode())
    h.update(md.version("torch").split("+")[0].encode())
    return h.hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train(zoo_root: Path, recipe: Recipe, k: int, out: Path) -> None:
    """Train sibling ``k``: init seed 7000 + k; data order seed shared by siblings 2j and 2j + 1."""
    import numpy as np

    from fromscratch.errors import require

    torch = require("torch", "demo")
    from fromscratch.zoo import export, models, train
    from fromscratch.zoo.tok import BOS, EOS

    torch.set_num_threads(1)
    cfg = models.LlamaCfg(vocab_size=1024, hidden_size=recipe.hidden, num_hidden_layers=recipe.layers,
                          num_attention_heads=recipe.heads, num_key_value_heads=recipe.kv_heads,
                          intermediate_size=recipe.intermediate, max_position_embeddings=recipe.seq * 2)
    torch.manual_seed(7000 + k)
    model = models.LlamaForCausalLM(cfg)
    data = torch.from_numpy(np.load(zoo_root / "data" / "general.npy").astype(np.int64))
    loss = train.lm_loss_fn(model, data, recipe.batch, recipe.seq, seed=7100 + k // 2)
    losses = train.run(model, loss, recipe.steps, recipe.lr)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    export.save_hf(model, tmp, cfg.hf_config(BOS, EOS), zoo_root / "tokenizers" / "A")
    (tmp / "training.json").write_text(json.dumps({"init_seed": 7000 + k, "data_seed": 7100 + k // 2,
                                                   "steps": len(losses), "loss_first": losses[0],
                                                   "loss_last": losses[-1]}, indent=1))
    tmp.replace(out)


def siblings(recipe: Recipe, n: int, *, progress: Callable[[str], None] | None = None) -> list[Path]:
    """``n`` trained seed siblings (built once, then read from the cache)."""
    from fromscratch.zoo import build_zoo

    zoo = build_zoo()
    root = cache_dir() / "nullbank" / bank_key(recipe)
    paths = []
    for k in range(n):
        out = root / f"sibling-{k}"
        if not out.exists():
            with _locked(root / f"sibling-{k}.lock"):
                if not out.exists():
                    if progress:
                        progress(f"training sibling {k} ({recipe.steps} steps)")
                    _train(zoo.root, recipe, k, out)
        paths.append(out)
    return paths


def _fingerprint_variant(path: Path, variant: str, seed: int, work: Path) -> Any:
    from fromscratch.lineage.fingerprint import build_fingerprint

    if variant == "plain":
        return build_fingerprint(path, use_cache=False)
    m = _variants()[variant](io.load(path), seed)
    out = io.save(m, work / variant)
    try:
        return build_fingerprint(out, use_cache=False)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def compare_bank(paths: list[Path], variants: tuple[str, ...] = VARIANTS, *, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every ordered pair (disguised sibling i, plain sibling j), i != j, as compare JSON + labels."""
    from fromscratch.lineage.api import compare_fingerprints
    from fromscratch.lineage.fingerprint import build_fingerprint

    refs = [build_fingerprint(p, use_cache=False) for p in paths]
    with tempfile.TemporaryDirectory(prefix="fromscratch-nullbank-") as tmp:
        for vi, variant in enumerate(variants):
            for i, p in enumerate(paths):
                if progress:
                    progress(f"{variant} sibling {i}")
                cand = refs[i] if variant == "plain" else _fingerprint_variant(p, variant, 1000 * vi + i,
                                                                               Path(tmp))
                for j, ref in enumerate(refs):
                    if i != j:
                        obj = compare_fingerprints(cand, ref, seed=seed)
                        yield {"variant": variant, "candidate": i, "reference": j,
                               "shared_data_order": i // 2 == j // 2, "compare": obj}


def upper_bound(k: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper confidence bound of a binomial rate."""
    from scipy.stats import beta

    return 1.0 if k >= n else float(beta.ppf(level, k + 1, n - k))


def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """False-positive counts over every tested non-norm component pair (and over model pairs)."""
    from fromscratch.lineage.compare import DERIVED_P

    comps = [(r["variant"], c) for r in rows for c in r["compare"]["components"]
             if c["kind"] != "norm" and c.get("p_value") is not None
             and not (c["relation"] == "inconclusive" and "evidence" not in c)]
    flagged = [(v, c) for v, c in comps if c["relation"] in ("identical", "derived")]
    models_flagged = [r for r in rows if r["compare"]["verdict"] in ("identical", "derived")]
    by_variant = {}
    for v in dict.fromkeys(r["variant"] for r in rows):
        vc = [c for w, c in comps if w == v]
        by_variant[v] = {"component_pairs": len(vc), "flagged": sum(c["relation"] in ("identical", "derived")
                                                                   for c in vc),
                         "min_p": min((float(c["p_value"]) for c in vc), default=None)}
    n, k = len(comps), len(flagged)
    ps = sorted(float(c["p_value"]) for _, c in comps)
    return {"threshold": DERIVED_P, "component_pairs": n, "flagged": k, "fpr": k / n if n else None,
            "fpr_upper_95": upper_bound(k, n) if n else None,
            "model_pairs": len(rows), "model_pairs_flagged": len(models_flagged),
            "min_p": ps[0] if ps else None,
            "share_p_below_1e-3": sum(p < 1e-3 for p in ps) / n if n else None,
            "share_p_below_0.01": sum(p < 0.01 for p in ps) / n if n else None,
            "by_variant": by_variant,
            "flagged_examples": [{"variant": v, "component": c["name"], "p_value": c["p_value"]}
                                 for v, c in flagged[:20]]}
