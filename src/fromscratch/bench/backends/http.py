"""Backend for any OpenAI-compatible server (vLLM, llama.cpp server, TGI, SGLang).

Log-likelihood uses ``POST /v1/completions`` with ``echo: true`` and
``logprobs: 1`` over the whole text ``context + continuation``. Which echoed
tokens are the continuation's follows lm-evaluation-harness (``split="lm-eval"``,
the default): trailing whitespace moves from the context to the continuation,
and the first ``n`` echoed tokens are the context's, where ``n`` is the
number of tokens the server echoes for the context alone (one extra request
per item). ``split="offsets"`` skips that request and takes every
token that ends after the context (by ``text_offset``). ``max_tokens: 1``
because several servers refuse 0; the one generated token lies past the text
and is ignored. Generation uses ``/v1/chat/completions`` (instruction-tuned
servers) or ``/v1/completions`` with ``stop`` (base models), greedy
(temperature 0); ``finish_reason: "length"`` marks an answer cut by the limit.

Transient failures (connection errors, 408/409/429/5xx) are retried with
exponential back-off, honouring ``Retry-After``; anything else fails at once
with one line that names the server.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from fromscratch.bench.backends.base import BackendError, Generation, continuation_score, cut_at_stop
from fromscratch.bench.backends.encoding import SPLITS

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def image_part(path: str) -> dict[str, Any]:
    """An OpenAI vision message part carrying a local image as a base64 data URL."""
    import base64
    import mimetypes

    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as fh:
        data = base64.b64encode(fh.read()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


class HttpBackend:
    #: images go to the server as vision message parts
    vision = True
    def __init__(self, base_url: str, *, model: str = "default", api_key: str | None = None,
                 concurrency: int = 4, retries: int = 5, timeout: float = 120.0,
                 generation: str = "chat", backoff: float = 0.5, backoff_cap: float = 30.0,
                 transport: httpx.BaseTransport | None = None, split: str = "lm-eval") -> None:
        if generation not in {"chat", "completions"}:
            raise BackendError("backend", f"generation must be 'chat' or 'completions', not {generation!r}")
        if split not in SPLITS:
            raise BackendError("backend", f"split must be one of {', '.join(SPLITS)}, not {split!r}")
        self.split = split
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.concurrency = max(1, int(concurrency))
        self.retries = max(0, int(retries))
        self.generation = generation
        self.backoff, self.backoff_cap = backoff, backoff_cap
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(timeout=timeout, headers=headers, transport=transport,
                                   limits=httpx.Limits(max_connections=self.concurrency + 2))
        self.calls = 0

    def describe(self) -> dict[str, Any]:
        return {"kind": "http", "base_url": self.base_url, "model": self.model, "generation": self.generation,
                "split": self.split}

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + path
        last = ""
        for attempt in range(self.retries + 1):
            try:
                resp = self.client.post(url, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                self.calls += 1
                if resp.status_code == 200:
                    try:
                        data = resp.json()
                    except ValueError:
                        raise BackendError(url, "server answered with invalid JSON") from None
                    if not isinstance(data, dict):
                        raise BackendError(url, "server answered with a non-object")
                    return data
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                if resp.status_code not in _RETRY_STATUS:
                    raise BackendError(url, last)
                retry_after = resp.headers.get("retry-after")
                if retry_after and retry_after.replace(".", "", 1).isdigit() and attempt < self.retries:
                    time.sleep(min(float(retry_after), self.backoff_cap))
                    continue
            if attempt < self.retries:
                delay = min(self.backoff * (2 ** attempt), self.backoff_cap)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter: only timing, never results
        raise BackendError(url, f"no usable answer after {self.retries + 1} tries ({last})")

    def _echo(self, text: str) -> tuple[list[int], list[float | None], list[bool | None]]:
        """Echoed token starts, log-probs and greedy flags of the prompt ``text``.

        Prompt tokens are those that start inside the text; the one generated token
        starts at its end. Servers differ in whether they echo a BOS token and count
        it in ``usage``, so only the echoed offsets are trusted."""
        data = self._post("/completions", {"model": self.model, "prompt": text, "max_tokens": 1,
                                           "temperature": 0.0, "echo": True, "logprobs": 1})
        try:
            lp = data["choices"][0]["logprobs"]
            tokens, offsets = lp["tokens"], lp["text_offset"]
            token_lps, tops = lp["token_logprobs"], lp.get("top_logprobs") or [None] * len(tokens)
            starts, lps, greedy = [], [], []
            for i, (tok, start) in enumerate(zip(tokens, offsets)):
                if int(start) >= len(text) and (starts or text):
                    break  # the generated token
                starts.append(int(start))
                lps.append(None if token_lps[i] is None else float(token_lps[i]))
                top = tops[i]
                greedy.append(max(top.items(), key=lambda kv: kv[1])[0] == tok if isinstance(top, dict) and top
                              else None)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise BackendError(self.base_url, "completions answer lacks echoed logprobs "
                               "(the server must support echo + logprobs)") from None
        return starts, lps, greedy

    def loglikelihood(self, context: str, continuations: list[str]) -> list[tuple[float, bool]]:
        out = []
        n_ctx: int | None = None
        if self.split == "lm-eval":
            n_spaces = len(context) - len(context.rstrip())
            moved = context[len(context) - n_spaces:] if n_spaces else ""
            context = context[: len(context) - n_spaces]
            continuations = [moved + c for c in continuations]
            n_ctx = len(self._echo(context)[0]) if context else None
        for cont in continuations:
            text = context + cont
            starts, lps, greedy = self._echo(text)
            if self.split == "offsets" or n_ctx is None:
                out.append(continuation_score(starts, lps, greedy, len(text), len(context)))
                continue
            picked = [(lp, g) for lp, g in zip(lps[n_ctx:], greedy[n_ctx:]) if lp is not None]
            if not picked:
                raise BackendError(self.base_url, "the continuation produced no scorable tokens")
            out.append((sum(lp for lp, _ in picked), all(bool(g) for _, g in picked)))
        return out

    def generate(self, prompt: str, until: list[str], max_tokens: int, images: list[str] | None = None) -> Generation:
        stop = [u for u in until if u][:4]  # OpenAI allows four stop strings
        if images and self.generation != "chat":
            raise BackendError(self.base_url, "image inputs need generation='chat' (vision messages)")
        if self.generation == "chat":
            content: Any = prompt if not images else [*(image_part(p) for p in images),
                                                      {"type": "text", "text": prompt}]
            data = self._post("/chat/completions", {
                "model": self.model, "messages": [{"role": "user", "content": content}],
                "max_tokens": max_tokens, "temperature": 0.0, "stop": stop or None})
            try:
                text = data["choices"][0]["message"]["content"] or ""
                finish = data["choices"][0].get("finish_reason")
            except (KeyError, IndexError, TypeError):
                raise BackendError(self.base_url, "chat answer lacks choices[0].message.content") from None
        else:
            data = self._post("/completions", {"model": self.model, "prompt": prompt, "max_tokens": max_tokens,
                                               "temperature": 0.0, "stop": stop or None})
            try:
                text = data["choices"][0]["text"] or ""
                finish = data["choices"][0].get("finish_reason")
            except (KeyError, IndexError, TypeError):
                raise BackendError(self.base_url, "completions answer lacks choices[0].text") from None
        return Generation(cut_at_stop(str(text), until), finish == "length")
