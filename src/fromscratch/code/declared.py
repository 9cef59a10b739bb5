"""Declared origins: "adapted from …", "copied from …", "based on …" and URLs, resolved to reference files.

WHY: ports are hard to tell from independent code by the code alone (a port
rewrites every line around the model), but many say where they come from
(SGLang files name the vLLM file, vLLM files the transformers one). A declaration
is a claim, never evidence on its own: it makes a reference an origin only when
the code confirms it (the declared file ranks high for this candidate, see
`api.declared_confirmed`); otherwise it is reported as an unconfirmed claim.

Resolution is by path suffix: a mention's path-like tokens (URL paths, `a/b.py`,
dotted modules `transformers.models.llama.modeling_llama`) name a reference when
the file name agrees and, if the mention gives a folder, the folder agrees too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATHLIKE = re.compile(r"[A-Za-z0-9_.\-/:#~]+")


@dataclass(frozen=True)
class Declared:
    """One provenance mention and the file paths it names (each a tuple of path components)."""

    mention: str
    paths: tuple[tuple[str, ...], ...]


def _paths_of(token: str) -> list[tuple[str, ...]]:
    token = token.split("#", 1)[0].split("?", 1)[0].strip(".,;:()[]'\"`")
    if not token:
        return []
    if "/" in token:
        parts = tuple(p for p in token.split("/") if p and not p.endswith(":"))
        return [parts] if parts and parts[-1].endswith((".py", ".cu", ".cuh", ".cpp", ".cc", ".c", ".h", ".hpp")) else []
    if token.endswith(".py"):
        return [(token,)]
    dotted = token.split(".")
    if len(dotted) >= 2 and all(d.isidentifier() for d in dotted):
        # a dotted module path, possibly ending in a class or function name: every prefix may be the file
        return [tuple(dotted[:i - 1]) + (dotted[i - 1] + ".py",) for i in range(2, len(dotted) + 1)]
    return []


def parse_declarations(mentions: list[str]) -> list[Declared]:
    """The path-like targets of every provenance mention (mentions without one name no file)."""
    out = []
    for m in mentions:
        paths: list[tuple[str, ...]] = []
        for tok in _PATHLIKE.findall(m):
            for p in _paths_of(tok):
                if p not in paths:
                    paths.append(p)
        out.append(Declared(m, tuple(paths)))
    return out


def names_reference(decl: Declared, reference_file: str) -> bool:
    """The declaration names this reference file (same file name; same folder when the mention gives one)."""
    ref = reference_file.split("/")
    for p in decl.paths:
        if p[-1].lower() != ref[-1].lower():
            continue
        if len(p) < 2 or len(ref) < 2 or p[-2].lower() == ref[-2].lower():
            return True
    return False
