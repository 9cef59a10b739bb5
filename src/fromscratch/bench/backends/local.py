"""In-process backend for small llama-family decoders (torch, optional extra).

Written for the fixture zoo and for small real checkpoints: the weights are read
by name (Hugging Face ``LlamaForCausalLM`` naming, also when nested under a
multimodal wrapper's ``language_model``), or through `fromscratch.artifacts`
for formats we cannot map by name (GGUF). The forward pass is a plain
re-statement of the llama architecture (RMSNorm, rotary positions, grouped
query attention, SwiGLU MLP), so no model code from a submission is ever run
and transformers is not needed.

Log-likelihoods are computed on the tokenisation of the *whole* text
``context + continuation``; the continuation is every token that ends after the
context. An OpenAI-compatible server with ``echo`` + ``logprobs`` does exactly
the same, so both backends give the same numbers for the same model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fromscratch.digests import tree_sha256
from fromscratch.errors import InputError, require

_LLAMA_TYPES = {"llama", "mistral", "qwen2", "qwen3", "smollm", "granite", "olmo"}


def _find_text_config(cfg: dict[str, Any]) -> dict[str, Any]:
    if "hidden_size" in cfg and "num_hidden_layers" in cfg:
        return cfg
    for key in ("text_config", "language_config", "llm_config"):
        sub = cfg.get(key)
        if isinstance(sub, dict) and "hidden_size" in sub:
            return sub
    raise InputError("config.json", "no llama-style text config (hidden_size, num_hidden_layers)")


def _safetensors_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix == ".safetensors" else []
    index = root / "model.safetensors.index.json"
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (ValueError, KeyError, TypeError):
            raise InputError(index, "bad safetensors index") from None
        return [root / n for n in names]
    return sorted(root.glob("*.safetensors"))


def model_digest(location: str | Path) -> str:
    """SHA-256 over the files that define a model (weights, config, tokenizer), by name.

    The round's input digest (`fromscratch.digests.tree_sha256`): links to files
    are followed (hub snapshots), ``__pycache__`` is left out.
    """
    return tree_sha256(location)


class _Weights:
    """Llama weights as float32 torch tensors, keyed by short role names."""

    def __init__(self, location: Path, torch: Any) -> None:
        self.t: dict[str, Any] = {}
        files = _safetensors_files(location)
        if files:
            self._from_safetensors(files, torch)
        else:
            self._from_artifacts(location, torch)

    def _from_safetensors(self, files: list[Path], torch: Any) -> None:
        from safetensors import safe_open

        handles = []
        names: dict[str, Any] = {}
        try:
            for f in files:
                h = safe_open(str(f), framework="np")
                handles.append(h)
                for n in h.keys():
                    names[n] = h
        except Exception as exc:  # safetensors raises several types for corrupt headers
            raise InputError(files[0], f"unreadable safetensors: {exc}") from None
        prefix = None
        for n in sorted(names, key=len):
            if n.endswith("embed_tokens.weight") and "vision" not in n and "audio" not in n:
                prefix = n[: -len("embed_tokens.weight")]
                break
        if prefix is None:
            raise InputError(files[0], "no embed_tokens.weight: not a llama-style decoder")
        lm_prefix = prefix[: -len("model.")] if prefix.endswith("model.") else ""

        def get(name: str) -> Any:
            arr = names[name].get_tensor(name)
            return torch.from_numpy(np.asarray(arr, dtype=np.float32).copy())

        for full in names:
            if not full.startswith(prefix):
                continue
            self.t[full[len(prefix):]] = get(full)
        for cand in (lm_prefix + "lm_head.weight", "lm_head.weight"):
            if cand in names:
                self.t["lm_head.weight"] = get(cand)
                break

    def _from_artifacts(self, location: Path, torch: Any) -> None:
        """Formats without HF names (GGUF ...): read canonical components."""
        try:
            from fromscratch.artifacts import open_model
        except ImportError:
            raise InputError(location, "no safetensors weights found and the model readers are not available") from None
        roles = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
                 "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj",
                 "attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm"}
        with open_model(location) as model:
            for comp in model.components():
                for ct in comp.tensors:
                    arr = torch.from_numpy(np.asarray(model.load(ct), dtype=np.float32).copy())
                    role, _, bias = ct.role.partition(".")
                    suffix = ".bias" if bias == "bias" else ".weight"
                    if comp.name == "embed_tokens":
                        self.t["embed_tokens.weight"] = arr
                    elif comp.name == "lm_head":
                        self.t["lm_head.weight"] = arr
                    elif comp.name == "norm":
                        self.t["norm.weight"] = arr
                    elif comp.layer is not None and role in roles and not comp.name.startswith(("vision.", "audio.")):
                        self.t[f"layers.{comp.layer}.{roles[role]}{suffix}"] = arr


class LocalBackend:
    """Runs a small llama-family model with torch on the CPU (or a GPU if present)."""

    concurrency = 1
    #: items the runner may hand over at once (see `loglikelihood_many`)
    batch_items = 8

    def __init__(self, location: str | Path, *, batch_size: int = 16, device: str | None = None) -> None:
        self.torch = torch = require("torch", "torch")
        tokenizers = require("tokenizers", "tokenizers")
        self.location = Path(location)
        if not self.location.exists():
            raise InputError(self.location, "model not found")
        root = self.location if self.location.is_dir() else self.location.parent
        cfg_path = root / "config.json"
        if not cfg_path.is_file():
            raise InputError(root, "the local backend needs config.json next to the weights")
        try:
            full_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(cfg_path, f"bad JSON: {exc}") from None
        cfg = _find_text_config(full_cfg)
        mtype = str(cfg.get("model_type", "llama"))
        if mtype not in _LLAMA_TYPES:
            raise InputError(cfg_path, f"model_type {mtype!r}: the local backend runs llama-family decoders only")
        tok_path = root / "tokenizer.json"
        if not tok_path.is_file():
            raise InputError(root, "the local backend needs tokenizer.json")
        try:
            self.tok = tokenizers.Tokenizer.from_file(str(tok_path))
        except Exception as exc:  # tokenizers raises plain Exception on bad files
            raise InputError(tok_path, f"unreadable tokenizer: {exc}") from None
        self.cfg = cfg
        self.n_layers = int(cfg["num_hidden_layers"])
        self.n_heads = int(cfg["num_attention_heads"])
        self.n_kv = int(cfg.get("num_key_value_heads") or self.n_heads)
        self.hidden = int(cfg["hidden_size"])
        self.head_dim = int(cfg.get("head_dim") or self.hidden // self.n_heads)
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.theta = float(cfg.get("rope_theta", 10000.0))
        self.max_len = int(cfg.get("max_position_embeddings", 2048))
        eos = cfg.get("eos_token_id", full_cfg.get("eos_token_id"))
        self.eos = set(eos if isinstance(eos, list) else ([eos] if eos is not None else []))
        self.bos = cfg.get("bos_token_id", full_cfg.get("bos_token_id"))
        self.batch_size = max(1, batch_size)
        self.device = device or "cpu"
        self.w = _Weights(self.location, torch).t
        if "lm_head.weight" not in self.w:
            self.w["lm_head.weight"] = self.w["embed_tokens.weight"]  # tied embeddings
        for n in ("embed_tokens.weight", "norm.weight"):
            if n not in self.w:
                raise InputError(self.location, f"missing tensor {n}")
        for k in list(self.w):
            self.w[k] = self.w[k].to(self.device)
        if sum(int(v.numel()) for v in self.w.values()) < 50_000_000 and self.device == "cpu":
            # Tiny matrices: thread start-up and contention cost far more than
            # they save (measured 6x slower with 2 threads on a busy 2-core box).
            torch.set_num_threads(1)
        self._digest: str | None = None
        inv = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self.inv_freq = inv.to(self.device)

    # -- identity -------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        if self._digest is None:
            self._digest = model_digest(self.location)
        return {"kind": "local", "model": self.location.name, "model_sha256": self._digest}

    # -- tokenisation ---------------------------------------------------------
    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self.tok.encode(text, add_special_tokens=False)
        ids, offs = list(enc.ids), [tuple(o) for o in enc.offsets]
        if self.bos is not None and (not ids or ids[0] != self.bos):
            ids, offs = [int(self.bos)] + ids, [(0, 0)] + offs
        if len(ids) > self.max_len:  # keep the end: the continuation must be scored
            ids, offs = ids[-self.max_len:], offs[-self.max_len:]
        return ids, offs

    # -- forward --------------------------------------------------------------
    def _rms(self, x: Any, w: Any) -> Any:
        torch = self.torch
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def _lin(self, x: Any, name: str) -> Any:
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def _rot(self, x: Any) -> Any:
        half = x.shape[-1] // 2
        return self.torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def logits(self, batch: list[list[int]]) -> Any:
        """Logits (B, T, V) for right-padded sequences (padding never affects
        earlier positions under causal attention)."""
        torch = self.torch
        T = max(len(s) for s in batch)
        ids = torch.zeros((len(batch), T), dtype=torch.long, device=self.device)
        for i, s in enumerate(batch):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        with torch.no_grad():
            return self.forward(ids)

    def forward(self, ids: Any) -> Any:
        """The llama forward pass on a (B, T) id tensor; differentiable (tests train
        tiny models through it)."""
        torch = self.torch
        F = torch.nn.functional
        B, T = ids.shape
        x = F.embedding(ids, self.w["embed_tokens.weight"])
        pos = torch.arange(T, device=self.device, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        for li in range(self.n_layers):
            p = f"layers.{li}."
            h = self._rms(x, self.w[p + "input_layernorm.weight"])
            q = self._lin(h, p + "self_attn.q_proj").view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
            k = self._lin(h, p + "self_attn.k_proj").view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            v = self._lin(h, p + "self_attn.v_proj").view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            if p + "self_attn.q_norm.weight" in self.w:  # qwen3-style per-head norms
                q = self._rms(q, self.w[p + "self_attn.q_norm.weight"])
                k = self._rms(k, self.w[p + "self_attn.k_norm.weight"])
            q = q * cos + self._rot(q) * sin
            k = k * cos + self._rot(k) * sin
            if self.n_kv != self.n_heads:
                rep = self.n_heads // self.n_kv
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            a = a.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)
            x = x + self._lin(a, p + "self_attn.o_proj")
            h = self._rms(x, self.w[p + "post_attention_layernorm.weight"])
            m = F.silu(self._lin(h, p + "mlp.gate_proj")) * self._lin(h, p + "mlp.up_proj")
            x = x + self._lin(m, p + "mlp.down_proj")
        x = self._rms(x, self.w["norm.weight"])
        return x @ self.w["lm_head.weight"].T

    def token_logprobs(self, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: token ids, each token's start (in characters), its
        log-probability given the tokens before it (None for the first) and
        whether it is the greedy choice there. This is exactly what an OpenAI
        ``echo`` + ``logprobs`` answer carries (tokens, text_offset,
        token_logprobs, top_logprobs)."""
        out: list[dict[str, Any]] = []
        encs = [self.encode(t) for t in texts]
        for start in range(0, len(encs), self.batch_size):
            chunk = encs[start:start + self.batch_size]
            logits = self.logits([ids for ids, _ in chunk])
            logp = self.torch.log_softmax(logits.float(), dim=-1)
            for b, (ids, offs) in enumerate(chunk):
                n = len(ids)
                idx = self.torch.tensor(ids[1:], dtype=self.torch.long)
                lp = logp[b, : n - 1].gather(-1, idx[:, None])[:, 0].tolist() if n > 1 else []
                top = logp[b, : n - 1].argmax(-1).tolist() if n > 1 else []
                out.append({"ids": ids, "starts": [int(o[0]) for o in offs],
                            "logprobs": [None] + [float(v) for v in lp],
                            "greedy": [None] + [bool(t == i) for t, i in zip(top, ids[1:])]})
        return out

    def loglikelihood(self, context: str, continuations: list[str]) -> list[tuple[float, bool]]:
        return self.loglikelihood_many([(context, continuations)])[0]

    def loglikelihood_many(self, requests: list[tuple[str, list[str]]]) -> list[list[tuple[float, bool]]]:
        """Several items in one go: their sequences share forward batches (sorted by
        length to limit padding), which is several times faster for small models."""
        flat = [(i, context, context + c) for i, (context, conts) in enumerate(requests) for c in conts]
        order = sorted(range(len(flat)), key=lambda j: len(flat[j][2]))
        rows = self.token_logprobs([flat[j][2] for j in order])
        scores: dict[int, tuple[float, bool]] = {}
        for j, r in zip(order, rows):
            _, context, text = flat[j]
            scores[j] = continuation_score(r["starts"], r["logprobs"], r["greedy"], len(text), len(context))
        out: list[list[tuple[float, bool]]] = [[] for _ in requests]
        for j, (i, _, _) in enumerate(flat):
            out[i].append(scores[j])
        return out

    def generate(self, prompt: str, until: list[str], max_tokens: int) -> str:
        torch = self.torch
        ids, _ = self.encode(prompt)
        new: list[int] = []
        text = ""
        for _ in range(max(0, max_tokens)):
            logits = self.logits([(ids + new)[-self.max_len:]])
            nxt = int(torch.argmax(logits[0, -1]))
            if nxt in self.eos:
                break
            new.append(nxt)
            text = self.tok.decode(new, skip_special_tokens=True)
            if any(u and u in text for u in until):
                break
        return cut_at_stop(text, until)


def cut_at_stop(text: str, until: list[str]) -> str:
    """The text up to the earliest stop string."""
    cut = len(text)
    for u in until:
        if u:
            i = text.find(u)
            if i >= 0:
                cut = min(cut, i)
    return text[:cut]


def continuation_score(starts: list[int], logprobs: list[float | None], greedy: list[bool | None],
                       text_chars: int, context_chars: int) -> tuple[float, bool]:
    """Sum the log-probabilities of the continuation's tokens.

    A token belongs to the continuation when it starts inside it, or starts in
    the context but runs past its end (the next token's start, or the text's
    end, lies beyond the context). Only starts are used, because that is all an
    OpenAI answer reports (``text_offset``); both backends share this rule.
    """
    total, is_greedy, n = 0.0, True, 0
    for i, s in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else text_chars
        if s >= context_chars or nxt > context_chars:
            lp = logprobs[i]
            if lp is None:
                continue
            total += lp
            n += 1
            is_greedy = is_greedy and bool(greedy[i])
    if n == 0:
        raise InputError("continuation", "the continuation produced no scorable tokens")
    return total, is_greedy
