"""In-process backend for small llama-family decoders (torch, optional extra).

Written for the fixture zoo and small real checkpoints. A model folder holds
``config.json``, ``tokenizer.json`` (and optionally ``tokenizer_config.json``)
and weights in any format `fromscratch.artifacts.open_model` reads
(safetensors, GGUF, PyTorch zip); the forward pass is `fromscratch.bench.forward`.

By default a log-likelihood is what lm-evaluation-harness's Hugging Face
backend computes for the same (context, continuation) pair: the same tokens
(`encoding.TextCodec`), the same truncation (keep the last
``max_position_embeddings + 1`` tokens), the continuation's token
log-probabilities summed, and "greedy" when every continuation token is the
arg-max. Generation is greedy, as lm-eval's ``do_sample: false``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.artifacts.hfdir import load_json
from fromscratch.bench.backends.base import Generation, continuation_score, cut_at_stop
from fromscratch.bench.backends.encoding import TextCodec
from fromscratch.bench.forward import LlamaForward, LlamaShape, read_weights, text_config
from fromscratch.digests import tree_sha256
from fromscratch.errors import InputError, require


def model_digest(location: str | Path) -> str:
    """SHA-256 over the files that define a model (weights, config, tokenizer), by name."""
    return tree_sha256(location)


class LocalBackend:
    """Runs a small llama-family model with torch on the CPU (or a GPU if present)."""

    concurrency = 1
    #: items the runner may hand over at once (see `loglikelihood_many`)
    batch_items = 8

    def __init__(self, location: str | Path, *, batch_size: int = 16, device: str | None = None,
                 add_bos: bool | None = None, split: str = "lm-eval") -> None:
        self.torch = torch = require("torch", "torch")
        self.location = Path(location)
        if not self.location.exists():
            raise InputError(self.location, "model not found")
        root = self.location if self.location.is_dir() else self.location.parent
        cfg_path = root / "config.json"
        if not cfg_path.is_file():
            raise InputError(root, "the in-process backend needs config.json next to the weights")
        full_cfg = load_json(cfg_path, limit=16 * 1024 * 1024)
        if not isinstance(full_cfg, dict):
            raise InputError(cfg_path, "config.json must hold an object")
        cfg = text_config(full_cfg, cfg_path)
        self.shape = LlamaShape.from_config(cfg, cfg_path)
        merged = {**full_cfg, **cfg}
        self.codec = TextCodec(root, merged, add_bos=add_bos, split=split)
        self.max_len = self.shape.max_len
        self.batch_size = max(1, batch_size)
        weights = read_weights(self.location, torch)
        if sum(int(v.numel()) for v in weights.values()) < 50_000_000 and (device or "cpu") == "cpu":
            # Tiny matrices: thread start-up and contention cost far more than
            # they save (measured 6x slower with 2 threads on a busy 2-core box).
            torch.set_num_threads(1)
        self.model = LlamaForward(self.shape, weights, torch, device or "cpu")
        self._digest: str | None = None

    # -- identity -------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        if self._digest is None:
            self._digest = model_digest(self.location)
        return {"kind": "local", "model": self.location.name, "model_sha256": self._digest, **self.codec.options()}

    def close(self) -> None:
        """Nothing to release; present so every backend can be closed the same way."""

    # -- log-likelihood -------------------------------------------------------
    def _score(self, pairs: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        """Sum of continuation log-probs and greedy flag per (context ids, continuation ids)."""
        torch = self.torch
        seqs = []
        for ctx, cont in pairs:
            if not cont:
                raise InputError("continuation", "the continuation produced no tokens")
            seqs.append((ctx + cont)[-(self.max_len + 1):][:-1])
        order = sorted(range(len(seqs)), key=lambda j: (-len(seqs[j]), seqs[j]))
        out: dict[int, tuple[float, bool]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            logp = torch.log_softmax(self.model.logits([seqs[j] for j in chunk]).float(), dim=-1)
            for b, j in enumerate(chunk):
                cont, n = pairs[j][1], len(seqs[j])
                rows = logp[b, n - len(cont): n]
                idx = torch.tensor(cont, dtype=torch.long)
                total = float(rows.gather(-1, idx[:, None])[:, 0].sum())
                out[j] = (total, bool((rows.argmax(-1) == idx).all()))
        return [out[j] for j in range(len(seqs))]

    def token_logprobs(self, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: ids, each token's start (in characters), its log-probability
        given the tokens before it (None for the first) and whether it is the
        greedy choice: exactly what an OpenAI ``echo`` + ``logprobs`` answer carries."""
        out: list[dict[str, Any]] = []
        encs = [self.codec.encode(t) for t in texts]
        encs = [(ids[-self.max_len:], offs[-self.max_len:]) for ids, offs in encs]
        for start in range(0, len(encs), self.batch_size):
            chunk = encs[start:start + self.batch_size]
            logp = self.torch.log_softmax(self.model.logits([ids for ids, _ in chunk]).float(), dim=-1)
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
        length, as lm-eval does, to limit padding)."""
        flat = [(i, context, c) for i, (context, conts) in enumerate(requests) for c in conts]
        if self.codec.split == "offsets":
            rows = self.token_logprobs([ctx + c for _, ctx, c in flat])
            scores = [continuation_score(r["starts"], r["logprobs"], r["greedy"], len(ctx + c), len(ctx))
                      for r, (_, ctx, c) in zip(rows, flat)]
        else:
            scores = self._score([self.codec.pair(ctx, c) for _, ctx, c in flat])
        out: list[list[tuple[float, bool]]] = [[] for _ in requests]
        for (i, _, _), s in zip(flat, scores):
            out[i].append(s)
        return out

    # -- generation -----------------------------------------------------------
    def generate(self, prompt: str, until: list[str], max_tokens: int) -> Generation:
        """Greedy continuation, stopped at EOS, a stop string or ``max_tokens``
        (the prompt keeps its last ``max_len - max_tokens`` tokens, as in lm-eval)."""
        torch = self.torch
        keep = max(1, self.max_len - max(0, max_tokens))
        ids = self.codec.ids(prompt)[-keep:]
        new: list[int] = []
        text = ""
        for _ in range(max(0, max_tokens)):
            logits = self.model.logits([(ids + new)[-self.max_len:]])
            nxt = int(torch.argmax(logits[0, -1]))
            if nxt in self.codec.eos_ids:
                return Generation(cut_at_stop(text, until), False)
            new.append(nxt)
            text = self.codec.decode(new)
            if any(u and u in text for u in until):
                return Generation(cut_at_stop(text, until), False)
        return Generation(cut_at_stop(text, until), len(new) >= max_tokens > 0)
