"""A fixture zoo of tiny, really trained models with known lineage.

``build_zoo()`` trains (once, cached under ``cache_dir()/zoo/<version>``) tiny
llama-style and BERT-style transformers on built-in text, derives the kinds of
reused models an audit must catch (fine-tuning, long continued pre-training,
permutation, pruning, depth up-scaling, vocabulary extension, width pruning,
MoE upcycling, GGUF and PyTorch copies, a transplanted vision tower), and
records the ground truth in ``catalogue.json``. Importing this package does not
import torch; building needs the ``demo`` extra.
"""

from __future__ import annotations

from fromscratch.zoo.catalogue import Zoo, ZooEntry, cache_dir

__all__ = ["Zoo", "ZooEntry", "build_zoo", "cache_dir", "find_zoo", "zoo_version"]


def build_zoo(progress: bool = False, **kwargs) -> Zoo:
    """Build the zoo if needed and return it (see ``fromscratch.zoo.build.build_zoo``)."""
    from fromscratch.zoo.build import build_zoo as _build

    return _build(progress=progress, **kwargs)


def find_zoo() -> Zoo | None:
    """The cached zoo, or None if it has not been built (never trains anything)."""
    from fromscratch.zoo.build import find_zoo as _find

    return _find()


def zoo_version() -> str:
    from fromscratch.zoo.build import zoo_version as _v

    return _v()
