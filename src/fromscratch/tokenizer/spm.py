"""SentencePiece ``.model`` files read with a small protobuf wire parser.

A ``.model`` is a serialised ``ModelProto``. Only four fields matter here:
``pieces`` (1: piece string, score, type), ``trainer_spec.model_type`` (2.3),
``normalizer_spec`` (3: name, add_dummy_prefix, remove_extra_whitespaces,
escape_whitespaces). Parsing the wire format directly (about sixty lines) avoids
generated protobuf code and keeps a hostile file from reaching anything but a
bounds-checked byte loop; every length is checked against the buffer.
"""

from __future__ import annotations

import struct
from pathlib import Path

from fromscratch.artifacts._io import read_capped
from fromscratch.errors import InputError
from fromscratch.tokenizer.vocab import Vocabulary

MAX_BYTES = 256 << 20
_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "wordlevel", 4: "wordlevel"}
# SentencePiece piece types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
_SPECIAL_TYPES = {2, 3, 5}


class _Wire:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def bad(self, why: str) -> InputError:
        return InputError(self.path, f"not a valid SentencePiece model ({why})")

    def varint(self) -> int:
        shift = 0
        value = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise self.bad("truncated varint")
            b = self.data[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def fields(self):
        """Yield (field number, wire type, value) until the buffer ends."""
        while self.pos < len(self.data):
            key = self.varint()
            number, wtype = key >> 3, key & 7
            if wtype == 0:
                yield number, wtype, self.varint()
            elif wtype == 1:
                if self.pos + 8 > len(self.data):
                    raise self.bad("truncated fixed64")
                yield number, wtype, self.data[self.pos:self.pos + 8]
                self.pos += 8
            elif wtype == 2:
                n = self.varint()
                if n < 0 or self.pos + n > len(self.data):
                    raise self.bad("length beyond end of data")
                yield number, wtype, self.data[self.pos:self.pos + n]
                self.pos += n
            elif wtype == 5:
                if self.pos + 4 > len(self.data):
                    raise self.bad("truncated fixed32")
                yield number, wtype, self.data[self.pos:self.pos + 4]
                self.pos += 4
            else:
                raise self.bad(f"unsupported wire type {wtype}")


def read_sentencepiece(path: str | Path) -> Vocabulary:
    """Read a SentencePiece model file into a `Vocabulary` (no code is run)."""
    path = Path(path)
    return parse_sentencepiece(read_capped(path, MAX_BYTES, "SentencePiece model"), path)


def parse_sentencepiece(data: bytes, path: Path) -> Vocabulary:
    tokens: list[str] = []
    scores: list[float] = []
    special: set[int] = set()
    model_type = 1
    normalizer: dict[str, object] = {}
    for number, wtype, value in _Wire(data, path).fields():
        if number == 1 and wtype == 2:
            piece, score, ptype = "", 0.0, 1
            for n2, w2, v2 in _Wire(value, path).fields():
                if n2 == 1 and w2 == 2:
                    try:
                        piece = v2.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise InputError(path, "piece is not UTF-8") from exc
                elif n2 == 2 and w2 == 5:
                    score = struct.unpack("<f", v2)[0]
                elif n2 == 3 and w2 == 0:
                    ptype = v2
            if ptype in _SPECIAL_TYPES:
                special.add(len(tokens))
            tokens.append(piece)
            scores.append(float(score))
        elif number == 2 and wtype == 2:
            for n2, w2, v2 in _Wire(value, path).fields():
                if n2 == 3 and w2 == 0:
                    model_type = v2
        elif number == 3 and wtype == 2:
            names = {1: "name", 3: "add_dummy_prefix", 4: "remove_extra_whitespaces",
                     5: "escape_whitespaces"}
            for n2, w2, v2 in _Wire(value, path).fields():
                if n2 == 1 and w2 == 2:
                    normalizer["name"] = v2.decode("utf-8", "replace")
                elif n2 in names and w2 == 0:
                    normalizer[names[n2]] = bool(v2)
    if not tokens:
        raise InputError(path, "not a valid SentencePiece model (no pieces)")
    kind = _MODEL_TYPES.get(model_type, "unigram")
    return Vocabulary(kind=kind, style="metaspace", tokens=tokens, source=str(path),
                      scores=scores if kind == "unigram" else None, special=special,
                      normalizer={"sentencepiece": normalizer} if normalizer else None,
                      pre_tokenizer={"type": "Metaspace"})
