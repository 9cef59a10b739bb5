"""Model backends: how the runner asks a model for log-likelihoods and generations.

Every backend offers the same three calls (see `base.Backend`), so a task
scores identically whether the model runs in this process or behind an
OpenAI-compatible server.
"""

from fromscratch.bench.backends.base import Backend, BackendError

__all__ = ["Backend", "BackendError", "make_backend"]


def make_backend(spec: dict) -> Backend:
    """Build a backend from a plain spec: ``{"kind": "local", "model": PATH}`` or
    ``{"kind": "http", "base_url": URL, "model": NAME, ...}``.

    Both take ``split`` (``"lm-eval"``, the default, or ``"offsets"``); the local
    backend also ``add_bos`` (``None``: as the tokenizer adds special tokens, the
    lm-eval default; ``True``: always one BOS; ``False``: none)."""
    from fromscratch.errors import InputError

    kind = spec.get("kind", "local")
    if kind == "local":
        from fromscratch.bench.backends.local import LocalBackend

        add_bos = spec.get("add_bos")
        if add_bos not in (None, True, False):
            raise InputError("backend", f"add_bos must be true, false or absent, not {add_bos!r}")
        return LocalBackend(spec["model"], batch_size=int(spec.get("batch_size", 8)), add_bos=add_bos,
                            split=str(spec.get("split", "lm-eval")))
    if kind == "http":
        from fromscratch.bench.backends.http import HttpBackend

        return HttpBackend(spec["base_url"], model=spec.get("model", "default"),
                           api_key=spec.get("api_key"), concurrency=int(spec.get("concurrency", 4)),
                           retries=int(spec.get("retries", 5)), timeout=float(spec.get("timeout", 120)),
                           generation=spec.get("generation", "chat"), split=str(spec.get("split", "lm-eval")))
    raise InputError("backend", f"unknown backend kind {kind!r} (local, http)")
