"""Scoring a candidate file against the index: unit -> unit, then file -> file.

Unit similarity, per channel c (tokens, identifiers, structure):
    s_c(u, r) = sum of idf(f) over features shared by u and r / max(mass_c(u), mass_c(r))
where mass_c is the idf-weighted size of a unit's feature set. Features common to
the whole corpus (imports, framework boilerplate, licence headers, `super().__init__`)
have idf near 0, so they add almost nothing to either side; rare features (a model's
own attribute names, its arithmetic) decide. The unit score is a fixed mix of the
channels, `ALPHA`.

File score: every candidate unit takes its best match inside the reference file
(so reordered functions and split files do not matter), and the file score is the
mean of those best matches weighted by each unit's informative mass (tiny helpers
and boilerplate weigh little).

Rank score: the mean of the file score and the file-level identifier Jaccard
(`port.identifier_overlap`). A copy scores high on both; a port between frameworks
scores low on code but keeps the origin's names, and the names decide between
references whose code scores are all near the floor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fromscratch.code.fingerprint import CHANNELS, unit_digest, unit_features
from fromscratch.code.lang import SourceFile
from fromscratch.code.port import identifier_overlap, interface_containment, pseudo_candidate_gap

ALPHA = {"tok": 0.5, "ident": 0.25, "struct": 0.25}
T_UNIT_COPY = 0.70  # unit score from which a definition counts as a copy (docs/code.md: how it was fixed)
MIN_BODY_TOKENS = 26  # 2 (K + W - 1): a class body or module remainder this long counts by its tokens in file scores


@dataclass
class Query:
    """A candidate file's unit x reference-unit similarities (sparse) and unit masses."""

    sim: sp.csr_matrix          # n_cand_units x n_ref_units, combined unit score in [0, 1]
    channel: dict[str, sp.csr_matrix]  # the per-channel similarities behind it
    mass: np.ndarray            # informative mass of each candidate unit
    best: np.ndarray            # n_cand_units x n_ref_files: best unit score inside each file (file-score rules)
    file_score: np.ndarray      # n_ref_files
    ident_jac: np.ndarray       # n_ref_files: idf-weighted Jaccard of the two files' identifier sets
    ident_cont: np.ndarray      # n_ref_files: share of the reference's identifiers (by weight) the candidate has
    rank: np.ndarray            # n_ref_files: (file_score + ident_jac) / 2, the ranking score
    config_cont: np.ndarray     # n_ref_files: share of the reference's configuration keys (by weight) the candidate reads
    module_cont: np.ndarray     # n_ref_files: share of the reference's module names (by weight) the candidate assigns
    ref_cover: np.ndarray       # n_ref_files: share of the reference's definitions' mass in units the candidate copies


def combine(s: dict[str, np.ndarray], present: dict[str, np.ndarray]) -> np.ndarray:
    """Unit score from channel scores: the larger of the token score and the channel mix.

    The token channel alone recognises copies (renamed or not); the mix of tokens,
    identifiers and structure recognises ports, whose tokens changed with the API.
    A channel empty on both sides (a one-line getter has no arithmetic) is left out
    of the mix instead of counting as a mismatch.
    """
    num = sum(ALPHA[c] * s[c] for c in CHANNELS)
    den = sum(ALPHA[c] * present[c] for c in CHANNELS)
    mix = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return np.maximum(s["tok"], mix)


