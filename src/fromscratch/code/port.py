"""File-level identifier overlap and the port test.

WHY: a port between frameworks (a vLLM or MLX model file re-implementing a
transformers one) rewrites the code around the model, so its token and structure
scores against the origin are barely above those of unrelated files. What a port
keeps is the origin's vocabulary: class names, attribute names (checkpoints are
loaded by name), config keys. So the identifier channel is also compared file to
file: as an idf-weighted Jaccard of the two identifier sets (half of the ranking
score) and as the containment of the reference's identifiers in the candidate
(the share of the reference's vocabulary, by weight, that the candidate
reproduces), which the port test uses.

Port statistic for a candidate with identifier containment C over the reference files:
    j* = argmax C,   gap = C[j*] - max{ C[k] : k not linked to j* }
where k is linked to j* when they are in the same folder or one file has >= LINK_COVER
of its informative token mass in units copied (token score >= T_LINK_UNIT) from
the other. Linked files are left out because transformers-style corpora hold
families of near-identical files (llama / mistral / qwen2): a port of llama scores
high against all of them, and that is not evidence against it. The null is the
same statistic for reference files scored as candidates over only the files they
are not linked to (the corpus holds no origin of them); see `pseudo_candidate_gap`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

LINK_COVER = 0.05  # share of a file's informative token mass in copied units from which two files are "linked"
T_LINK_UNIT = 0.70  # token score from which a unit counts as copied (the unit copy threshold, score.T_UNIT_COPY)


def _file_by_unit(index) -> sp.csr_matrix:
    n_u = len(index.unit_file)
    return sp.csr_matrix((np.ones(n_u), (index.unit_file.astype(np.int64), np.arange(n_u))),
                         shape=(len(index.files), n_u))


def file_identifiers(index) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary files x identifier-vocabulary matrix and each file's idf mass (cached on the index)."""
    if index.file_ident is None:
        m = (_file_by_unit(index) @ index.mat["ident"]).tocsr()
        m.data[:] = 1.0
        index.file_ident = (m, np.asarray(m @ index.idf["ident"].astype(np.float64)).ravel())
    return index.file_ident


def identifier_overlap(index, cols: np.ndarray, unseen: int) -> tuple[np.ndarray, np.ndarray]:
    """A file's identifier set (known columns + unseen count) against every reference file, idf-weighted:
    (Jaccard, containment of the reference's identifiers in the file)."""
    m, mass = file_identifiers(index)
    w = index.idf["ident"].astype(np.float64)
    v = np.zeros(len(w))
    v[cols] = w[cols]
    inter = np.asarray(m @ v).ravel()
    own = float(v.sum()) + unseen * index.idf_unseen()
    union = own + mass - inter
    jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    cont = np.where(mass > 0, inter / np.where(mass > 0, mass, 1.0), 0.0)
    return jac, cont


def interface_containment(index, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Share of each reference file's configuration keys and of its module names (`interface.py`), by idf
    weight, that a file's interface names reproduce: (config share, module share)."""
    n_files = len(index.files)
    m, voc = index.iface_mat, index.iface_vocab
    if not names or not len(voc) or m.shape[0] != n_files or len(index.iface_config) != len(voc):
        return np.zeros(n_files), np.zeros(n_files)
    found, pos = index.interface_lookup(names)
    w = index.iface_idf.astype(np.float64)
    have = np.zeros(len(w))
    have[pos[found]] = 1.0
    out = []
    for kind in (index.iface_config, ~index.iface_config):
        wk = np.where(kind, w, 0.0)
        inter = np.asarray(m @ (wk * have)).ravel()
        mass = np.asarray(m @ wk).ravel()
        out.append(np.where(mass > 0, inter / np.where(mass > 0, mass, 1.0), 0.0))
    return out[0], out[1]


def linked_files(index, fid: int) -> np.ndarray:
    """Boolean mask of reference files linked to file `fid` (same folder, or copied units either way)."""
    if fid in index.linked:
        return index.linked[fid]
    n_files = len(index.files)
    a, b = int(index.file_units[fid]), int(index.file_units[fid + 1])
    mask = np.array([g == index.groups[fid] for g in index.groups], dtype=bool)
    if b > a:
        w = index.idf["tok"].astype(np.float64)
        mat = index.mat["tok"]
        mass = index.mass["tok"].astype(np.float64)
        shared = (mat[a:b].multiply(w[None, :]).tocsr() @ index.matT("tok")).tocoo()
        denom = np.maximum(mass[a:b][shared.row], mass[shared.col])
        s = np.where(denom > 0, shared.data / np.where(denom > 0, denom, 1.0), 0.0)
        copied = s >= T_LINK_UNIT
        rows, cols = shared.row[copied], shared.col[copied]
        # identical normalised units are copies whatever their features weigh
        d_rows, d_cols = index.digest_matches(index.digest[a:b].tolist())
        rows, cols = np.concatenate([rows, d_rows]), np.concatenate([cols, d_cols])
        file_mass = np.bincount(index.unit_file, weights=mass, minlength=n_files)
        if len(rows):
            # fid -> k: share of fid's mass in units with a copied partner in k
            pair = np.unique(rows.astype(np.int64) * n_files + index.unit_file[cols])
            out_mass = np.bincount(pair % n_files, weights=mass[a:b][pair // n_files], minlength=n_files)
            # k -> fid: share of k's mass in units with a copied partner in fid
            ref_units = np.unique(cols)
            in_mass = np.bincount(index.unit_file[ref_units], weights=mass[ref_units], minlength=n_files)
            own = file_mass[fid]
            with np.errstate(invalid="ignore", divide="ignore"):
                mask |= (out_mass / max(own, 1e-12)) >= LINK_COVER
                mask |= np.where(file_mass > 0, in_mass / np.where(file_mass > 0, file_mass, 1.0), 0.0) >= LINK_COVER
    mask[fid] = True
    index.linked[fid] = mask
    return mask


def gap_statistic(index, cont: np.ndarray, allowed: np.ndarray | None = None) -> tuple[float | None, int]:
    """(gap, j*): how far the best reference's identifier containment stands above every unlinked one.

    j* is -1 when no reference shares an identifier; the gap is None when every
    reference is linked to j* (nothing to compare with: no test).
    """
    v = cont if allowed is None else np.where(allowed, cont, -1.0)
    if len(v) == 0 or v.max() <= 0:
        return None, -1
    top = int(np.argmax(v))
    rest = ~linked_files(index, top)
    if allowed is not None:
        rest &= allowed
    if not rest.any():
        return None, top
    return float(v[top] - v[rest].max()), top


def pseudo_candidate_gap(index, fid: int, cont: np.ndarray) -> float | None:
    """The gap statistic of reference file `fid` over the files not linked to it (None if too few)."""
    allowed = ~linked_files(index, fid)
    if allowed.sum() < 10:
        return None
    gap, top = gap_statistic(index, cont, allowed)
    return 0.0 if top < 0 else gap
