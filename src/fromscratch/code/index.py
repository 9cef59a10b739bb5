"""The reference index: a corpus fingerprinted once, queried one way many times.

WHY: the references (a whole transformers, vLLM or SGLang release) are large and
stable while candidates change, so the corpus is parsed once into sparse binary
unit x feature matrices per channel, with the inverse document frequency of every
feature and the calibration null. A query multiplies a candidate's few units by
these matrices: candidate -> corpus, never all pairs.

On disk it is a compressed `.npz` read with `allow_pickle=False` (plain arrays and
one JSON blob; nothing executable), so an index from an untrusted source cannot
run code.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import scipy.sparse as sp

from fromscratch.code.fingerprint import CHANNELS, interface_hash, unit_digest, unit_features
from fromscratch.code.lang import SourceFile
from fromscratch.code.sources import Skipped, list_sources, read_source
from fromscratch.errors import InputError

FORMAT = "fromscratch.code-index/5"  # 5: module names are constructed assignments only (interface.py); 4: + file interface table; 3: + rank-margin null; 2: rank-score pair null and port null; 1: file-score nulls


@dataclass
class Index:
    """A fingerprinted reference corpus (see module docstring)."""

    files: list[str]                 # reference_file names (root prefix + relative path)
    groups: list[str]                # the model of each file (`_groups`): files of one model share it
    texts: list[str]                 # source text, for line-level evidence and the HTML view
    unit_file: np.ndarray            # int32 [n_units]
    unit_start: np.ndarray           # int32 [n_units]
    unit_end: np.ndarray             # int32 [n_units]
    unit_name: list[str]
    file_units: np.ndarray           # int64 [n_files + 1]: units of file i are file_units[i]:file_units[i+1]
    vocab: dict[str, np.ndarray]     # sorted uint64 feature ids per channel
    idf: dict[str, np.ndarray]       # float32 per vocab entry
    mat: dict[str, sp.csr_matrix]    # binary units x vocab per channel
    mass: dict[str, np.ndarray]      # float32 [n_units]: sum of idf of the unit's features
    n_docs: int
    digest: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))  # per unit
    null: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    null_port: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    null_margin: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # file-level interface table (`interface.py`): sorted name ids, their idf, binary files x names
    iface_vocab: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    iface_idf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    iface_mat: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))
    iface_config: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per name: a configuration key
    # derived on first use, never saved
    _matT: dict[str, sp.csr_matrix] = field(default_factory=dict, repr=False)
    _digest_order: np.ndarray | None = field(default=None, repr=False)
    file_ident: tuple[sp.csr_matrix, np.ndarray] | None = field(default=None, repr=False)  # see port.py
    linked: dict[int, np.ndarray] = field(default_factory=dict, repr=False)                # see port.py
    definition_mass: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # see score.py

    def idf_unseen(self) -> float:
        """Weight of a feature the corpus never contains: the rarest possible."""
        return float(idf_weights(np.zeros(1, dtype=np.int64), self.n_docs)[0])

    def matT(self, channel: str) -> sp.csr_matrix:
        if channel not in self._matT:
            self._matT[channel] = self.mat[channel].T.tocsr()
        return self._matT[channel]

    def digest_matches(self, digests: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(position in `digests`, reference unit) pairs with equal whole-unit digests (0 = no digest)."""
        empty = np.zeros(0, dtype=np.int64)
        if not len(self.digest):
            return empty, empty
        if self._digest_order is None:
            self._digest_order = np.argsort(self.digest, kind="stable")
        order = self._digest_order
        sorted_d = self.digest[order]
        rows, cols = [], []
        for i, d in enumerate(digests):
            if d == 0:
                continue
            a = np.searchsorted(sorted_d, np.uint64(d), side="left")
            b = np.searchsorted(sorted_d, np.uint64(d), side="right")
            if b > a:
                rows.append(np.full(b - a, i, dtype=np.int64))
                cols.append(order[a:b].astype(np.int64))
        if not rows:
            return empty, empty
        return np.concatenate(rows), np.concatenate(cols)

    def interface_lookup(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found, position) of each interface name in the interface vocabulary (`interface.py`)."""
        voc = self.iface_vocab
        if not names or not len(voc):
            return np.zeros(len(names), dtype=bool), np.zeros(len(names), dtype=np.int64)
        ids = np.fromiter((interface_hash(n) for n in names), dtype=np.uint64, count=len(names))
        pos = np.minimum(np.searchsorted(voc, ids), len(voc) - 1)
        return voc[pos] == ids, pos

    def lookup(self, channel: str, feats: set[int]) -> tuple[np.ndarray, int]:
        """Column ids of the features the corpus knows, and how many it does not."""
        if not feats:
            return np.zeros(0, dtype=np.int64), 0
        arr = np.fromiter(feats, dtype=np.uint64, count=len(feats))
        voc = self.vocab[channel]
        pos = np.searchsorted(voc, arr)
        pos_c = np.minimum(pos, max(len(voc) - 1, 0))
        ok = (pos < len(voc)) & (voc[pos_c] == arr) if len(voc) else np.zeros(len(arr), dtype=bool)
        cols = np.sort(pos_c[ok])
        return cols, int(len(arr) - ok.sum())


def boilerplate_cut(n_docs: int) -> float:
    """Document frequency from which a feature weighs nothing: a quarter of the corpus (at least 20 files)."""
    return max(20.0, 0.5 * n_docs)


def idf_weights(df: np.ndarray, n_docs: int) -> np.ndarray:
    """Inverse document frequency with a boilerplate cut-off.

    w(f) = log((cut + 0.5) / (df + 0.5)), clipped at 0, with cut = boilerplate_cut(N):
    the usual log-inverse frequency, shifted so that a feature found in a quarter of
    all reference files or more (imports, framework idiom, licence headers) weighs
    exactly zero and is not even stored — which is also what keeps queries sparse.
    """
    cut = boilerplate_cut(n_docs)
    return np.maximum(np.log((cut + 0.5) / (np.asarray(df, dtype=np.float64) + 0.5)), 0.0).astype(np.float32)


def parse_refs(spec: str | Path) -> tuple[str, Path]:
    """`NAME=PATH` or PATH -> (prefix, path); the prefix defaults to the root's last folder name."""
    s = str(spec)
    if "=" in s and not Path(s).exists():
        name, _, path = s.partition("=")
        if not name or "/" in name:
            raise InputError(s, "expected NAME=PATH with a plain NAME")
        return name, Path(path)
    p = Path(s)
    if p.is_file():
        return p.resolve().parent.name or "ref", p
    return p.resolve().name or "ref", p


