"""Licence, copyright and provenance-mention extraction, and the `attributed` test.

WHY: reuse of open-source inference code is normal; reuse that drops the origin's
licence or copyright notice is what a referee must flag. The candidate keeps the
credit when every copyright notice of each origin and each origin's licence appear
somewhere in the candidate file (in any comment or string). Holders are compared
after normalisation (case, years, "(c)", punctuation), because copiers legitimately
reflow headers and add their own year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fromscratch.code.licences import names_in, normalise

_SPDX = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+\-() ]+?)\s*(?:\*/|-->|$)", re.M)
_COPYRIGHT = re.compile(r"^\W*(copyright\b.*?|\(c\)\s+\d{4}.*?|©.*?)\s*(?:\*/|\"\"\"|''')?\s*$", re.I | re.M)
_MENTION = re.compile(
    r"\b((?:adapted|copied|ported|derived|taken|borrowed|modified|forked|inspired|translated|converted)"
    r"\s+(?:\w+\s+){0,2}?from|based\s+(?:up)?on|heavily\s+based\s+on|reference:?)\s+(.{3,200})",
    re.I,
)


@dataclass
class Notices:
    licence: str | None
    licences: list[str] = field(default_factory=list)
    copyright: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)


def _clean(line: str) -> str:
    return " ".join(line.strip().strip("#*/\"' ").split())


def holder_key(line: str) -> str:
    """Normalised copyright holder: case, years, '(c)', 'all rights reserved', punctuation removed."""
    s = line.lower()
    s = re.sub(r"copyright|\(c\)|©|all rights reserved\.?|\b(?:19|20)\d{2}\b(?:\s*[-–,]\s*(?:(?:19|20)\d{2}|present))*", " ", s)
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return " ".join(s.split())


def copyright_lines(text: str) -> list[str]:
    """Every copyright notice line of a text, cleaned (comment markers and spacing), in order."""
    out: list[str] = []
    for m in _COPYRIGHT.finditer(text):
        line = _clean(m.group(1))
        # a real notice names a year or a holder after the word; skip prose like "copyright notice"
        if len(holder_key(line)) < 3 or re.search(r"copyright (?:notice|holder|owner|law)", line, re.I):
            continue
        if line[:300] not in out:
            out.append(line[:300])
    return out


def extract(text: str) -> Notices:
    """Every licence identifier/name, copyright line and provenance mention in a source text."""
    licences: list[str] = []
    for m in _SPDX.finditer(text):
        ident = normalise(m.group(1).strip())
        if ident and ident not in licences:
            licences.append(ident)
    for ident in names_in(text):
        if ident not in licences:
            licences.append(ident)
    copyrights = copyright_lines(text)
    mentions: list[str] = []
    for m in _MENTION.finditer(text):
        target = m.group(2).strip().rstrip(".,;:")
        if not re.search(r"[/.]|https?:|\w+\.py|github|hugging ?face|transformers|vllm|sglang|deepseek|llama|"
                         r"megatron|\bpaper\b|arxiv", target, re.I):
            continue  # "based on the input" style prose carries no provenance
        entry = _clean(m.group(0))[:240]
        if entry not in mentions:
            mentions.append(entry)
    return Notices(licence=licences[0] if licences else None, licences=licences,
                   copyright=copyrights, mentions=mentions)


def _licence_kept(origin: str, cand: list[str]) -> bool:
    o = origin.lower()
    return any(o == c.lower() or o in c.lower() or c.lower() in o for c in cand)


def attributed(candidate: Notices, origins: list[Notices]) -> bool:
    """True when every origin's licence and every one of its copyright holders survive in the candidate."""
    held = {holder_key(c) for c in candidate.copyright}
    for o in origins:
        for lic in o.licences[:1]:  # the origin's own licence (the first one it declares)
            if not _licence_kept(lic, candidate.licences):
                return False
        for c in o.copyright:
            key = holder_key(c)
            if key and not any(key == h or key in h for h in held):
                return False
    return True


def specific_holders(texts: list[str], share: float) -> list[set[str]]:
    """Per text, its copyright holders that point at files rather than at a project.

    A holder on more than `share` of the texts ("The HuggingFace Inc. team" in transformers) is generic:
    it says which project code comes from, not which file. A holder on few texts ("EleutherAI and the
    HuggingFace Inc. team": the llama family) is specific, unless it is a spelling variant inside a
    generic one ("HuggingFace Inc. team" without "the", on a few files only, is still the project's
    name, and a candidate keeping the generic line would otherwise "keep" it)."""
    holders = [{holder_key(c) for c in copyright_lines(t)} - {""} for t in texts]
    df: dict[str, int] = {}
    for hs in holders:
        for k in hs:
            df[k] = df.get(k, 0) + 1
    cap = max(1.0, share * len(texts))
    generic = [k for k, n in df.items() if n > cap]
    specific = {k for k, n in df.items() if n <= cap and not any(k in g for g in generic)}
    return [hs & specific for hs in holders]

