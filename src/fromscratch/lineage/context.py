"""What one candidate/reference comparison shares between its steps.

``PairContext`` holds the two fingerprints, their unit profiles indexed by
component, the residual alignments once found, and memos of the expensive
pieces (anchor tests, whitened anchor tables, prepared unit profiles). Every
step of a comparison (``identical``, ``alignment``, ``tables``, ``blocks``,
``norms``, ``layermap``) reads and fills it; none keeps state of its own.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict, defaultdict
from concurrent.futures import Future
from typing import Any

import numpy as np

from fromscratch.lineage import stats
from fromscratch.lineage.alignment import (
    EVIDENCE_PARTS,
    Alignment,
    aligned_profile,
    anchor_rows,
)
from fromscratch.lineage.fingerprint import Fingerprint


def kind_of(comp: dict[str, Any]) -> str:
    """A component's kind for counterpart matching (cross-attention is its own kind)."""
    if comp["name"].endswith(".cross_attention"):
        return "cross_attention"
    return comp["kind"]


def learned_tensors(comp: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in comp["tensors"] if t["learned"] and not t["constant"]]


def prof_index(fp: Fingerprint) -> dict[str, dict[tuple[str, str], np.ndarray]]:
    """component -> {(role, expert-or-tower): profile}."""
    out: dict[str, dict[tuple[str, str], np.ndarray]] = defaultdict(dict)
    for k, v in fp.arrays.items():
        if k.startswith("prof|"):
            _, comp, role, extra = k.split("|", 3)
            out[comp][(role, extra)] = v
    return out


def seed_of(base: int, *parts: Any) -> int:
    """A seed derived from the comparison's seed and a name (FNV-1a of their repr)."""
    h = 1469598103934665603
    for ch in repr((base, parts)).encode():
        h = ((h ^ ch) * 1099511628211) & ((1 << 63) - 1)
    return h


def digest(a: np.ndarray | None) -> str | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


class Once:
    """A memo that several threads may share: each key is computed once, later askers wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Any, Future] = {}

    def get(self, key: Any, compute) -> Any:
        with self._lock:
            fut = self._futures.get(key)
            mine = fut is None
            if mine:
                fut = self._futures[key] = Future()
        if mine:
            try:
                fut.set_result(compute())
            except BaseException as exc:
                fut.set_exception(exc)
                raise
        return fut.result()

    def clear(self) -> None:
        with self._lock:
            self._futures.clear()


class Lru:
    """A memo shared by threads, bounded in bytes: the most recently used values that fit are kept.

    Two threads asking for a missing key at once may both compute it (values
    are deterministic, so which one is kept does not matter).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._values: OrderedDict[Any, tuple[Any, int]] = OrderedDict()

    def get(self, key: Any, compute) -> Any:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key][0]
        value = compute()
        size = _nbytes(value)
        with self._lock:
            if key not in self._values:
                self._values[key] = (value, size)
                self._bytes += size
            while self._bytes > self.max_bytes and len(self._values) > 1:
                _, (_, gone) = self._values.popitem(last=False)
                self._bytes -= gone
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    return 64


#: bytes of standardised response profiles kept per comparison (a SmolLM2 MLP matrix's is 1.2 MB)
RESPONSE_MEMO_BYTES = 24 << 20


class CandidateMemo:
    """Candidate-side work that comparisons of one candidate with several references share (audit).

    Prepared unit profiles and whitened anchor tables depend only on the
    candidate's fingerprint and on the alignment, split, unit count and seed
    they were made with; they are memoised under all of these, so a reference
    whose alignment differs gets its own and results never depend on sharing.
    """

    def __init__(self, cand: Fingerprint) -> None:
        self.fingerprint = cand
        self.prepared = Once()
        self.whitened = Once()


def _vocab(fp: Fingerprint) -> int | None:
    for c in fp.components():
        if c["name"] == "embed_tokens":
            for t in c["tensors"]:
                if t["role"] == "weight" and len(t["shape"]) == 2:
                    return int(t["shape"][0])
    return None


def _ids_comparable(cand: Fingerprint, ref: Fingerprint) -> bool:
    """Token ids pair rows when a side has no token strings and the vocabularies are equally long.

    With strings on both sides the strings pair rows (robust to a re-ordered
    vocabulary) and ids are never used.
    """
    some = "ids" in (cand.meta.get("row_keys"), ref.meta.get("row_keys"))
    return some and _vocab(cand) is not None and _vocab(cand) == _vocab(ref)


