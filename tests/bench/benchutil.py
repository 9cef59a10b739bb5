"""Test utilities: a tiny llama trained for real, and a local OpenAI-compatible server.

The tiny model (two layers, 64 wide, byte-level BPE of 384 tokens) is trained
for a few hundred steps on the built-in packs' texts, written as a Hugging Face
``LlamaForCausalLM`` folder (safetensors + config.json + tokenizer.json) and
cached, so the in-process backend and the HTTP server serve a real model with
non-trivial, different log-likelihoods for different answers.

`OpenAIServer` serves ``/v1/completions`` (echo + logprobs, and plain
generation with stop strings) and ``/v1/chat/completions`` from the in-process
backend, using only the standard library's http.server on 127.0.0.1 and a
random port: the fast protocol check of the default run. The real checks use
`LlamaCppServer` (llama.cpp's server from ``llama-cpp-python[server]``) and
`FaultProxy`, which injects overload and breakage in front of it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TINY_VERSION = "tiny-llama-v5"


def cache_root() -> Path:
    try:
        from fromscratch.zoo import cache_dir  # type: ignore[attr-defined]

        return Path(cache_dir())
    except ImportError:
        return Path(os.environ.get("FROMSCRATCH_CACHE", Path.home() / ".cache" / "fromscratch"))


def _corpus() -> list[str]:
    from fromscratch.bench import resolve_task
    from fromscratch.bench.packs import list_packs

    texts = []
    for name in list_packs():
        task = resolve_task(name)
        for it in task.items:
            if it.request.kind == "loglikelihood":
                texts.append(it.request.context + " " + it.target)
            else:
                texts.append(it.request.context + " " + it.target + "\n")
    return texts


def tiny_llama(seed: int = 0, steps: int = 150) -> Path:
    """A trained tiny llama folder (cached by seed and steps)."""
    out = cache_root() / "test-models" / f"{TINY_VERSION}-s{seed}-n{steps}"
    if (out / "model.safetensors").is_file():
        return out
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # tiny matrices: threads only add contention
    texts = _corpus()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=384, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    V, H, L, NH, KV, I = tok.get_vocab_size(), 64, 2, 4, 2, 128
    hd = H // NH
    g = torch.Generator().manual_seed(seed)

    def init(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=g) * 0.02).requires_grad_()

    w: dict[str, torch.Tensor] = {"embed_tokens.weight": init(V, H), "norm.weight": torch.ones(H, requires_grad=True),
                                  "lm_head.weight": init(V, H)}
    for i in range(L):
        p = f"layers.{i}."
        w[p + "self_attn.q_proj.weight"] = init(NH * hd, H)
        w[p + "self_attn.k_proj.weight"] = init(KV * hd, H)
        w[p + "self_attn.v_proj.weight"] = init(KV * hd, H)
        w[p + "self_attn.o_proj.weight"] = init(H, NH * hd)
        w[p + "mlp.gate_proj.weight"] = init(I, H)
        w[p + "mlp.up_proj.weight"] = init(I, H)
        w[p + "mlp.down_proj.weight"] = init(H, I)
        w[p + "input_layernorm.weight"] = torch.ones(H, requires_grad=True)
        w[p + "post_attention_layernorm.weight"] = torch.ones(H, requires_grad=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
           "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH,
           "num_key_value_heads": KV, "vocab_size": V, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "max_position_embeddings": 256, "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": False}
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2))
    tok.save(str(tmp / "tokenizer.json"))

    from fromscratch.bench.forward import LlamaForward, LlamaShape

    model = LlamaForward(LlamaShape.from_config(cfg, "tiny"), w, torch)
    model.w = w  # train the very tensors that are saved
    seqs = [[0] + tok.encode(t).ids + [1] for t in texts]
    seqs = [s[:64] for s in seqs]
    opt = torch.optim.AdamW(list(w.values()), lr=1e-2, weight_decay=0.0)
    rng = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        idx = torch.randint(0, len(seqs), (8,), generator=rng).tolist()
        batch = [seqs[i] for i in idx]
        T = max(len(s) for s in batch)
        ids = torch.full((8, T), 1, dtype=torch.long)
        mask = torch.zeros((8, T), dtype=torch.bool)
        for b, s in enumerate(batch):
            ids[b, : len(s)] = torch.tensor(s)
            mask[b, 1: len(s)] = True
        logits = model.forward(ids)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1),
                                                 reduction="none")
        loss = (loss * mask[:, 1:].reshape(-1)).sum() / mask[:, 1:].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_file({k: v.detach().contiguous() for k, v in ((("model." + k) if k != "lm_head.weight" else k, v)
                                                        for k, v in w.items())}, str(tmp / "model.safetensors"))
    (tmp / "train-loss.txt").write_text(f"{float(loss.detach()):.4f}\n")
    try:
        tmp.rename(out)
    except OSError:  # another process won the race
        pass
    return out


class _Handler(BaseHTTPRequestHandler):
    server: "OpenAIServer"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with srv.lock:
            srv.requests += 1
            fail = srv.requests <= srv.fail_first
        if fail:
            self._send(503, {"error": "warming up"})
            return
        be = srv.backend
        if self.path == "/v1/completions":
            prompt = body["prompt"]
            if body.get("echo"):
                with srv.lock:
                    row = be.token_logprobs([prompt])[0]
                ids, starts = row["ids"], row["starts"]
                toks = []
                for i, s in enumerate(starts):
                    e = starts[i + 1] if i + 1 < len(starts) else len(prompt)
                    toks.append(prompt[s:e] if i or s != e else "<s>")
                tops = [None] + [{toks[i]: row["logprobs"][i]} if row["greedy"][i] else
                                 {"<other>": 0.0} for i in range(1, len(ids))]
                logprobs = {"tokens": toks + ["<next>"], "text_offset": starts + [len(prompt)],
                            "token_logprobs": row["logprobs"] + [-1.0], "top_logprobs": tops + [None]}
                self._send(200, {"choices": [{"text": prompt, "logprobs": logprobs}]})
                return
            with srv.lock:
                gen = be.generate(prompt, body.get("stop") or [], int(body.get("max_tokens", 16)))
            self._send(200, {"choices": [{"text": gen.text, "finish_reason": "length" if gen.cut else "stop"}]})
            return
        if self.path == "/v1/chat/completions":
            prompt = body["messages"][-1]["content"]  # a base model: no chat template
            with srv.lock:
                gen = be.generate(prompt, body.get("stop") or [], int(body.get("max_tokens", 16)))
            self._send(200, {"choices": [{"message": {"role": "assistant", "content": gen.text},
                                          "finish_reason": "length" if gen.cut else "stop"}]})
            return
        self._send(404, {"error": "unknown path"})


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: Any, fail_first: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.backend = backend
        self.fail_first = fail_first
        self.requests = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "OpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()


SMOLLM2_HF_VERSION = "smollm2-135m-instruct-f32-v1"


def smollm2_hf(gguf: Path) -> Path:
    """SmolLM2-135M-Instruct as a float32 Hugging Face folder, converted from the
    registry's GGUF by transformers' own GGUF loader (dequantised), cached.

    Both lm-eval's HF backend and ours then read the very same weights and
    tokenizer.json, so any difference is in how each computes, not in what."""
    out = cache_root() / "test-models" / SMOLLM2_HF_VERSION
    if (out / "model.safetensors").is_file():
        return out
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    tied = bool(model.config.tie_word_embeddings)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not (tied and k == "lm_head.weight")}
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True), encoding="utf-8")
    tok.save_pretrained(str(tmp))
    try:
        tmp.rename(out)
    except OSError:  # another process won the race
        pass
    return out


class LlamaCppServer:
    """llama.cpp's OpenAI-compatible server (the ``llama-cpp-python[server]`` package) on a
    free local port, serving one GGUF. Started as a subprocess, stopped on exit."""

    def __init__(self, gguf: Path, *, n_ctx: int = 2048, threads: int = 1) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                    "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
                    "--n_threads_batch", str(threads), "--seed", "0", "--verbose", "False"]
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "LlamaCppServer":
        import subprocess
        import time

        import httpx

        self.log = open(os.devnull, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/models", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("llama.cpp server did not come up in 300 s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except Exception:  # noqa: BLE001 - last resort
                self.proc.kill()
        self.log.close()


class FaultProxy(ThreadingHTTPServer):
    """Forwards to a real server, and on request answers as overloaded or broken
    servers and load balancers do: 503/429 with Retry-After, 4xx, a truncated body,
    or a stall. What reaches the client otherwise is the real server's answer."""

    daemon_threads = True

    def __init__(self, upstream: str, faults: list[dict[str, Any]] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream.rstrip("/")
        self.faults = list(faults or [])
        self.lock = threading.Lock()
        self.seen: list[int] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: FaultProxy

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        import time

        import httpx

        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            fault = self.server.faults.pop(0) if self.server.faults else {}
        if fault.get("stall"):
            time.sleep(float(fault["stall"]))
        if "status" in fault:
            payload = json.dumps({"error": {"message": fault.get("message", "injected"), "code": fault["status"]}})
            self._reply(int(fault["status"]), payload.encode(), fault.get("headers", {}))
            return
        up = httpx.post(self.server.upstream + self.path.removeprefix("/v1"), content=body,
                        headers={"Content-Type": "application/json"}, timeout=600)
        with self.server.lock:
            self.server.seen.append(up.status_code)
        data = up.content
        if fault.get("truncate"):
            data = data[: len(data) // 2]
        if fault.get("drop"):  # a server without echo/logprobs support answers without the field
            obj = json.loads(data)
            obj["choices"][0].pop(fault["drop"], None)
            data = json.dumps(obj).encode()
        self._reply(up.status_code, data, {})

    def _reply(self, code: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a stall longer than its timeout)


def gguf_with_bos(gguf: Path) -> Path:
    """A copy of a GGUF whose tokenizer adds BOS (``tokenizer.ggml.add_bos_token`` set), weights
    untouched. llama-cpp-python 0.3.36's server misaligns echoed prompt log-probabilities by one
    token when the model adds no BOS (each token is scored with the distribution that predicts
    the next one), so the real-server comparison runs with BOS on both sides."""
    import shutil

    out = cache_root() / "test-models" / "gguf-bos" / gguf.name
    if out.is_file():
        return out
    from gguf import GGUFReader

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.copyfile(gguf, tmp)
    reader = GGUFReader(str(tmp), "r+")
    field = reader.fields["tokenizer.ggml.add_bos_token"]
    field.parts[field.data[0]][0] = True
    reader.data.flush()
    del reader
    tmp.rename(out)
    return out