GROUP_MAX = 10  # a folder with more files than this is a collection of models, not one model


def _groups(files: list[str]) -> list[str]:
    """The model each reference file belongs to: its folder, when the folder is one model's
    (transformers' `models/llama/` holds its PyTorch, TF and Flax files, which must not count as
    unrelated to each other); the file itself in a flat collection such as vLLM's
    `model_executor/models/` or ggml's `ggml-cuda/` (hundreds of models or kernels in one folder,
    which would otherwise all be "the same model" and leave no unrelated files for the nulls)."""
    folders = [str(PurePosixPath(n).parent) for n in files]
    size: dict[str, int] = {}
    for f in folders:
        size[f] = size.get(f, 0) + 1
    return [f if size[f] <= GROUP_MAX else n for f, n in zip(folders, files)]


def build_index(refs: list[str | Path], *, progress=None, null_size: int = 200) -> Index:
    """Parse and fingerprint every source file under the given reference roots."""
    parsed: list[tuple[str, SourceFile]] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for spec in refs:
        prefix, root = parse_refs(spec)
        entries = list_sources(root)
        for rel, path in entries:
            name = f"{prefix}/{rel}"
            if name in seen:
                raise InputError(spec, f"two references are both named {name!r}; give them distinct NAME= prefixes")
            seen.add(name)
            res = read_source(rel, path)
            if isinstance(res, Skipped):
                skipped.append((name, res.reason))
                continue
            parsed.append((name, res))
            if progress:
                progress(1)
    if not parsed:
        raise InputError(", ".join(map(str, refs)), "no readable source files among the references")
    return index_from_sources(parsed, skipped, null_size=null_size)


