"""Turning (context, continuation) text into the token ids a model is scored on.

The default reproduces lm-evaluation-harness's Hugging Face backend (0.4.x)
exactly, because a team that disputes a score reruns it there:

* special tokens are added the way the tokenizer's own post-processor adds
  them (``add_special_tokens=True``): a Llama-2 tokenizer prepends BOS, a
  GPT-2-style one (SmolLM2, Qwen) adds nothing; a text that already starts
  with the BOS string gets no second one;
* trailing whitespace of the context moves to the continuation, the whole
  text is encoded once, and the continuation is every token after the first
  ``len(encode(context))`` (so a token spanning the boundary counts as the
  context's when the context's own encoding ends with it);
* an empty context is replaced by the BOS token (EOS when there is none).

``add_bos=True`` forces exactly one BOS in front (what this package did
before, and what lm-eval's ``add_bos_token=True`` gives for tokenizers that
add BOS); ``add_bos=False`` adds no special tokens at all. ``split="offsets"``
instead scores every token of the whole text that ends after the context by
character offsets, which is all an OpenAI-compatible server's ``echo`` answer
allows without a second request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.artifacts.hfdir import load_json
from fromscratch.errors import InputError

SPLITS = ("lm-eval", "offsets")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    obj = load_json(path)
    return obj if isinstance(obj, dict) else {}


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):  # {"content": "<s>", ...} (AddedToken serialisation)
        value = value.get("content")
    return value if isinstance(value, str) and value else None


class TextCodec:
    """A model folder's tokenizer with lm-eval's encoding rules."""

    def __init__(self, root: Path, cfg: dict[str, Any], *, add_bos: bool | None = None,
                 split: str = "lm-eval") -> None:
        from fromscratch.errors import require

        tokenizers = require("tokenizers", "tokenizers")
        if split not in SPLITS:
            raise InputError("split", f"must be one of {', '.join(SPLITS)}, not {split!r}")
        tok_path = root / "tokenizer.json"
        if not tok_path.is_file():
            raise InputError(root, "the in-process backend needs tokenizer.json")
        try:
            self.tok = tokenizers.Tokenizer.from_file(str(tok_path))
        except Exception as exc:  # tokenizers raises plain Exception on bad files
            raise InputError(tok_path, f"unreadable tokenizer: {exc}") from None
        self.tok_config = _read_json(root / "tokenizer_config.json")
        self.add_bos, self.split, self.root = add_bos, split, root
        self.bos = self._special("bos_token", cfg.get("bos_token_id"))
        self.eos_ids = self._eos(cfg)
        self.prefix = self.bos if self.bos is not None else (min(self.eos_ids) if self.eos_ids else None)
        self.bos_text = self.tok.decode([self.bos], skip_special_tokens=False) if self.bos is not None else None

    def _special(self, key: str, fallback: Any) -> int | None:
        text = _token_text(self.tok_config.get(key))
        if text is not None and self.tok.token_to_id(text) is not None:
            return int(self.tok.token_to_id(text))
        return int(fallback) if isinstance(fallback, int) else None

    def _eos(self, cfg: dict[str, Any]) -> set[int]:
        eos = cfg.get("eos_token_id")
        ids = set(eos if isinstance(eos, list) else ([eos] if isinstance(eos, int) else []))
        tok_eos = self._special("eos_token", None)
        if tok_eos is not None:
            ids.add(tok_eos)
        return {int(i) for i in ids}

    def options(self) -> dict[str, Any]:
        """The encoding choices, recorded with every result."""
        return {"add_bos": self.add_bos, "split": self.split}

    # -- lm-eval's tok_encode ----------------------------------------------------------
    def encode(self, text: str, special: bool | None = None) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and character offsets of one text under the configured special-token rule."""
        mode = self.add_bos if special is None else special
        if special is None and self.bos_text and text.startswith(self.bos_text):
            mode = False
        enc = self.tok.encode(text, add_special_tokens=mode is not False)
        ids, offs = list(enc.ids), [tuple(o) for o in enc.offsets]
        if mode is True and self.bos is not None and (not ids or ids[0] != self.bos):
            ids, offs = [self.bos] + ids, [(0, 0)] + offs
        return ids, offs

    def ids(self, text: str, special: bool | None = None) -> list[int]:
        return self.encode(text, special)[0]

    # -- lm-eval's _encode_pair and empty-context rule ---------------------------------
    def pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context ids, continuation ids) exactly as lm-eval's HF backend forms them."""
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation, context = context[-n_spaces:] + continuation, context[:-n_spaces]
        if context == "":
            cont = self.ids(continuation, special=False)
            if self.prefix is None:
                raise InputError("context", "empty context and the tokenizer has neither BOS nor EOS")
            if cont and cont[0] == self.prefix:
                return cont[:1], cont[1:]
            return [self.prefix], cont
        whole, ctx = self.ids(context + continuation), self.ids(context)
        return ctx, whole[len(ctx):]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)
