"""A bank of independent model pairs for measuring lineage's false-positive rate.

Why its own models: the zoo's seed siblings are trained for 100 steps and stay
close to their random initialisation, where independent models look alike
only by chance; a referee must also stay silent on siblings that *converged*
-- same architecture, tokenizer, data and recipe, trained long enough that
their learned structure (and spectra) agree. These siblings use the zoo's
tokenizer, data and training loop (imported, not copied), a smaller shape so
that they can be trained on a CPU, and ten times the zoo's steps or more.
Half of the siblings share their data order with another.

Trained siblings are cached under ``cache_dir()/nullbank/<key>``; the key
hashes the training function, the recipe, the bytes of the token data and
tokenizer and the torch version, so nothing is reused across a change of any
of them (and a zoo rebuild that leaves the data alone retrains nothing). The comparisons and counts are in ``fromscratch.disguise.fpr``.
Training needs the ``demo`` extra (torch).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from fromscratch.cache import cache_dir, file_lock


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


def material() -> Path:
    """The zoo's token data and tokenizer A: from a built zoo if there is one, else made here.

    Only ``zoo.build.prepare`` runs (corpus, tokenizers, token streams: seconds),
    never the zoo's model training.
    """
    from fromscratch.zoo import find_zoo, zoo_version

    zoo = find_zoo()
    if zoo is not None and (zoo.root / "data" / "general.npy").exists():
        return zoo.root
    out = cache_dir() / "nullbank" / f"material-{zoo_version()}"
    if not (out / "data" / "general.npy").exists():
        from fromscratch.zoo.build import prepare

        with file_lock(out.with_name(out.name + ".lock")):
            if not (out / "data" / "general.npy").exists():
                prepare(out)
    return out


def bank_key(recipe: Recipe, root: Path | None = None) -> str:
    """Cache key: the training code, the recipe, the bytes of the data and tokenizer, torch's version."""
    import importlib.metadata as md

    root = material() if root is None else root
    h = hashlib.sha256(inspect.getsource(_train).encode())
    h.update(json.dumps(asdict(recipe), sort_keys=True).encode())
    for rel in ("data/general.npy", "tokenizers/A/tokenizer.json", "tokenizers/A/tokenizer_config.json"):
        h.update(hashlib.sha256((root / rel).read_bytes()).digest())
    h.update(md.version("torch").split("+")[0].encode())
    return h.hexdigest()[:12]


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


def siblings(recipe: Recipe, n: int, *, progress: Callable[[str], None] | None = None,
             root: Path | None = None) -> list[Path]:
    """``n`` trained seed siblings (built once, then read from the cache); ``root``: a zoo folder
    whose data and tokenizer to use instead of ``material()``."""
    src = material() if root is None else Path(root)
    root = cache_dir() / "nullbank" / bank_key(recipe, src)
    paths = []
    for k in range(n):
        out = root / f"sibling-{k}"
        if not out.exists():
            with file_lock(root / f"sibling-{k}.lock"):
                if not out.exists():
                    if progress:
                        progress(f"training sibling {k} ({recipe.steps} steps)")
                    _train(src, recipe, k, out)
        paths.append(out)
    return paths


def cached_siblings(recipe: Recipe, material_root: Path | None = None) -> list[Path]:
    """The siblings of ``recipe`` already trained (by index), training nothing."""
    root = cache_dir() / "nullbank" / bank_key(recipe, material_root)
    found = [p for p in root.glob("sibling-*") if p.is_dir() and (p / "training.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))