def index_from_sources(parsed: list[tuple[str, SourceFile]], skipped: list[tuple[str, str]] | None = None,
                       *, null_size: int = 200) -> Index:
    """Build the matrices and IDF tables from parsed files (in the given order)."""
    parsed = sorted(parsed, key=lambda x: x[0])
    files = [n for n, _ in parsed]
    unit_feats: list[dict[str, set[int]]] = []
    unit_file, unit_start, unit_end, unit_name, digests = [], [], [], [], []
    file_units = [0]
    for fi, (_, sf) in enumerate(parsed):
        for u in sf.units:
            unit_feats.append(unit_features(u.masked, u.idents, u.struct))
            digests.append(unit_digest(u.masked))
            unit_file.append(fi)
            unit_start.append(u.start)
            unit_end.append(u.end)
            unit_name.append(u.name)
        file_units.append(len(unit_feats))
    n_docs = len(files)
    vocab, idf, mat, mass = {}, {}, {}, {}
    for c in CHANNELS:
        all_ids = [np.fromiter(f[c], dtype=np.uint64, count=len(f[c])) for f in unit_feats]
        cat = np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=np.uint64)
        voc = np.unique(cat)
        # document frequency over files (a feature counts once per file)
        per_file = []
        for fi in range(n_docs):
            a, b = file_units[fi], file_units[fi + 1]
            if b > a:
                per_file.append(np.unique(np.concatenate(all_ids[a:b])))
        df = np.zeros(len(voc), dtype=np.int64)
        if per_file:
            np.add.at(df, np.searchsorted(voc, np.concatenate(per_file)), 1)
        w = idf_weights(df, n_docs)
        m = _binary_rows(all_ids, voc, w)
        vocab[c], idf[c], mat[c] = voc, w, m
        mass[c] = np.asarray(m @ w.astype(np.float64)).astype(np.float32).ravel()
    index = Index(
        files=files, groups=_groups(files), texts=[sf.text for _, sf in parsed],
        unit_file=np.asarray(unit_file, dtype=np.int32), unit_start=np.asarray(unit_start, dtype=np.int32),
        unit_end=np.asarray(unit_end, dtype=np.int32), unit_name=unit_name,
        file_units=np.asarray(file_units, dtype=np.int64), vocab=vocab, idf=idf, mat=mat, mass=mass,
        n_docs=n_docs, skipped=list(skipped or []), digest=np.asarray(digests, dtype=np.uint64),
    )
    index.iface_vocab, index.iface_idf, index.iface_mat, index.iface_config = _interface_table(
        [sf.interface for _, sf in parsed])
    from fromscratch.code.score import calibration_null  # the null needs the scorer

    index.null, index.null_port, index.null_margin = calibration_null(index, parsed, size=null_size)
    return index


def _binary_rows(rows: list[np.ndarray], voc: np.ndarray, w: np.ndarray) -> sp.csr_matrix:
    """Rows x vocabulary, 1 where a row has the feature. Boilerplate features (weight 0) stay in the
    vocabulary (so a query knows they are common, not new) but get no matrix entries: they cannot create
    or score a match."""
    cat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.uint64)
    cols = np.searchsorted(voc, cat).astype(np.int32)
    keep = w[cols] > 0
    row_of = np.repeat(np.arange(len(rows)), [len(a) for a in rows])
    m = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (row_of[keep], cols[keep])), shape=(len(rows), len(voc)))
    m.sort_indices()
    return m


def _interface_table(names: list[list[str]]) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """Files x interface names (binary), with the same boilerplate-cut idf as the unit channels, and which
    names are configuration keys (`c:`) rather than module names (`m:`)."""
    ids = [np.unique(np.fromiter((interface_hash(n) for n in ns), dtype=np.uint64, count=len(ns))) for ns in names]
    cat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64)
    voc = np.unique(cat)
    w = idf_weights(np.bincount(np.searchsorted(voc, cat), minlength=len(voc)), len(names))
    m = _binary_rows(ids, voc, w)
    config = np.zeros(len(voc), dtype=bool)
    config[np.searchsorted(voc, np.fromiter((interface_hash(n) for ns in names for n in ns if n.startswith("c:")),
                                            dtype=np.uint64))] = True
    return voc, w, m, config