class PairContext:
    """One candidate fingerprint against one reference fingerprint: inputs, alignments, memos."""

    def __init__(self, cand: Fingerprint, ref: Fingerprint, *, seed: int = 0,
                 shared: CandidateMemo | None = None) -> None:
        if shared is not None and shared.fingerprint is not cand:
            raise ValueError("a CandidateMemo serves the candidate fingerprint it was made for")
        self.c, self.r, self.seed = cand, ref, seed
        self.cand_memo = shared if shared is not None else CandidateMemo(cand)
        self.cprof, self.rprof = prof_index(cand), prof_index(ref)
        self.ccomps = cand.components()
        self.rcomps = ref.components()
        self.rby_name = {c["name"]: c for c in self.rcomps}
        self.anchors: dict[tuple[str, str], stats.AnchorResult] = {}
        self.alignments: dict[tuple[str, str], list[Alignment]] = {}
        self.row_kind: dict[tuple[str, str], str] = {}   # tower pair -> rows that paired them (see alignment)
        self.prepared: dict[tuple, stats.PreparedUnits] = {}
        self.anchor_memo = Once()     # anchor test results
        self.whiten_memo = Once()     # whitened reference tables (large: cleared when a run ends)
        self.responses = Lru(RESPONSE_MEMO_BYTES)  # standardised token-response profiles (rotation tier)
        self.ids_ok = _ids_comparable(cand, ref)
        #: anchor parts that stand for token rows, and those that may align residual streams
        self.token_parts = {"tokens", "ids"} if self.ids_ok else {"tokens"}
        self.evidence_parts = EVIDENCE_PARTS | self.token_parts

    def rows(self, fp: Fingerprint, tower: str, parts: set[str] | None, head: bool = False):
        """``alignment.anchor_rows``; a head keyed by ids alone counts only when ids are comparable."""
        if head and fp.meta.get("row_keys") == "ids" and not self.ids_ok:
            return None, None, None
        return anchor_rows(fp, tower, parts, head=head)

    def probes(self, tower: str, rtower: str):
        """The shared probe tokens of a tower pair (``rotation.Probes``), made once."""
        from fromscratch.lineage.rotation import Probes

        key = ("probes", tower, rtower)
        return self.anchor_memo.get(key, lambda: Probes(self, tower, rtower))

    def anchor_test(self, cand: tuple, ref: tuple, tag: tuple):
        """anchor_test on the rows two tables ((keys, rows, where) each) share, memoised on the shared keys.

        Each side's table of shared rows is whitened once per compare (the same
        table meets several others), recognised by where its rows are stored.
        """
        (kc, rc_, cwhere), (kr, rr, rwhere) = cand, ref
        if kc is None or kr is None:
            return None, 0
        common, ic, ir = np.intersect1d(kc, kr, assume_unique=False, return_indices=True)
        if len(ic) < 8:
            return None, 0
        key = (tag, hashlib.sha256(common.tobytes()).hexdigest(), (len(ic), *rc_.shape[1:]), (len(ir), *rr.shape[1:]))
        res = self.anchor_memo.get(key, lambda: stats.anchor_test(
            self.whitened("c", cwhere, ic, rc_), self.whitened("r", rwhere, ir, rr),
            seed=seed_of(self.seed, "anchor", *tag), whitened=True))
        return res, len(ic)

    def whitened(self, side: str, where: tuple, pick: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``stats.whiten`` of ``rows[pick]`` (as float32, as the test has always read them), memoised."""
        name, idx = where
        stored = pick if idx is None else idx[pick]
        key = (side, name, hashlib.sha256(np.asarray(stored, dtype=np.int64).tobytes()).hexdigest())
        memo = self.cand_memo.whitened if side == "c" else self.whiten_memo
        return memo.get(key, lambda: stats.whiten(rows[pick].astype(np.float32)))

    def prep(self, side: str, comp: str, role: str, extra: str, al: Alignment,
             units: int = 256) -> stats.PreparedUnits:
        """One side's unit profile under an alignment, split and normalised (memoised)."""
        key = (side, comp, role, extra, al.key, units)
        got = self.prepared.get(key)
        if got is None:
            if side == "c":
                signs = None if al.all_positive else al.signs
                ckey = (comp, role, extra, units, self.seed, digest(al.c_pos), digest(signs),
                        digest(al.split[0]), digest(al.split[1]))
                got = self.cand_memo.prepared.get(ckey, lambda: stats.prepare_units(
                    aligned_profile(self.cprof[comp][(role, extra)], al.c_pos, signs), *al.split, max_units=units,
                    seed=seed_of(self.seed, "units", comp, role, extra)))
            else:
                y = aligned_profile(self.rprof[comp][(role, extra)], al.r_pos, None)
                got = stats.prepare_units(y, *al.split)
            self.prepared[key] = got
        return got
