"""Token strings of a model, spelled the same way whatever the tokenizer family.

Embedding rows are indexed by token ids, which mean nothing across models; the
strings the ids stand for do. To bridge two vocabularies (extended, re-ordered,
or from another tokenizer family) every token is turned into the text it
stands for: byte-level BPE characters are mapped back to bytes (``Ġthe`` ->
" the"), SentencePiece ``▁`` becomes a space, WordPiece ``##x`` a continuation
``x`` and other WordPiece tokens a word start `` x``. Only the strings are
used (hashed); nothing from the tokenizer is executed.

The marker rules are the tokenizer comparison's (`fromscratch.tokenizer.normalize`).
Three renderings stay lineage's own, because token keys (and so stored
fingerprints) are hashes of these strings: byte-level bytes that are not
UTF-8 become backslash escapes, every SentencePiece byte piece ``<0xHH>``
becomes the Latin-1 character of its byte, and bracketed WordPiece tokens
(``[CLS]``) keep their spelling.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from fromscratch.errors import InputError
from fromscratch.tokenizer.normalize import (
    byte_level_bytes,
    byte_piece_value,
    canonical,
)
from fromscratch.tokenizer.readers import parse_tokenizer_json, read_tokenizer_document, read_vocab_txt

MAX_TOKENIZER_BYTES = 256 * 1024 * 1024


def _from_byte_level(tok: str) -> str:
    raw = byte_level_bytes(tok)
    if raw is None:
        return tok  # not byte-level (an added token written as plain text)
    # Lineage's own rendering: bytes that are not UTF-8 become backslash escapes
    # (the tokenizer comparison writes <0xHH>); token keys depend on it.
    return raw.decode("utf-8", errors="backslashreplace")


def _from_metaspace(tok: str) -> str:
    value = byte_piece_value(tok)
    if value is None:
        return canonical(tok, "metaspace")
    # Lineage's own rendering: every byte-fallback piece is the Latin-1 character
    # of its byte (the tokenizer comparison keeps <0xHH> outside printable ASCII).
    return chr(value) if value >= 0 else tok


def _from_wordpiece(tok: str) -> str:
    if tok.startswith("[") and tok.endswith("]"):
        return tok  # [CLS], [unused7]: spelled as in every other family, no word-start space
    return canonical(tok, "wordpiece")


def normalise(tokens: list[str], style: str) -> list[str]:
    fn = {"byte-level": _from_byte_level, "metaspace": _from_metaspace,
          "wordpiece": _from_wordpiece}.get(style, lambda t: t)
    return [fn(t) for t in tokens]


def _guess_style(tokens: list[str]) -> str:
    sample = tokens[: 5000]
    if sum(t.startswith("##") for t in sample) > 50:
        return "wordpiece"
    if sum("▁" in t for t in sample) > 50:
        return "metaspace"
    if sum(("Ġ" in t) or ("Ċ" in t) for t in sample) > 20:
        return "byte-level"
    return "plain"


def _tokenizer_json(path: Path) -> list[str] | None:
    """Token strings of a ``tokenizer.json``, read by the tokenizer readers (the one parser of
    the format); None when it is too large or not a readable tokenizer (lineage then anchors
    the embeddings by position)."""
    if path.stat().st_size > MAX_TOKENIZER_BYTES:
        return None
    try:
        data = read_tokenizer_document(path)
        out = parse_tokenizer_json(data, path).tokens
    except InputError:
        return None
    if not out:
        return None
    model = data["model"]
    pre = json.dumps(data.get("pre_tokenizer")) + json.dumps(data.get("decoder"))
    mtype = str(model.get("type", ""))
    if "ByteLevel" in pre:
        style = "byte-level"
    elif "Metaspace" in pre or mtype == "Unigram" or "▁" in pre:
        style = "metaspace"
    elif mtype == "WordPiece" or "WordPiece" in pre:
        style = "wordpiece"
    else:
        style = _guess_style(out)
    return normalise(out, style)


def token_strings(model: Any) -> list[str] | None:
    """The model's token strings by id (canonical spelling), or None if it has no tokenizer."""
    emb = getattr(model, "embedded_tokenizer", None)
    if isinstance(emb, dict) and isinstance(emb.get("tokens"), list) and emb["tokens"]:
        toks = [str(t) for t in emb["tokens"]]
        kind = str(emb.get("model", ""))
        style = {"gpt2": "byte-level", "llama": "metaspace", "bert": "wordpiece",
                 "t5": "metaspace", "gemma": "metaspace"}.get(kind) or _guess_style(toks)
        return normalise(toks, style)
    side = getattr(model, "side_files", {}) or {}
    if "tokenizer.json" in side:
        got = _tokenizer_json(Path(side["tokenizer.json"]))
        if got:
            return got
    if "vocab.txt" in side:
        p = Path(side["vocab.txt"])
        if p.stat().st_size <= MAX_TOKENIZER_BYTES:
            try:
                toks = read_vocab_txt(p).tokens
            except InputError:
                return None
            return normalise(toks, "wordpiece")
    return None


def token_key(text: str) -> int:
    """A 63-bit hash of a token string: the same token gets the same key in every model."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little") >> 1
