"""The declared initialisation scheme, and what it says each canonical tensor must look like.

A scheme comes from the checkpoint's configuration (``initializer_range``,
the Hugging Face convention: every linear and embedding matrix
``Normal(0, initializer_range)``, biases zero, norm weights one) or from
explicit options (``--init``), which win over the configuration:

* ``family``: ``normal`` | ``uniform`` | ``truncated-normal`` | ``torch-default``
  (PyTorch's own module defaults: linear weights and biases
  ``U(+-1/sqrt(fan_in))``, embeddings ``Normal(0, 1)``);
* ``std``: the entries' standard deviation (``None``: not declared, estimated
  per tensor; the scale test is then skipped and says so);
* ``residual``: ``none`` or ``scaled`` (GPT-2 / Megatron: output projections
  of attention and MLP, roles ``o`` and ``down``, have ``std / sqrt(2 L)``);
* ``embedding_std``: a separate std for token embeddings, if declared;
* norms are constant (``norm_value``, default 1) and biases zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from fromscratch.chain.randomness import Law
from fromscratch.errors import InputError

FAMILIES = ("normal", "uniform", "truncated-normal", "torch-default")
RESIDUAL_ROLES = {"o", "down"}


@dataclass(frozen=True)
class Scheme:
    family: str = "normal"
    std: float | None = None
    residual: str = "none"
    embedding_std: float | None = None
    norm_value: float = 1.0
    truncation: float = 2.0
    layers: int | None = None
    source: str = "default"

    def describe(self) -> dict[str, Any]:
        return {"family": self.family, "std": self.std, "residual": self.residual,
                "embedding_std": self.embedding_std, "norm_value": self.norm_value,
                "layers": self.layers, "source": self.source}


@dataclass(frozen=True)
class Expectation:
    """What one tensor of a fresh initialisation must be."""

    kind: str                 # random | constant
    law: Law | None = None
    value: float | None = None
    note: str = ""


def parse_options(options: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``KEY=VALUE`` options (``family=normal std=0.02 residual=scaled embedding_std=1``) or a bare family."""
    out: dict[str, Any] = {}
    for opt in options or ():
        key, sep, value = str(opt).partition("=")
        if not sep:
            key, value = "family", key
        key = key.strip().replace("-", "_")
        try:
            if key == "family":
                if value not in FAMILIES:
                    raise ValueError(f"unknown family {value!r} (expected {', '.join(FAMILIES)})")
                out[key] = value
            elif key == "residual":
                if value not in ("none", "scaled"):
                    raise ValueError("residual must be none or scaled")
                out[key] = value
            elif key in ("std", "embedding_std", "norm_value", "truncation"):
                out[key] = None if value in ("auto", "none") and key != "norm_value" else float(value)
                if out[key] is not None and not (math.isfinite(out[key]) and (out[key] > 0 or key == "norm_value")):
                    raise ValueError(f"{key} must be a positive number")
            else:
                raise ValueError(f"unknown key {key!r} (family, std, residual, embedding_std, norm_value, truncation)")
        except ValueError as exc:
            raise InputError("--init", f"{opt}: {exc}") from None
    return out


def resolve(config: dict[str, Any] | None, options: list[str] | tuple[str, ...] | None = None) -> Scheme:
    """The scheme from the configuration, overridden by explicit options."""
    cfg = config or {}
    scheme = Scheme()
    std = cfg.get("initializer_range")
    if isinstance(std, (int, float)) and not isinstance(std, bool) and std > 0:
        scheme = replace(scheme, std=float(std), source="config initializer_range")
    layers = cfg.get("num_hidden_layers") or cfg.get("n_layer") or cfg.get("num_layers")
    if isinstance(layers, int) and layers > 0:
        scheme = replace(scheme, layers=layers)
    opts = parse_options(options)
    if opts:
        scheme = replace(scheme, **opts, source="options" if scheme.source == "default" else scheme.source + " + options")
    if scheme.residual == "scaled" and not scheme.layers:
        raise InputError("--init", "residual=scaled needs the number of layers (num_hidden_layers in the config)")
    return scheme


def _is_norm(kind: str, role: str) -> bool:
    return kind == "norm" or role.endswith("norm") or role.endswith("_norm")


def expectation(scheme: Scheme, kind: str, role: str, shape: tuple[int, ...]) -> Expectation:
    """What the scheme says one canonical tensor (component kind, role, shape) must hold."""
    bias = role.endswith(".bias") or role == "bias" or role.startswith("bias")
    if _is_norm(kind, role.removesuffix(".bias")):
        return Expectation("constant", value=0.0 if bias else scheme.norm_value, note="norm")
    fan_in = int(math.prod(shape[1:])) if len(shape) >= 2 else None
    if scheme.family == "torch-default":
        if kind == "embedding" and not bias:
            return Expectation("random", Law("normal", 1.0), note="torch nn.Embedding default")
        if fan_in:
            return Expectation("random", Law("uniform", 1.0 / math.sqrt(3 * fan_in)), note="torch kaiming-uniform")
        return Expectation("random", Law("uniform", None), note="torch default bias (fan-in unknown)")
    if bias:
        return Expectation("constant", value=0.0, note="bias")
    if len(shape) < 2:
        return Expectation("random", Law(scheme.family, scheme.std, scheme.truncation), note="learned vector")
    std = scheme.std
    note = scheme.family
    if kind == "embedding" and scheme.embedding_std is not None:
        std, note = scheme.embedding_std, "embedding std"
    elif scheme.residual == "scaled" and role in RESIDUAL_ROLES and std is not None and scheme.layers:
        std, note = std / math.sqrt(2 * scheme.layers), "scaled residual"
    return Expectation("random", Law(scheme.family, std, scheme.truncation), note=note)
