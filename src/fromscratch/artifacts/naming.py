"""What every tensor-naming family shares: the assignment of one name and the facts about
the whole checkpoint that change how single names map.

`canonical.build_components` asks one of `naming_hf`, `naming_gguf` or `naming_ct2`
for an `Assign` per stored name; these are the types they return and take.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Assign:
    component: str
    kind: str
    layer: int | None
    role: str
    expert: int | None = None
    learned: bool = True
    split: str | None = None  # "qkv" | "gate_up" | "kv" : fused tensor to slice


@dataclass
class NamingContext:
    """Facts about the whole checkpoint that change how single names map."""

    config: dict[str, Any]
    model_type: str = ""
    sandwich_norms: bool = False  # gemma2/3: post_attention_layernorm is a post-norm
    audio_encoder: bool = False  # whisper-style: "encoder." is the audio tower
    glm: bool = False
    enc_dec: bool = False  # a text encoder-decoder (T5, BART, Marian): encoder side gets "encoder."
    projector_modules: dict[str, int] = field(default_factory=dict)


def bias_suffix(param: str) -> str:
    return ".bias" if param in {"bias", "beta"} else ""


def layer_role(role: str) -> tuple[str, str | None, bool]:
    """(role, split, learned) of a layer rule's role, its markers decoded: `X:split` is a fused tensor that
    the lineage stage splits by rows into X's parts, `rotary:nonlearned` a rotary table nobody trains."""
    if role.endswith(":split"):
        return role[:-6], role[:-6], True
    if role == "rotary:nonlearned":
        return "rotary", None, False
    return role, None, True


def split_param(rest: str) -> tuple[str, str]:
    if "." in rest:
        mod, param = rest.rsplit(".", 1)
        return mod, param
    return "", rest


def naming_context(names: Iterable[str], config: dict[str, Any] | None) -> NamingContext:
    names = list(names)
    cfg = dict(config or {})
    text_cfg = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else None
    mt = str(cfg.get("model_type", "") or (text_cfg or {}).get("model_type", "")).lower()
    ctx = NamingContext(config=cfg, model_type=mt)
    for n in names:
        if "pre_feedforward_layernorm" in n or ".post_feedforward_layernorm" in n:
            ctx.sandwich_norms = True
        if re.search(r"(^|[./])encoder[./]conv1[./]", n):
            ctx.audio_encoder = True
    ctx.glm = mt in {"chatglm", "glm"}
    name_list = list(names)
    has_enc = any(re.search(r"(^|\.)encoder\.(layers|layer|block)\.\d", n) for n in name_list)
    has_dec = any(re.search(r"(^|\.)decoder\.(layers|layer|block)\.\d", n) for n in name_list)
    ctx.enc_dec = has_enc and has_dec and not ctx.audio_encoder and not ctx.glm
    if mt.startswith("gemma2") or mt.startswith("gemma3"):
        ctx.sandwich_norms = True
    return ctx
