"""The files around the weights: config, tokenizer files, model card.

A Hugging Face style directory describes its weights with small JSON/text files.
They are exposed by name (``side_files``) and the two that say something about
origin, ``config.json`` (``_name_or_path``) and the model card's YAML front
matter (``base_model``), feed ``claims``. All are parsed as data only, with size
limits, and a broken one is bad input (exit 2), never a crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fromscratch.artifacts._io import read_capped
from fromscratch.errors import InputError

SIDE_FILE_NAMES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "preprocessor_config.json",
    "processor_config.json",
    "chat_template.jinja",
    "vocabulary.json",
    "vocabulary.txt",
    "README.md",
    "model_index.json",
    "sentence_bert_config.json",
    "modules.json",
)

_MAX_JSON = 512 * 1024 * 1024  # tokenizer.json of 262k-token vocabularies reach tens of MB


def side_files(directory: Path | None) -> dict[str, Path]:
    """Known descriptive files present in ``directory``, keyed by file name."""
    if directory is None or not directory.is_dir():
        return {}
    found: dict[str, Path] = {}
    for name in SIDE_FILE_NAMES:
        p = directory / name
        if p.is_file():
            found[name] = p
    return found


def parse_json(data: bytes | str, source: str | Path | None) -> Any:
    """Parse JSON already in memory (one line of a JSONL file, a file's bytes) as untrusted data:
    bad UTF-8, a syntax error or nesting deep enough to exhaust the recursion limit is an
    `InputError` naming ``source``, never a traceback."""
    try:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(source, f"not valid JSON ({type(exc).__name__}: {exc})") from None


def load_json(path: Path, *, limit: int = _MAX_JSON) -> Any:
    """The one capped JSON file reader: every user-supplied JSON file goes through here."""
    path = Path(path)
    return parse_json(read_capped(path, limit, "JSON file"), path)


def load_config(files: dict[str, Path]) -> dict[str, Any] | None:
    p = files.get("config.json")
    if p is None:
        return None
    cfg = load_json(p, limit=16 * 1024 * 1024)
    if not isinstance(cfg, dict):
        raise InputError(p, "config.json is not a JSON object")
    return cfg


def card_front_matter(path: Path) -> dict[str, Any]:
    """YAML front matter of a model card (``---`` ... ``---``), or {}."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[: 1024 * 1024]
    except OSError:
        return {}
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    import yaml

    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


_CARD_KEYS = ("base_model", "base_model_relation", "license", "license_name", "model_name",
              "language", "datasets", "library_name", "pipeline_tag", "tags")


def hf_claims(files: dict[str, Path], config: dict[str, Any] | None) -> dict[str, Any]:
    """Origin claims of an HF directory: reported as found, never trusted."""
    claims: dict[str, Any] = {}
    if config:
        for key in ("_name_or_path", "model_type", "architectures", "transformers_version", "torch_dtype"):
            if key in config and config[key] not in (None, ""):
                claims[f"config.{key}"] = config[key]
    card = files.get("README.md")
    if card is not None:
        fm = card_front_matter(card)
        for key in _CARD_KEYS:
            if key in fm and fm[key] not in (None, "", []):
                claims[f"card.{key}"] = _jsonable(fm[key])
    return claims


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)
