"""Deterministic JSON output.

Same inputs and seed must give byte-identical JSON, so every command writes
through here: fixed key order (insertion order of the builders, which are
deterministic), full float precision (``repr``), UTF-8, no NaN/Infinity (they are
not JSON; builders must turn them into null).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def _plain(obj: Any) -> Any:
    """Convert numpy scalars, dataclasses, pydantic models, paths and tuples to JSON types."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isnan(obj) or math.isinf(obj):
            return None
        return float(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return obj.as_posix()
    if is_dataclass(obj) and not isinstance(obj, type):
        return _plain(asdict(obj))
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return _plain(model_dump(mode="json"))
    try:  # numpy scalars and arrays without importing numpy eagerly
        import numpy as np

        if isinstance(obj, np.generic):
            return _plain(obj.item())
        if isinstance(obj, np.ndarray):
            return _plain(obj.tolist())
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def dumps(obj: Any) -> str:
    """Serialise deterministically (2-space indent, trailing newline)."""
    return json.dumps(_plain(obj), ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def write_json(obj: Any, dest: str | Path) -> None:
    """Write to a path, or to stdout when `dest` is '-'."""
    text = dumps(obj)
    if str(dest) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(dest)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
