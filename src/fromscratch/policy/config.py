"""Architecture hyper-parameters compared with the references': weak evidence only.

Independent teams routinely pick the same published shapes (a Llama-like
block at 4096 wide, 32 layers, 32000 tokens), and a team that copies weights
may change nothing in the configuration or may re-shape it. So an exact
match is reported, with which matching values are *uncommon* (not in a short
list of widely used values) because an uncommon exact combination is more
telling than a common one, but the audit never decides on it: config
evidence is attached to verdicts as supporting material and cannot change one.
"""

from __future__ import annotations

from typing import Any

#: hyper-parameters that define a transformer's shape and numerics
KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
        "intermediate_size", "head_dim", "vocab_size", "max_position_embeddings", "rope_theta",
        "rms_norm_eps", "layer_norm_eps", "hidden_act", "tie_word_embeddings", "sliding_window",
        "num_experts", "num_local_experts", "num_experts_per_tok", "type_vocab_size", "patch_size",
        "image_size", "num_mel_bins")

#: values so widely used that matching them says little
COMMON: dict[str, set[Any]] = {
    "hidden_size": {256, 384, 512, 576, 640, 768, 896, 1024, 1280, 1536, 2048, 2560, 3072, 3584, 4096, 5120,
                    6144, 8192},
    "num_hidden_layers": {2, 4, 6, 8, 12, 16, 18, 22, 24, 26, 28, 30, 32, 36, 40, 48, 60, 64, 80},
    "num_attention_heads": {4, 6, 8, 9, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64},
    "num_key_value_heads": {1, 2, 3, 4, 8, 16, 32},
    "head_dim": {32, 64, 80, 96, 128, 256},
    "vocab_size": {30522, 32000, 32768, 49152, 50257, 50304, 65536, 100352, 128256, 151936, 250002, 256000,
                   262144},
    "max_position_embeddings": {512, 1024, 2048, 4096, 8192, 16384, 32768, 40960, 65536, 131072},
    "rope_theta": {10000, 10000.0, 100000.0, 500000.0, 1000000.0, 1e6},
    "rms_norm_eps": {1e-5, 1e-6},
    "layer_norm_eps": {1e-5, 1e-6, 1e-12},
    "hidden_act": {"silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "swiglu"},
    "tie_word_embeddings": {True, False},
    "type_vocab_size": {1, 2},
    "model_type": {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "bert", "gpt2", "phi3"},
}


def flatten_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """Shape keys of a config, with multimodal sub-configs prefixed (``vision.hidden_size``)."""
    if not isinstance(config, dict):
        return {}
    out: dict[str, Any] = {}
    for key in KEYS:
        if key in config and isinstance(config[key], (int, float, str, bool)):
            out[key] = config[key]
    for sub, prefix in (("text_config", ""), ("vision_config", "vision."), ("audio_config", "audio."),
                        ("encoder", "audio.")):
        nested = config.get(sub)
        if isinstance(nested, dict):
            for key in KEYS:
                if key in nested and isinstance(nested[key], (int, float, str, bool)):
                    out.setdefault(prefix + key, nested[key])
    return out


def _common(key: str, value: Any) -> bool:
    return value in COMMON.get(key.split(".")[-1], set())


def compare_configs(candidate: dict[str, Any] | None, reference: dict[str, Any] | None) -> dict[str, Any]:
    cand, ref = flatten_config(candidate), flatten_config(reference)
    shared = sorted(set(cand) & set(ref))
    matched = [k for k in shared if cand[k] == ref[k]]
    differing = {k: [cand[k], ref[k]] for k in shared if cand[k] != ref[k]}
    uncommon = [k for k in matched if not _common(k, cand[k])]
    exact = bool(shared) and not differing and len(shared) >= 5
    if not shared:
        strength = "none"
    elif exact and uncommon:
        strength = "weak"
    elif exact or len(matched) >= max(1, int(0.8 * len(shared))):
        strength = "very weak"
    else:
        strength = "none"
    return {
        "compared_keys": len(shared),
        "matched": {k: cand[k] for k in matched},
        "differing": differing,
        "uncommon_matches": uncommon,
        "exact_match": exact,
        "strength": strength,
        "note": "configuration similarity is reported as weak evidence and never decides a verdict",
    }


def config_section(candidate: dict[str, Any] | None, references: list[tuple[str, dict[str, Any] | None]]
                   ) -> dict[str, Any]:
    return {
        "candidate": flatten_config(candidate) or None,
        "references": [{"reference": label, **compare_configs(candidate, cfg)} for label, cfg in references],
    }
