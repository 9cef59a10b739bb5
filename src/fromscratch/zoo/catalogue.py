"""The zoo's catalogue: which models exist and the ground truth of how they relate.

Pure Python (no torch), so tests and other stages can read the truth of an
already built zoo without the ``demo`` extra.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fromscratch.cache import cache_dir as cache_dir  # re-exported: the zoo builder and callers use it from here

SCHEMA = "fromscratch.zoo/1"


@dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo and its ground truth.

    ``relation`` is to ``parent``: ``independent`` (no parent, trained from its own
    random initialisation), ``derived`` (weights made from the parent's) or
    ``identical`` (the parent's values in another format or quantisation).
    ``reused_components`` are canonical component-name prefixes *of this model*
    (canonical names: ``embed_tokens``, ``lm_head``, ``norm``, ``layers.``,
    ``layers.3.experts``, ``vision.layers.``, ...) whose weights came from the parent.
    ``file`` is the path relative to the entry's folder that ``Zoo.path`` returns
    (empty: the folder itself).
    """

    name: str
    family: str            # "llama" | "encoder" | "twotower"
    format: str            # "safetensors" | "gguf" | "pytorch"
    parent: str | None
    relation: str          # "independent" | "derived" | "identical"
    reused_components: list[str]
    description: str
    file: str = ""
    metrics: dict = field(default_factory=dict)

    def reuses(self, component: str) -> bool:
        """Whether the canonical component ``component`` of this model came from the parent."""
        for p in self.reused_components:
            stem = p.rstrip(".")
            if component == stem or component.startswith(stem + "."):
                return True
        return False


class Zoo:
    """A built zoo on disk: ``entries``, ``path(name)`` and the lineage truth."""

    def __init__(self, root: Path, entries: list[ZooEntry]) -> None:
        self.root = Path(root)
        self.entries = list(entries)
        self._by_name = {e.name: e for e in self.entries}

    @classmethod
    def load(cls, root: Path) -> "Zoo":
        data = json.loads((Path(root) / "catalogue.json").read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise ValueError(f"{root}: not a {SCHEMA} catalogue")
        return cls(root, [ZooEntry(**e) for e in data["entries"]])

    def entry(self, name: str) -> ZooEntry:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no zoo model named {name!r}; have {sorted(self._by_name)}") from None

    def path(self, name: str) -> Path:
        """The model location (a folder in HF layout, or a single .gguf / .bin file)."""
        e = self.entry(name)
        base = self.root / "models" / e.name
        return base / e.file if e.file else base

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def root_of(self, name: str) -> str:
        """The independently trained ancestor a model's weights descend from."""
        e = self.entry(name)
        while e.parent is not None:
            e = self.entry(e.parent)
        return e.name

    def positive_pairs(self) -> list[tuple[str, str, list[str]]]:
        """(candidate, parent, reused component prefixes) for every derived/identical entry."""
        return [(e.name, e.parent, list(e.reused_components))
                for e in self.entries if e.parent is not None]

    def independent_pairs(self, family: str | None = None) -> list[tuple[str, str]]:
        """Pairs whose weights share no ancestor at all (every component independent).

        A model derived from one root is independent of every other root's line,
        except that a transplant reuses only some components: it is paired with
        other roots, never with its own parent's line.
        """
        es = [e for e in self.entries if family is None or e.family == family]
        out = []
        for i, a in enumerate(es):
            for b in es[i + 1:]:
                if self.root_of(a.name) != self.root_of(b.name):
                    out.append((a.name, b.name))
        return out

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "entries": [asdict(e) for e in self.entries]}
