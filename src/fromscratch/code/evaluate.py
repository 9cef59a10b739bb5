"""Labelled evaluation of the code-reuse scorer on real corpora (used by benchmarks and `real` tests).

Positives: definitions that transformers declares `# Copied from` another model's
definition (annotations stripped before scoring). Negatives: definitions of the
same role (same method name in a class with the same role word, e.g. two
`...Attention.forward`; same top-level function name; classes with the same role
word) in other models, that no chain of annotations links (union-find over all
edges) and whose normalised token streams are not identical (an identical masked
stream is an undeclared copy, not an independent definition — the research notes
found ~6 % of naive negatives are such clones). Negatives whose normalised token
sequences still agree at >= 90 % (difflib ratio) are flagged `near_duplicate`:
undeclared near-copies (T3); benchmarks report results with and without them.
"""

from __future__ import annotations

import difflib
import hashlib
import tokenize
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fromscratch.code.corpora import copied_from_edges, model_files, strip_copy_annotations
from fromscratch.code.lang import SourceFile, split_words


NEAR_DUP = 0.9  # difflib ratio of normalised token sequences from which an unannotated pair is a clone anyway


@dataclass(frozen=True)
class LabelledPair:
    target_file: str
    target: str
    source_file: str
    source: str
    label: int  # 1 copied, 0 independent
    near_duplicate: bool = False  # negative whose normalised tokens agree >= NEAR_DUP in sequence


def _h(*parts: str) -> bytes:
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()


class _UF:
    def __init__(self) -> None:
        self.p: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, x):
        self.p.setdefault(x, x)
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a, b) -> None:
        self.p[self.find(a)] = self.find(b)


def _role(qual: str) -> str:
    """Role of a definition: method name + last word of its class, or the function name."""
    parts = qual.split(".")
    if len(parts) == 1:
        words = split_words(parts[0])
        return ("class:" + words[-1]) if parts[0][:1].isupper() and words else "func:" + parts[0]
    words = split_words(parts[0])
    return f"method:{words[-1] if words else ''}.{parts[-1]}"


def _masked_of(sf: SourceFile, qual: str) -> tuple[str, ...]:
    out: list[str] = []
    for u in sf.units:
        if u.name == qual or u.name.startswith(qual + "."):
            out.extend(u.masked)
    return tuple(out)


def labelled_pairs(models: Path, parsed: dict[str, SourceFile], *, negatives_per_positive: int = 2,
                   limit: int | None = None) -> list[LabelledPair]:
    """Positives from annotations (resolvable to units on both sides) and de-noised same-role negatives."""
    edges = copied_from_edges(models)
    defs: dict[tuple[str, str], str] = {}  # (file, qual) -> role, for every definition present
    for f, sf in parsed.items():
        for u in sf.units:
            if u.kind in ("function", "method", "class"):
                defs[(f, u.name)] = _role(u.name)
    per_file: dict[str, list[str]] = {}
    for (f, q) in defs:
        per_file.setdefault(f, []).append(q)
    masked_cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def masked(f: str, q: str) -> tuple[str, ...]:
        if (f, q) not in masked_cache:
            masked_cache[(f, q)] = _masked_of(parsed[f], q)
        return masked_cache[(f, q)]

    uf = _UF()
    pos: list[LabelledPair] = []
    for e in edges:
        a, b = (e.target_file, e.target), (e.source_file, e.source)
        if a not in defs or b not in defs:
            continue
        uf.union(a, b)
        # a class copy links its methods too
        for q in per_file.get(e.target_file, []):
            if q.startswith(e.target + "."):
                uf.union((e.target_file, q), (e.source_file, e.source + q[len(e.target):]))
        pos.append(LabelledPair(e.target_file, e.target, e.source_file, e.source, 1))
    pos = sorted(set(pos), key=lambda p: _h(p.target_file, p.target, p.source_file, p.source))
    if limit is not None:
        pos = pos[:limit]
    by_role: dict[str, list[tuple[str, str]]] = {}
    for key, role in defs.items():
        by_role.setdefault(role, []).append(key)
    for v in by_role.values():
        v.sort()
    neg: list[LabelledPair] = []
    for p in pos:
        role = _role(p.target)
        pool = by_role.get(role, [])
        if len(pool) > 64:  # a deterministic pseudo-random subset is enough to draw from
            step = len(pool) // 64
            off = int.from_bytes(_h(p.target_file, p.target)[:4], "little") % step
            pool = pool[off::step]
        pool = sorted(pool, key=lambda k: _h(p.target_file, p.target, *k))
        t_masked = masked(p.target_file, p.target)
        got = 0
        for f, q in pool:
            if got >= negatives_per_positive:
                break
            if f.split("/")[0] == p.target_file.split("/")[0]:
                continue  # same model folder
            if uf.find((f, q)) == uf.find((p.target_file, p.target)):
                continue
            if masked(f, q) == t_masked:
                continue  # undeclared clone
            ratio = difflib.SequenceMatcher(None, t_masked, masked(f, q), autojunk=False).ratio()
            neg.append(LabelledPair(p.target_file, p.target, f, q, 0, near_duplicate=ratio >= NEAR_DUP))
            got += 1
    return pos + neg


def parse_models(models: Path) -> dict[str, SourceFile]:
    """Every model file of a transformers folder, parsed with the copy annotations stripped."""
    from fromscratch.code.lang import PythonLanguage

    lang = PythonLanguage()
    out: dict[str, SourceFile] = {}
    for path in model_files(models):
        rel = path.relative_to(models).as_posix()
        text = strip_copy_annotations(path.read_text(encoding="utf-8"))
        try:
            out[rel] = lang.parse(rel, text)
        except (SyntaxError, ValueError, tokenize.TokenError):  # a file the tokenizer refuses is left out
            continue
    return out


def pair_scores(index, prefix: str, parsed: dict[str, SourceFile], pairs: list[LabelledPair]) -> dict[str, np.ndarray]:
    """The scorer's similarity for each labelled pair (the target file is left out of the index).

    A pair of definitions scores like a file pair restricted to them: each unit of
    the target definition (a class has one per method plus its body) takes its best
    match among the source definition's units, weighted by informative mass. Returns
    the combined score under "score" and each channel's own score.
    """
    from fromscratch.code.score import query

    file_id = {f: i for i, f in enumerate(index.files)}
    unit_ids: dict[str, dict[str, int]] = {}
    for fi, f in enumerate(index.files):
        a, b = int(index.file_units[fi]), int(index.file_units[fi + 1])
        unit_ids[f] = {index.unit_name[j]: j for j in range(a, b)}
    keys = ("score", "tok", "ident", "struct")
    out = {k: np.zeros(len(pairs)) for k in keys}
    by_target: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_target.setdefault(p.target_file, []).append(i)
    for tf in sorted(by_target):
        sf = parsed[tf]
        q = query(index, sf, exclude_files={file_id[f"{prefix}/{tf}"]})
        mats = {"score": q.sim.tocsr(), **q.channel}
        for i in by_target[tf]:
            p = pairs[i]
            src_units = unit_ids[f"{prefix}/{p.source_file}"]
            cols = [j for n, j in src_units.items() if n == p.source or n.startswith(p.source + ".")]
            rows = [k for k, u in enumerate(sf.units) if u.name == p.target or u.name.startswith(p.target + ".")]
            if not rows or not cols:
                continue
            w = q.mass[rows]
            if w.sum() <= 0:
                continue
            for k in keys:
                best = mats[k][rows][:, cols].toarray().max(axis=1)
                out[k][i] = float((w * best).sum() / w.sum())
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((r[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
