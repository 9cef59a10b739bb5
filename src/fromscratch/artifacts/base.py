"""The one streaming view over a checkpoint that every stage reads through.

A reader knows every tensor's name, shape, storage dtype and byte size from the
headers alone; values are read one tensor at a time (memory-mapped where the
format allows) and handed out as numpy arrays, float32 on demand. Nothing here
ever executes code from the file.

Other stages depend on exactly this interface:

* ``TensorInfo`` – header facts about one stored tensor.
* ``ModelReader`` – ``tensor_infos()``, ``read(name)``, ``iter_tensors()``,
  ``config``, ``side_files``, ``embedded_tokenizer``, ``claims``, ``metadata``.
* ``CanonicalTensor`` / ``Component`` – the format-independent component
  naming (see ``canonical.py``), produced by ``Model.components()``.
* ``tower_of`` – the one rule that reads the tower from a canonical name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: towers other than the text stack; a canonical name starts with one of them or is text
ENCODER_TOWERS = ("vision", "audio")


def tower_of(name: str) -> str:
    """``vision``, ``audio`` or ``text``: the tower is the canonical name's first segment,
    and a name without a tower prefix is the text side (an encoder-decoder's decoder too)."""
    head = name.split(".", 1)[0]
    return head if head in ENCODER_TOWERS else "text"


@dataclass(frozen=True)
class TensorInfo:
    """Header facts about one stored tensor, known before any data is read.

    ``shape`` is the logical shape in the Hugging Face / PyTorch orientation
    (a linear layer's weight is ``(out_features, in_features)``), whatever order
    the container stores it in. ``dtype`` is the storage type label: ``F32``,
    ``F16``, ``BF16``, ``F8_E4M3``, ``F8_E5M2``, ``I8``, ``I64``, ``Q8_0``, ``Q4_K`` ...
    ``nbytes`` is the size on disk (quantised size for GGUF).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n


class ModelReader(ABC):
    """A lazily read checkpoint in one format (possibly several files)."""

    #: short format label used in JSON: safetensors | gguf | pytorch | onnx | ctranslate2
    format: str = "unknown"
    #: tensor naming family understood by ``canonical.build_components``: hf | gguf | ct2
    naming: str = "hf"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @abstractmethod
    def tensor_infos(self) -> list[TensorInfo]:
        """Every stored tensor, in file order, from headers only."""

    @abstractmethod
    def read(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """One tensor's values, dequantised, in ``TensorInfo.shape`` orientation.

        ``dtype=None`` returns the stored dtype where numpy can hold it.
        """

    #: True where ``read_into`` decodes straight into the caller's buffer
    reads_into: bool = False

    def read_into(self, name: str, out: np.ndarray) -> np.ndarray:
        """One tensor as float32 written into ``out`` (C-contiguous, ``TensorInfo.shape``); returns ``out``.

        Same values as ``read(name)``. A caller handling one tensor at a time can
        reuse one buffer instead of fresh memory per tensor (the kernel zeroes
        every fresh page, which costs about as much as decoding BF16). This
        default reads and copies; readers that decode in place set ``reads_into``.
        """
        out[...] = self.read(name, dtype=np.float32)
        return out

    #: True where ``read_rows_into`` decodes a row range without reading the rest of the tensor
    reads_rows: bool = False

    def read_rows_into(self, name: str, r0: int, r1: int, out: np.ndarray) -> np.ndarray:
        """Rows ``r0:r1`` of a tensor (dimension 0) as float32 into ``out``; returns ``out``.

        Lets a caller summarise a tensor larger than its memory budget one row
        block at a time. This default reads the whole tensor; readers that can
        seek to a row range set ``reads_rows``.
        """
        out[...] = self.read(name, dtype=np.float32)[r0:r1]
        return out

    def iter_tensors(self, dtype: Any = np.float32) -> Iterator[tuple[TensorInfo, np.ndarray]]:
        """Yield tensors one at a time; peak memory is about one tensor."""
        for info in self.tensor_infos():
            yield info, self.read(info.name, dtype=dtype)

    @property
    def config(self) -> dict[str, Any] | None:
        """``config.json`` (or the equivalent built from format metadata), if any.

        Readers that found a ``config.json`` beside the weights keep it in
        ``self._config``; formats that carry their own metadata override this.
        """
        return getattr(self, "_config", None)

    @property
    def side_files(self) -> dict[str, Path]:
        """Files next to the weights that describe them: ``config.json``,
        ``tokenizer.json``, ``tokenizer_config.json``, ``tokenizer.model``,
        ``vocab.txt``, ``merges.txt``, ``special_tokens_map.json``, ``README.md``,
        keyed by file name."""
        return dict(getattr(self, "_side", {}))

    @property
    def embedded_tokenizer(self) -> dict[str, Any] | None:
        """Tokenizer stored inside the weights file (GGUF ``tokenizer.ggml.*``,
        CTranslate2 vocabulary ...) as plain Python values, or None."""
        return None

    @property
    def metadata(self) -> dict[str, Any]:
        """Format metadata (GGUF key/values without the tokenizer arrays,
        safetensors ``__metadata__``, ONNX producer ...)."""
        return {}

    @property
    def claims(self) -> dict[str, Any]:
        """What the files say about their own origin (GGUF ``general.base_model.*``,
        model-card ``base_model``, config ``_name_or_path``): reported, never trusted."""
        return {}

    def name_aliases(self) -> dict[str, str]:
        """Stored name -> the name to interpret it as for canonical mapping.

        Used where a format loses the original names (anonymous ONNX
        initializers recovered by tracing the graph). Empty by default.
        """
        return {}

    def parameters(self) -> int:
        return sum(i.numel for i in self.tensor_infos())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles and maps."""

    def __enter__(self) -> "ModelReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class CanonicalTensor:
    """One stored tensor (or one slice of a fused tensor) under its canonical name.

    ``component`` is a canonical component name (``layers.3.attention``,
    ``vision.layers.0.mlp``, ``embed_tokens`` ...). ``role`` says what the tensor
    is inside its component: ``q``, ``k``, ``v``, ``o``, ``gate``, ``up``,
    ``down``, ``weight`` (embeddings, lm_head, projector), ``attn_norm``,
    ``mlp_norm``, ``q_norm``, ``k_norm``, ``router`` ...; biases end in
    ``.bias`` (``q.bias``, ``attn_norm.bias``). ``expert`` is the expert index
    inside an ``experts`` component. ``rows`` selects a slice of dimension 0 of
    the stored tensor (fused qkv / gate_up), ``None`` for the whole tensor.
    ``learned`` is False for tensors that are equal in independent models by
    construction (``position_ids``, rotary ``inv_freq``, sinusoidal tables).
    """

    source_name: str
    component: str
    kind: str
    layer: int | None
    role: str
    shape: tuple[int, ...]
    dtype: str
    expert: int | None = None
    rows: tuple[int, int] | None = None
    learned: bool = True

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def tower(self) -> str:
        return tower_of(self.component)


@dataclass
class Component:
    """A canonical component and the tensors that make it up."""

    name: str
    kind: str
    layer: int | None
    tensors: list[CanonicalTensor] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def learned_parameters(self) -> int:
        return sum(t.numel for t in self.tensors if t.learned)

    @property
    def tower(self) -> str:
        return tower_of(self.name)