def save_index(index: Index, path: str | Path) -> None:
    """Write the index as a compressed npz (plain arrays + a JSON header)."""
    meta = {"format": FORMAT, "files": index.files, "groups": index.groups, "unit_name": index.unit_name,
            "n_docs": index.n_docs, "skipped": index.skipped}
    texts = [t.encode("utf-8") for t in index.texts]
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
        "text_blob": np.frombuffer(b"".join(texts), dtype=np.uint8),
        "text_off": np.cumsum([0] + [len(t) for t in texts]).astype(np.int64),
        "unit_file": index.unit_file, "unit_start": index.unit_start, "unit_end": index.unit_end,
        "file_units": index.file_units, "null": index.null.astype(np.float32), "digest": index.digest,
        "null_port": index.null_port.astype(np.float32), "null_margin": index.null_margin.astype(np.float32),
    }
    arrays["iface_vocab"], arrays["iface_idf"] = index.iface_vocab, index.iface_idf
    arrays["iface_config"] = index.iface_config.astype(np.uint8)
    arrays["iface_indptr"] = index.iface_mat.indptr.astype(np.int64)
    arrays["iface_indices"] = index.iface_mat.indices.astype(np.int32)
    for c in CHANNELS:
        arrays[f"{c}_vocab"] = index.vocab[c]
        arrays[f"{c}_idf"] = index.idf[c]
        arrays[f"{c}_indptr"] = index.mat[c].indptr.astype(np.int64)
        arrays[f"{c}_indices"] = index.mat[c].indices.astype(np.int32)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    Path(path).write_bytes(buf.getvalue())


def is_index_file(path: Path) -> bool:
    """True when `path` is a zip holding our index header (cheap check, no full load)."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return "meta.npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _csr(indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int], what: str) -> sp.csr_matrix:
    """A binary CSR matrix from stored arrays, checked first: scipy's products trust the arrays, and an index
    file with an out-of-range column or a broken row pointer would read outside them."""
    n_rows, n_cols = shape
    if indptr.ndim != 1 or len(indptr) != n_rows + 1 or (len(indptr) and (indptr[0] != 0 or indptr[-1] != len(indices))) \
            or np.any(np.diff(indptr) < 0):
        raise ValueError(f"{what}: broken row pointers")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_cols):
        raise ValueError(f"{what}: column out of range")
    return sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=shape)


def load_index(path: str | Path) -> Index:
    """Read an index written by `save_index`; anything else is an InputError."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise InputError(p, f"not a {FORMAT} file (an index from another version: rebuild it with `fromscratch code index`)")
            blob = bytes(z["text_blob"])
            off = z["text_off"]
            texts = [blob[off[i]:off[i + 1]].decode("utf-8") for i in range(len(off) - 1)]
            n_units = len(z["unit_file"])
            vocab, idf, mat, mass = {}, {}, {}, {}
            for c in CHANNELS:
                vocab[c] = z[f"{c}_vocab"]
                idf[c] = z[f"{c}_idf"]
                if len(idf[c]) != len(vocab[c]):
                    raise ValueError(f"{c}: idf and vocabulary differ in length")
                mat[c] = _csr(z[f"{c}_indices"], z[f"{c}_indptr"], (n_units, len(vocab[c])), c)
                mass[c] = np.asarray(mat[c] @ idf[c].astype(np.float64)).astype(np.float32).ravel()
            n_files = len(meta["files"])
            iface_mat = _csr(z["iface_indices"], z["iface_indptr"], (n_files, len(z["iface_vocab"])), "interface")
            if not (len(z["iface_idf"]) == len(z["iface_config"]) == len(z["iface_vocab"])):
                raise ValueError("interface: table lengths differ")
            fu, uf = z["file_units"], z["unit_file"]
            if len(fu) != n_files + 1 or (len(fu) and (fu[0] != 0 or fu[-1] != n_units)) or np.any(np.diff(fu) < 0) \
                    or (n_units and (uf.min() < 0 or uf.max() >= n_files)) or len(texts) != n_files \
                    or len(z["digest"]) not in (0, n_units) or len(meta["unit_name"]) != n_units \
                    or len(meta["groups"]) != n_files or len(z["unit_start"]) != n_units or len(z["unit_end"]) != n_units:
                raise ValueError("unit and file tables disagree")
            return Index(files=meta["files"], groups=meta["groups"], texts=texts, unit_file=z["unit_file"],
                         unit_start=z["unit_start"], unit_end=z["unit_end"], unit_name=meta["unit_name"],
                         file_units=z["file_units"], vocab=vocab, idf=idf, mat=mat, mass=mass,
                         n_docs=int(meta["n_docs"]), null=z["null"], digest=z["digest"], null_port=z["null_port"],
                         null_margin=z["null_margin"], iface_vocab=z["iface_vocab"], iface_idf=z["iface_idf"],
                         iface_mat=iface_mat, iface_config=z["iface_config"].astype(bool),
                         skipped=[tuple(s) for s in meta.get("skipped", [])])
    except InputError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError,
            RecursionError, TypeError, AttributeError, IndexError) as exc:
        raise InputError(p, f"not a readable code index ({type(exc).__name__})") from exc