def _channel_similarities(index, feats: list[dict[str, set[int]]]) -> tuple[dict, dict, np.ndarray]:
    """Per channel: the sparse candidate-unit x reference-unit similarity, each candidate unit's
    weighted size, and the units' combined informative mass."""
    n_u, n_r = len(feats), len(index.unit_file)
    mass = np.zeros(n_u)
    unseen_w = index.idf_unseen()
    chan: dict[str, sp.csr_matrix] = {}
    mass_c: dict[str, np.ndarray] = {}
    for c in CHANNELS:
        cols_l, lens, data = [], [], []
        m = np.zeros(n_u)
        idf = index.idf[c]
        for i, f in enumerate(feats):
            col, unseen = index.lookup(c, f[c])
            w = idf[col].astype(np.float64)
            m[i] = w.sum() + unseen * unseen_w
            nz = w > 0
            cols_l.append(col[nz])
            lens.append(int(nz.sum()))
            data.append(w[nz])
        indptr = np.zeros(n_u + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(lens)
        q = sp.csr_matrix((np.concatenate(data) if data else np.zeros(0),
                           np.concatenate(cols_l) if cols_l else np.zeros(0, dtype=np.int64), indptr),
                          shape=(n_u, len(idf)))
        shared = (q @ index.matT(c)).tocoo()
        denom = np.maximum(m[shared.row], index.mass[c][shared.col].astype(np.float64))
        vals = np.where(denom > 0, shared.data / np.where(denom > 0, denom, 1.0), 0.0)
        chan[c] = sp.csr_matrix((np.minimum(vals, 1.0), (shared.row, shared.col)), shape=(n_u, n_r))
        mass_c[c] = m
        mass += ALPHA[c] * m
    return chan, mass_c, mass


def _pair_scores(index, sf: SourceFile, chan: dict, mass_c: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, unit score, file-score unit score) over every candidate/reference unit pair that
    shares a feature or a whole-unit digest.

    An equal digest makes the pair a copy (the unit-level answer, e.g. a one-line method copied
    with a model name changed; identical normalised streams are copies whatever their features
    weigh). For the FILE score, tokens (digest or fingerprints) count only for functions, methods
    and units long enough to be specific: a short class body or module remainder
    (`@N(S) class N(N.N): pass`, `N = N; N = S`) is identical once masked in many unrelated files,
    and its weight (its rare names) would otherwise lift the whole file. Its names and structure
    still count.
    """
    n_r = len(index.unit_file)
    d_rows, d_cols = index.digest_matches([unit_digest(u.masked) for u in sf.units])
    coos = {c: chan[c].tocoo() for c in CHANNELS}
    all_keys = [coos[c].row.astype(np.int64) * n_r + coos[c].col for c in CHANNELS]
    all_keys.append(d_rows * n_r + d_cols)
    keys, inv = np.unique(np.concatenate(all_keys), return_inverse=True)
    s_vals = {}
    off = 0
    for c, k in zip(CHANNELS, all_keys):
        arr = np.zeros(len(keys))
        arr[inv[off:off + len(k)]] = coos[c].data
        s_vals[c] = arr
        off += len(k)
    d_idx = inv[off:]
    specific = np.array([len(u.masked) >= MIN_BODY_TOKENS or u.kind in ("function", "method")
                         for u in sf.units], dtype=bool)
    rows, cols = keys // max(n_r, 1), keys % max(n_r, 1)

    def scored(tok: np.ndarray) -> np.ndarray:
        chans = {**s_vals, "tok": tok}
        present = {c: ((mass_c[c][rows] > 0) | (index.mass[c][cols] > 0) | (chans[c] > 0)).astype(np.float64)
                   for c in CHANNELS}
        return combine(chans, present)

    tok_all = s_vals["tok"].copy()
    tok_all[d_idx] = 1.0
    tok_file = np.where(specific[rows], s_vals["tok"], 0.0)  # a short body's one whole-stream hash is no evidence
    tok_file[d_idx[specific[d_rows]]] = 1.0
    return rows, cols, scored(tok_all), scored(tok_file)


def query(index, sf: SourceFile, *, exclude_files: set[int] | None = None) -> Query:
    """Score every unit of `sf` against every reference unit sharing a feature with it."""
    n_u, n_r, n_files = len(sf.units), len(index.unit_file), len(index.files)
    feats = [unit_features(u.masked, u.idents, u.struct) for u in sf.units]
    chan, mass_c, mass = _channel_similarities(index, feats)
    rows, cols, vals, vals_file = _pair_scores(index, sf, chan, mass_c)
    total = sp.coo_matrix((vals, (rows, cols)), shape=(n_u, n_r))
    best = np.zeros((n_u, n_files))
    if len(vals_file):
        np.maximum.at(best, (rows, index.unit_file[cols]), vals_file)
    ident_cols, ident_unseen = index.lookup("ident", set().union(*(f["ident"] for f in feats)) if feats else set())
    jac, cont = identifier_overlap(index, ident_cols, ident_unseen)
    config, module = interface_containment(index, sf.interface)
    ref_cover = _reference_cover(index, cols[vals_file >= T_UNIT_COPY])
    if exclude_files:
        out = sorted(exclude_files)
        for per_file in (config, module, jac, cont, ref_cover):
            per_file[out] = 0.0
        best[:, out] = 0.0
    denom = mass.sum()
    file_score = np.clip((mass @ best) / denom if denom > 0 else np.zeros(n_files), 0.0, 1.0)
    if denom <= 0:
        jac, cont, config, module = (np.zeros(n_files) for _ in range(4))
    return Query(sim=total.tocsr(), channel=chan, mass=mass, best=best, file_score=file_score,
                 ident_jac=jac, ident_cont=cont, rank=(file_score + jac) / 2,
                 config_cont=config, module_cont=module, ref_cover=ref_cover)


def _reference_cover(index, copied_units: np.ndarray) -> np.ndarray:
    """Per reference file, the share of the informative mass of its definitions (functions, methods, class
    bodies; the channel mix, as for candidate units) in units that some candidate unit copies (file-score unit
    score >= T_UNIT_COPY).

    The candidate-side share (`cover`) answers "how much of this file is copied"; this one answers "how much of
    the reference did the file take", which padding the file with unrelated code does not dilute. The module
    remainder (imports, constants, tables) is left out: in some references it is most of the mass (the mapping
    tables of `auto/modeling_auto.py`), and a table of literals matches any other table (docs/code.md)."""
    n_files = len(index.files)
    if index.definition_mass is None:  # per index, not per query: each unit's and each file's definitions' mass
        mass = sum(ALPHA[c] * index.mass[c].astype(np.float64) for c in CHANNELS)
        mass = np.where(np.asarray(index.unit_name) == "<module>", 0.0, mass)
        index.definition_mass = (mass, np.bincount(index.unit_file, weights=mass, minlength=n_files))
    mass, total = index.definition_mass
    units = np.unique(copied_units)
    taken = np.bincount(index.unit_file[units], weights=mass[units], minlength=n_files)
    return np.where(total > 0, taken / np.where(total > 0, total, 1.0), 0.0)


def best_pairs(index, q: Query, file_id: int) -> list[tuple[int, int, float]]:
    """(candidate unit, reference unit, score) of the best match of each candidate unit inside one file."""
    a, b = int(index.file_units[file_id]), int(index.file_units[file_id + 1])
    sub = q.sim[:, a:b].toarray()
    out = []
    for i in range(sub.shape[0]):
        if sub.shape[1] == 0:
            break
        j = int(np.argmax(sub[i]))
        if sub[i, j] > 0:
            out.append((i, a + j, float(sub[i, j])))
    return out


def _order_key(name: str) -> bytes:
    return hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()


def calibration_null(index, parsed: list[tuple[str, SourceFile]], *,
                     size: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three nulls from reference files scored as if they were candidates.

    Each of up to `size` reference files (a fixed, name-hashed sample) is scored
    against the index, leaving out itself and every file of its own folder (its own
    model).

    1. Pair null: the pooled rank scores against all other files — what a file
       scores against code it was not taken from, in the same corpus and role. Copy
       families inside the corpus land in this pool too and only make p-values
       larger (conservative). Sorted, subsampled to at most 20,000 values.
    2. Port null: `port.gap_statistic` of the identifier containment over the files
       the pseudo-candidate is not linked to, i.e. the statistic when the corpus holds
       no origin of the file. One value per pseudo-candidate.
    3. Margin null: the same gap statistic on the rank score (how far the best
       reference stands above the best one not linked to it). It is a maximum over
       the whole index already, so one value per pseudo-candidate is a null for the
       family-wise question "does any reference stand out", which a per-reference
       Bonferroni over the pair null could never answer at 1 % on a large corpus.
    """
    empty = np.zeros(0, dtype=np.float32)
    if len(parsed) < 3:
        return empty, empty, empty
    by_name = {n: i for i, n in enumerate(index.files)}
    order = sorted(parsed, key=lambda x: _order_key(x[0]))[:size]
    vals, gaps, margins = [], [], []
    for name, sf in order:
        fi = by_name[name]
        same = {j for j, g in enumerate(index.groups) if g == index.groups[fi]}
        q = query(index, sf, exclude_files=same)
        keep = np.ones(len(index.files), dtype=bool)
        keep[sorted(same)] = False
        vals.append(q.rank[keep])
        if q.mass.sum() > 0:
            gap = pseudo_candidate_gap(index, fi, q.ident_cont)
            if gap is not None:
                gaps.append(gap)
            margin = pseudo_candidate_gap(index, fi, q.rank)
            if margin is not None:
                margins.append(margin)
    pool = np.sort(np.concatenate(vals)).astype(np.float32) if vals else empty
    if len(pool) > 20000:
        pool = pool[np.linspace(0, len(pool) - 1, 20000).round().astype(np.int64)]
    return pool, np.sort(np.asarray(gaps, dtype=np.float32)), np.sort(np.asarray(margins, dtype=np.float32))


def p_value(null: np.ndarray, score: float) -> float | None:
    """Conformal p-value (1 + #{null >= s}) / (n + 1); None without a null."""
    if len(null) == 0:
        return None
    ge = len(null) - int(np.searchsorted(null, score, side="left"))
    return (1 + ge) / (len(null) + 1)
