"""Attention shapes (heads, KV heads, head dimension) per tower, read from a model's configuration.

The multi-view test (``views``) links a query row to the key row of its KV head
and a value row to the output columns it feeds; that needs the head layout,
which the weight shapes alone do not fix under grouped-query attention.
"""

from __future__ import annotations

from typing import Any


def attention_shapes(config: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """tower -> {"heads", "kv_heads", "head_dim"} from a model's configuration, where it says so."""
    out: dict[str, dict[str, int]] = {}
    config = config or {}
    for tower, cfg in (("text", config.get("text_config") or config), ("vision", config.get("vision_config")),
                       ("audio", config.get("audio_config"))):
        if not isinstance(cfg, dict):
            continue
        heads = cfg.get("num_attention_heads") or cfg.get("n_head") or cfg.get("num_heads")
        hidden = cfg.get("hidden_size") or cfg.get("n_embd") or cfg.get("d_model")
        try:
            heads = int(heads[0] if isinstance(heads, list) else heads)
            kv = cfg.get("num_key_value_heads") or heads
            kv = int(kv[0] if isinstance(kv, list) else kv)
            hd = int(cfg.get("head_dim") or (int(hidden) // heads))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if heads > 0 and kv > 0 and hd > 0 and heads % kv == 0:
            out[tower] = {"heads": heads, "kv_heads": kv, "head_dim": hd}
    return out
