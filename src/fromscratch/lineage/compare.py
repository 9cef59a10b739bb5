"""Compare two fingerprints component by component (the engine behind ``compare``).

Order of evidence, per candidate component:

1. **identical** -- every learned tensor has the SHA-256 of a reference tensor, or
   equals the same-named reference tensor at 1,024 fixed positions within the
   rounding error of the coarser of the two storage types;
2. **anchor tests** (embeddings, lm_head, learned positions, patch / audio
   front-ends): residual-coordinate correspondence through a model-independent
   row basis (``stats.anchor_test``); the anchor of a whole tower also yields
   the coordinate map used for the blocks;
3. **unit tests** (attention, MLP, experts, router, projector): matched hidden
   units scored on held-out residual coordinates (``stats.unit_test``), under
   the identity alignment (same width) and, only when the tower's anchor is
   already significant, under the anchor's coordinate map; reference layers are
   searched exhaustively (Bonferroni over them) and a monotone layer map is
   found by dynamic programming for the report;
4. **norms** -- naive cosine and centred correlation, supporting evidence only.

p-values are then Holm-adjusted over the tested components of this pair.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from fromscratch.lineage import stats
from fromscratch.lineage.fingerprint import ANCHOR_PARTS, Fingerprint, unpack_profile

#: anchor rows that are evidence and may align residual streams (front-end filters are not: they converge)
EVIDENCE_PARTS = {"tokens", "positions"}
#: decision thresholds (fixed; see docs/lineage.md)
DERIVED_P = 1e-6
INDEPENDENT_P = 0.01
#: screening stops once this many reference blocks match with p below this
SCREEN_STOP_P = 1e-12
#: candidate experts tested per MoE layer (each against every reference expert or dense MLP)
MAX_EXPERTS = 8
#: full unit tests are run on this many best-screened reference layers per candidate layer
SCREEN_KEEP = 3

_TOL = [("F64", 1e-9), ("F32", 1e-6), ("F16", 2e-3), ("BF16", 6e-3), ("F8", 0.08), ("I8", 0.02), ("Q8", 0.02),
        ("Q6", 0.04), ("Q5", 0.07), ("Q4", 0.14), ("IQ4", 0.14), ("Q3", 0.25), ("Q2", 0.4), ("IQ", 0.4)]


def dtype_tolerance(dtype: str) -> float:
    """Relative RMS error a round trip through ``dtype`` can introduce."""
    d = (dtype or "").upper()
    for prefix, tol in _TOL:
        if d.startswith(prefix):
            return tol
    return 0.02


COUNTERPART_KINDS = {
    "attention": {"attention"}, "cross_attention": {"cross_attention", "attention"},
    "mlp": {"mlp", "experts"}, "experts": {"mlp", "experts"}, "router": {"router"}, "projector": {"projector"},
}


def _kind_of(comp: dict[str, Any]) -> str:
    name = comp["name"]
    if name.endswith(".cross_attention"):
        return "cross_attention"
    return comp["kind"]


def _learned_tensors(comp: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in comp["tensors"] if t["learned"] and not t["constant"]]


def _prof_index(fp: Fingerprint) -> dict[str, dict[tuple[str, str], np.ndarray]]:
    """component -> {(role, expert-or-tower): profile}."""
    out: dict[str, dict[tuple[str, str], np.ndarray]] = defaultdict(dict)
    for k, v in fp.arrays.items():
        if k.startswith("prof|"):
            _, comp, role, extra = k.split("|", 3)
            out[comp][(role, extra)] = v
    return out


#: a component of a kind the reference does not have at all cannot have been taken from it
_NO_COUNTERPART: dict[str, Any] = {
    "p_raw": 1.0, "similarity": 0.0, "reference": None, "reference_layer": None, "powered": True,
    "evidence": {"statistic": "no counterpart: the reference has no component of this kind"}}


class _Alignment:
    """How candidate residual coordinates in one tower map to the reference's."""

    def __init__(self, name: str, c_coords: np.ndarray, r_coords: np.ndarray, signs: np.ndarray,
                 c_pos: np.ndarray, r_pos: np.ndarray) -> None:
        self.name = name
        self.c_pos, self.r_pos, self.signs = c_pos, r_pos, signs
        self.c_coords, self.r_coords = c_coords, r_coords
        self.size = len(c_pos)
        self.key = name
        self.all_positive = bool(np.all(signs == 1))
        self.split: tuple[np.ndarray, np.ndarray] | None = None


def _aligned_profile(p: np.ndarray, pos: np.ndarray, signs: np.ndarray | None) -> np.ndarray:
    """``unpack_profile(p)[:, pos] * signs[None, :]``: the same floats in the same memory layout.

    Cheaper: the columns are taken from the int8 codes before they are scaled
    (each value is still code * row scale in float32), and ``signs=None`` stands
    for all +1 (multiplying by 1 changes nothing).
    """
    if p.dtype == np.int8:
        scale = np.ascontiguousarray(p[:, :4]).view(np.float32)
        x = p[:, 4:][:, pos].astype(np.float32) * scale
    else:
        x = unpack_profile(p)[:, pos]
    return x if signs is None else x * signs[None, :]


def _identity_alignment(cc: np.ndarray, rc: np.ndarray) -> _Alignment | None:
    common, ci, ri = np.intersect1d(cc, rc, return_indices=True)
    if len(common) == 0:
        return None
    return _Alignment("identity", common, common, np.ones(len(common), np.float32), ci, ri)


def _anchor_alignment(cc: np.ndarray, rc: np.ndarray, res: stats.AnchorResult) -> _Alignment | None:
    if res.mapping is None or res.confident is None:
        return None
    conf = set(int(i) for i in res.confident)
    rpos = {int(v): i for i, v in enumerate(rc)}
    c_pos, r_pos, sg, used = [], [], [], set()
    for i, c in enumerate(cc):
        c = int(c)
        if c not in conf:
            continue
        r = int(res.mapping[c])
        if r in rpos and r not in used:
            used.add(r)
            c_pos.append(i)
            r_pos.append(rpos[r])
            sg.append(res.signs[c])
    if not c_pos:
        return None
    return _Alignment("anchor", cc[np.asarray(c_pos)], rc[np.asarray(r_pos)], np.asarray(sg, np.float32),
                      np.asarray(c_pos), np.asarray(r_pos))


def _anchor_rows(fp: Fingerprint, tower: str, parts: set[str] | None, head: bool = False):
    """(keys, rows, where) of a tower's anchor table; ``where`` = (stored array, its row indices or None for all)."""
    if head:
        k, r = fp.arrays.get(f"head_keys|{tower}"), fp.arrays.get(f"head_rows|{tower}")
        return (k, r, (f"head_rows|{tower}", None)) if k is not None else (None, None, None)
    k = fp.arrays.get(f"anchor_keys|{tower}")
    if k is None:
        return None, None, None
    r = fp.arrays[f"anchor_rows|{tower}"]
    idx = None
    if parts is not None:
        codes = fp.arrays[f"anchor_part|{tower}"]
        sel = np.isin(codes, [ANCHOR_PARTS.index(p) for p in parts])
        k, r, idx = k[sel], r[sel], np.flatnonzero(sel)
    return k, r, (f"anchor_rows|{tower}", idx)


class _Once:
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


def _workers() -> int:
    """Threads for one compare: two only where this process may use two CPUs and one is idle now.

    With every core already busy a second thread only adds contention (about 10 %
    slower on the shared 2-core machine, against about 25 % faster with a core
    free). The runnable-task count of ``/proc/loadavg`` is an instantaneous look;
    the choice never changes a result, only the time.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    if n < 2:
        return 1
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            running = int(fh.read().split()[3].split("/")[0])  # this thread included
    except (OSError, ValueError, IndexError):
        return 2
    return 2 if running - 1 <= n - 2 else 1


def _seed(base: int, *parts: Any) -> int:
    h = 1469598103934665603
    for ch in repr((base, parts)).encode():
        h = ((h ^ ch) * 1099511628211) & ((1 << 63) - 1)
    return h


def _digest(a: np.ndarray | None) -> str | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


class CandidateMemo:
    """Candidate-side work that comparisons of one candidate with several references share (audit).

    Prepared unit profiles and whitened anchor tables depend only on the
    candidate's fingerprint and on the alignment, split, unit count and seed
    they were made with; they are memoised under all of these, so a reference
    whose alignment differs gets its own and results never depend on sharing.
    """

    def __init__(self, cand: Fingerprint) -> None:
        self.fingerprint = cand
        self.prepared = _Once()
        self.whitened = _Once()


class Comparison:
    """One candidate fingerprint against one reference fingerprint."""

    def __init__(self, cand: Fingerprint, ref: Fingerprint, *, seed: int = 0,
                 shared: CandidateMemo | None = None) -> None:
        if shared is not None and shared.fingerprint is not cand:
            raise ValueError("a CandidateMemo serves the candidate fingerprint it was made for")
        self.c, self.r, self.seed = cand, ref, seed
        self._cand = shared if shared is not None else CandidateMemo(cand)
        self.cprof, self.rprof = _prof_index(cand), _prof_index(ref)
        self.ccomps = cand.components()
        self.rcomps = ref.components()
        self.rby_name = {c["name"]: c for c in self.rcomps}
        self.results: dict[str, dict[str, Any]] = {}
        self.anchors: dict[tuple[str, str], stats.AnchorResult] = {}
        self.alignments: dict[tuple[str, str], list[_Alignment]] = {}
        self.layer_maps: dict[str, dict[int, int]] = {}
        self._prepared: dict[tuple, stats.PreparedUnits] = {}
        self._anchor_memo = _Once()     # anchor test results
        self._whiten_memo = _Once()     # whitened anchor tables (large: cleared when a run ends)
        self._aligned = threading.Event()   # set once ``alignments`` is complete
        self._failed = False

    def _anchor_test(self, cand: tuple, ref: tuple, tag: tuple):
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
        res = self._anchor_memo.get(key, lambda: stats.anchor_test(
            self._whitened("c", cwhere, ic, rc_), self._whitened("r", rwhere, ir, rr),
            seed=_seed(self.seed, "anchor", *tag), whitened=True))
        return res, len(ic)

    def _whitened(self, side: str, where: tuple, pick: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``stats.whiten`` of ``rows[pick]`` (as float32, as the test has always read them), memoised."""
        name, idx = where
        stored = pick if idx is None else idx[pick]
        key = (side, name, hashlib.sha256(np.asarray(stored, dtype=np.int64).tobytes()).hexdigest())
        memo = self._cand.whitened if side == "c" else self._whiten_memo
        return memo.get(key, lambda: stats.whiten(rows[pick].astype(np.float32)))

    def _prep(self, side: str, comp: str, role: str, extra: str, al: _Alignment,
              units: int = 256) -> stats.PreparedUnits:
        key = (side, comp, role, extra, al.key, units)
        got = self._prepared.get(key)
        if got is None:
            if side == "c":
                signs = None if al.all_positive else al.signs
                ckey = (comp, role, extra, units, self.seed, _digest(al.c_pos), _digest(signs),
                        _digest(al.split[0]), _digest(al.split[1]))
                got = self._cand.prepared.get(ckey, lambda: stats.prepare_units(
                    _aligned_profile(self.cprof[comp][(role, extra)], al.c_pos, signs), *al.split, max_units=units,
                    seed=_seed(self.seed, "units", comp, role, extra)))
            else:
                y = _aligned_profile(self.rprof[comp][(role, extra)], al.r_pos, None)
                got = stats.prepare_units(y, *al.split)
            self._prepared[key] = got
        return got

    # ------------------------------------------------------------------ identical
    def _identical(self) -> dict[str, str | None]:
        ref_sha: dict[str, tuple[str, float]] = {}
        ref_t: dict[tuple[str, str, Any], tuple[dict, str]] = {}
        for rc in self.rcomps:
            for t in rc["tensors"]:
                ref_sha.setdefault(t["sha256"], (rc["name"], t["rms"]))
                ref_t[(rc["name"], t["role"], t["expert"])] = (t, rc["name"])
        out: dict[str, str | None] = {}
        for cc in self.ccomps:
            lt = _learned_tensors(cc)
            if not lt:
                continue
            hits: list[str] = []
            for t in lt:
                got = ref_sha.get(t["sha256"])
                if got is not None and abs(got[1] - t["rms"]) <= 1e-6 * max(abs(t["rms"]), 1e-30):
                    hits.append(got[0])
                    continue
                cand = ref_t.get((cc["name"], t["role"], t["expert"]))
                if cand is None or cand[0]["shape"] != t["shape"]:
                    break
                a = self.c.arrays.get(f"sk|{cc['name']}|{t['role']}|{t['expert']}")
                b = self.r.arrays.get(f"sk|{cc['name']}|{t['role']}|{t['expert']}")
                if a is None or b is None or a.shape != b.shape:
                    break
                nb = float(np.linalg.norm(b))
                tol = max(dtype_tolerance(t["dtype"]), dtype_tolerance(cand[0]["dtype"]))
                if nb == 0 or float(np.linalg.norm(a - b)) / nb > tol:
                    break
                hits.append(cand[1])
            else:
                out[cc["name"]] = Counter(hits).most_common(1)[0][0] if hits else None
        return out

    # ------------------------------------------------------------------ anchors
    def _tower_pairs(self) -> list[tuple[str, str]]:
        ct = sorted(self.c.meta["towers"])
        rt = sorted(self.r.meta["towers"])
        pairs = []
        for a in ct:
            for b in rt:
                kc = _anchor_rows(self.c, a, EVIDENCE_PARTS)[0]
                kr = _anchor_rows(self.r, b, EVIDENCE_PARTS)[0]
                shared = 0 if kc is None or kr is None else len(np.intersect1d(kc, kr))
                same_dim = self.c.tower_dim(a) == self.r.tower_dim(b)
                if shared >= 8 or same_dim:
                    pairs.append((a, b))
        return pairs

    def _setup_alignments(self) -> None:
        try:
            self._setup_alignments_()
        except BaseException:
            self._failed = True
            raise
        finally:
            self._aligned.set()

    def _setup_alignments_(self) -> None:
        for a, b in self._tower_pairs():
            res, _ = self._anchor_test(_anchor_rows(self.c, a, EVIDENCE_PARTS), _anchor_rows(self.r, b, EVIDENCE_PARTS),
                                       ("rows", a, b, False, False))
            aligns: list[_Alignment] = []
            cc = self.c.arrays.get(f"coords|{a}")
            rc = self.r.arrays.get(f"coords|{b}")
            if res is not None:
                self.anchors[(a, b)] = res
                if res.p_value < DERIVED_P and cc is not None and rc is not None:
                    al = _anchor_alignment(cc, rc, res)
                    if al is not None:
                        aligns.append(al)
            if cc is not None and rc is not None and self.c.tower_dim(a) == self.r.tower_dim(b):
                al = _identity_alignment(cc, rc)
                redundant = bool(aligns) and float(np.mean(aligns[0].c_coords == aligns[0].r_coords)) >= 0.9
                if al is not None and not redundant:
                    aligns.append(al)
            for al in aligns:
                al.key = f"{al.name}:{a}->{b}"
                al.split = stats.split_coords(al.size, _seed(self.seed, "split", al.key))
            self.alignments[(a, b)] = aligns

    # ------------------------------------------------------------------ unit tests
    def _pair_test(self, ccomp: dict, rcomp: dict, al: _Alignment, roles: list[str] | None,
                   tag: str) -> tuple[float, float, int, bool, list[dict]]:
        """Bonferroni-combined unit tests over the matrices two components share."""
        cpro, rpro = self.cprof.get(ccomp["name"], {}), self.rprof.get(rcomp["name"], {})
        tests = []
        experts = sorted({extra for (_, extra) in cpro}, key=lambda e: (len(e), e))
        keep_experts = set(experts[:MAX_EXPERTS])
        for (role, extra) in sorted(cpro):
            if roles is not None and role not in roles:
                continue
            if extra not in keep_experts:
                continue
            targets = [(rr, re_) for (rr, re_) in sorted(rpro) if rr == role]
            for rr, re_ in targets:
                if al.size < 8:
                    continue
                screen = tag == "screen"
                res = stats.unit_test_prepared(self._prep("c", ccomp["name"], role, extra, al, 64 if screen else 256),
                                               self._prep("r", rcomp["name"], rr, re_, al), light=screen)
                tests.append({"role": role, "expert": extra, "reference_expert": re_, "alignment": al.name,
                              "p": res.p_value, "z": res.z, "similarity": res.similarity,
                              "units": res.units, "coords": res.coords, "powered": res.powered})
        if not tests:
            return 1.0, 0.0, 0, False, []
        p = stats.bonferroni_min([t["p"] for t in tests])
        best = min(tests, key=lambda t: (t["p"], -t["similarity"]))
        powered = any(t["powered"] for t in tests)
        return p, best["similarity"], len(tests), powered, tests

    def _block_groups(self) -> list[tuple[str, str, list[dict]]]:
        """Candidate block components by (tower, kind), in the order they are tested."""
        by_group: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for cc in self.ccomps:
            kind = _kind_of(cc)
            if kind in COUNTERPART_KINDS and cc["name"] in self.cprof:
                by_group[(cc["tower"], kind)].append(cc)
        return [(ctower, kind, ccs) for (ctower, kind), ccs in sorted(by_group.items())]

    def _tested_components(self, workers: int | None = None) -> dict[str, dict[str, Any]]:
        """Alignments, then the results of the anchor components and of every block group.

        With two workers the anchor components start at once in a second thread
        (their anchor tests need no alignment; their row tests wait for it) while
        this thread computes the alignments; then both threads take block groups
        until none is left. The tasks share only memos whose values do not depend
        on who computes them first (anchor tests and whitened tables are computed
        once, other threads wait for them; prepared profiles are the same whoever
        prepares them), and the large products release the GIL. The merged dict
        has the sequential order (anchor components, then groups sorted by tower and
        kind), so results do not depend on ``workers``.
        """
        workers = _workers() if workers is None else workers
        groups = self._block_groups()
        done: dict[int, dict[str, dict[str, Any]]] = {}
        if workers <= 1:
            self._setup_alignments()
            anchored = self._anchor_components()
            for i, g in enumerate(groups):
                done[i] = self._block_group(*g)
        else:
            todo = list(enumerate(groups))
            lock = threading.Lock()

            def drain() -> None:
                while not self._failed:
                    with lock:
                        if not todo:
                            return
                        i, g = todo.pop(0)
                    try:
                        done[i] = self._block_group(*g)
                    except BaseException:
                        self._failed = True
                        raise

            def side() -> dict[str, dict[str, Any]]:
                try:
                    res = self._anchor_components()
                except BaseException:
                    self._failed = True
                    raise
                drain()
                return res

            with ThreadPoolExecutor(max_workers=1) as pool:
                fut = pool.submit(side)
                try:
                    self._setup_alignments()
                    drain()
                except BaseException:
                    self._failed = True  # the other thread stops after its current task
                    raise
                anchored = fut.result()
        out = dict(anchored)
        for i in range(len(groups)):
            out.update(done[i])
        return out

    def _block_group(self, ctower: str, kind: str, ccs: list[dict]) -> dict[str, dict[str, Any]]:
        """Unit tests of one group of candidate blocks; returns their results (name -> result)."""
        screen_role = {"attention": ["q"], "cross_attention": ["q"], "mlp": ["up"],
                       "experts": ["up"], "router": None, "projector": None}
        out: dict[str, dict[str, Any]] = {}
        for cc in ccs:
            best: dict[str, Any] | None = None
            candidates: list[tuple[float, dict, _Alignment, str]] = []
            todo: list[tuple[float, int, dict, _Alignment, str]] = []
            n_ref = 0
            for (a, b), aligns in self.alignments.items():
                if a != ctower and kind != "projector":
                    continue
                refs = [rc for rc in self.rcomps
                        if (rc["tower"] == b or kind == "projector")
                        and _kind_of(rc) in COUNTERPART_KINDS[kind] and rc["name"] in self.rprof]
                n_layers_r = max([rc["layer"] or 0 for rc in refs] + [0]) + 1
                n_layers_c = max([c["layer"] or 0 for c in ccs] + [0]) + 1
                for rc in refs:
                    n_ref += 1
                    # nearest to the proportional diagonal first (plain, pruned and up-scaled copies)
                    dist = abs((rc["layer"] or 0) / n_layers_r - (cc["layer"] or 0) / n_layers_c)
                    for ai, al in enumerate(aligns):
                        if kind == "projector":
                            al = self._projector_alignment(cc, rc)
                            if al is None:
                                continue
                        todo.append((dist, ai, rc, al, b))
            todo.sort(key=lambda x: (x[0], x[1], x[2]["name"]))
            strong = 0
            for dist, ai, rc, al, b in todo:
                p, sim, _, _, _ = self._pair_test(cc, rc, al, screen_role[kind], "screen")
                candidates.append((p, rc, al, b))
                # early exit: enough reference blocks already match beyond doubt; the Bonferroni
                # factor below still counts every block that could have been chosen
                strong += p < SCREEN_STOP_P
                if strong >= 1 and len(candidates) >= SCREEN_KEEP:
                    break
            if not candidates:
                out[cc["name"]] = self._no_alignment_result(cc, kind)
                continue
            candidates.sort(key=lambda x: (x[0], x[1]["name"], x[2].name))
            keep, names = [], []
            for p, rc, al, b in candidates:
                if rc["name"] not in names:
                    if len(names) >= SCREEN_KEEP:
                        continue
                    names.append(rc["name"])
                keep.append((rc, al))
            n_align = max(1, max(len(v) for v in self.alignments.values()) if self.alignments else 1)
            for rc, al in keep:
                p, sim, ntest, powered, tests = self._pair_test(cc, rc, al, None, "full")
                if best is None or (p, -sim) < (best["p_pair"], -best["similarity"]):
                    best = {"p_pair": p, "similarity": sim, "reference": rc["name"],
                            "reference_layer": rc["layer"], "alignment": al.name, "powered": powered,
                            "tests": tests}
            assert best is not None
            # Bonferroni over every reference component and alignment that could have been chosen
            factor = max(1, n_ref) * n_align
            p_raw = min(1.0, best["p_pair"] * factor)
            out[cc["name"]] = {
                "p_raw": p_raw, "similarity": best["similarity"], "reference": best["reference"],
                "reference_layer": best["reference_layer"], "powered": best["powered"],
                "evidence": {"statistic": "matched-unit sign-flip test", "alignment": best["alignment"],
                             "bonferroni_factor": factor,
                             "matrices": [{k: v for k, v in t.items()} for t in best["tests"]]},
            }
        return out

    def _no_alignment_result(self, cc: dict, kind: str) -> dict[str, Any]:
        """No coordinate alignment to test units under: say why, and whether that is evidence.

        When the tower's anchor test had power and found no residual-stream
        correspondence and the widths differ, no block of the candidate can
        carry the reference's units in the reference's coordinates; the
        component is then reported independent with the anchor's p-value (the
        documented blind spot: a re-initialised embedding over rotated or
        permuted reused blocks).
        """
        has_counterpart = any(_kind_of(rc) in COUNTERPART_KINDS.get(kind, set()) for rc in self.rcomps)
        if not has_counterpart:
            return {**_NO_COUNTERPART, "evidence": dict(_NO_COUNTERPART["evidence"])}
        anchors = [(b, res) for (a, b), res in sorted(self.anchors.items()) if a == cc["tower"]]
        powered = [(b, res) for b, res in anchors if res.powered]
        if powered:
            b, res = min(powered, key=lambda x: x[1].p_value)
            return {"p_raw": min(1.0, res.p_value * len(anchors)), "similarity": 0.0, "reference": None,
                    "reference_layer": None, "powered": res.p_value > INDEPENDENT_P,
                    "evidence": {"statistic": "no residual-stream correspondence (anchor test)",
                                 "reference_tower": b, "shared_rows": res.rows, **res.detail}}
        return {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0, "reference": None, "powered": False,
                "reason": "widths differ and no anchor (tokenizer, patch or position table) to align the residual streams"}

    def _projector_alignment(self, cc: dict, rc: dict) -> _Alignment | None:
        ctw = {k[1] for k in self.cprof.get(cc["name"], {})}
        rtw = {k[1] for k in self.rprof.get(rc["name"], {})}
        for a in sorted(ctw):
            for b in sorted(rtw):
                for al in self.alignments.get((a, b), []):
                    return al
        return None

    # ------------------------------------------------------------------ anchor-type components
    def _anchor_plan(self) -> list[tuple[dict, str, set[str], bool]]:
        """(component, tower, anchor parts, is a head) of every candidate table given an anchor test."""
        plan = []
        for cc in self.ccomps:
            name = cc["name"]
            if cc["kind"] == "embedding" and name.endswith(("embed_tokens", "embed_positions")):
                part = {"embed_tokens": {"tokens"}, "embed_positions": {"positions"}}[name.rsplit(".", 1)[-1]]
                plan.append((cc, cc["tower"], part, False))
            elif cc["kind"] == "lm_head":
                plan.append((cc, cc["tower"], {"tokens"}, True))
        return plan

    def _anchor_tests_ahead(self) -> None:
        """Run (memoise) the anchor components' anchor tests, which need no alignment.

        Heads first: the alignments, computed meanwhile by another thread, start
        with the embeddings' tables.
        """
        for _, tower, part, head in reversed(self._anchor_plan()):
            ctable = _anchor_rows(self.c, tower, part, head=head)
            if ctable[0] is None or len(ctable[0]) == 0:
                continue
            for b in sorted(self.r.meta["towers"]):
                for use_head in ([True, False] if "tokens" in part else [False]):
                    rtable = _anchor_rows(self.r, b, part, head=use_head)
                    if rtable[0] is None or len(rtable[0]) == 0:
                        continue
                    self._anchor_test(ctable, rtable, ("rows", tower, b, head, use_head))

    def _anchor_components(self) -> dict[str, dict[str, Any]]:
        """Embeddings and heads; returns their results (name -> result). Waits for the alignments."""
        self._anchor_tests_ahead()
        self._aligned.wait()
        out: dict[str, dict[str, Any]] = {}
        for cc in self.ccomps:
            name = cc["name"]
            tower = cc["tower"]
            if cc["kind"] == "embedding" and name.endswith("embed_patches") and not any(
                    rc["name"].endswith("embed_patches") for rc in self.rcomps):
                out[name] = {**_NO_COUNTERPART, "evidence": dict(_NO_COUNTERPART["evidence"])}
            elif cc["kind"] == "embedding" and name.endswith("embed_patches"):
                out[name] = {
                    "relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0, "reference": None, "powered": False,
                    "reason": "first-layer filters (patch / audio convolution) converge across independent models "
                              "(Whisper tiny.en vs base: median held-out filter correlation 0.64), so only exact "
                              "copies (identical) count; no calibrated test"}
            elif cc["kind"] == "embedding" and name.endswith(("embed_tokens", "embed_positions")):
                part = {"embed_tokens": {"tokens"}, "embed_positions": {"positions"},
                        "embed_patches": {"patch", "conv1"}}[name.rsplit(".", 1)[-1]]
                out[name] = self._anchor_component(cc, tower, part, head=False)
            elif cc["kind"] == "lm_head":
                out[name] = self._anchor_component(cc, tower, {"tokens"}, head=True)
        return out

    def _anchor_component(self, cc: dict, tower: str, part: set[str], head: bool) -> dict[str, Any]:
        """Embedding-like tables: the anchor test plus a matched-row unit test.

        The anchor test needs no alignment; the unit test treats the table's rows
        (tokens, positions) as units under each residual alignment of the tower
        and has the exact sign-flip null, which also works for short tables.
        """
        ctable = _anchor_rows(self.c, tower, part, head=head)
        kc, rc_ = ctable[:2]
        if kc is None or len(kc) == 0:
            return {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0, "reference": None,
                    "powered": False, "reason": "no model-independent rows (no tokenizer / anchor)"}
        tests: list[dict[str, Any]] = []
        for b in sorted(self.r.meta["towers"]):
            for use_head in ([True, False] if "tokens" in part else [False]):
                rtable = _anchor_rows(self.r, b, part, head=use_head)
                kr, rr = rtable[:2]
                if kr is None or len(kr) == 0:
                    continue
                rname = self._ref_component_name(b, part, use_head)
                res, _ = self._anchor_test(ctable, rtable, ("rows", tower, b, head, use_head))
                if res is not None:
                    tests.append({"p": res.p_value, "similarity": res.similarity, "powered": res.powered,
                                  "reference": rname, "statistic": "anchor coordinate-correspondence test",
                                  "shared_rows": res.rows, **res.detail})
                for al in self.alignments.get((tower, b), []):
                    cco, rco = self.c.arrays[f"coords|{tower}"], self.r.arrays[f"coords|{b}"]
                    if al.size < 8 or len(rc_) == 0 or len(rr) == 0:
                        continue
                    x = rc_[:, cco[al.c_pos]].astype(np.float32) * al.signs[None, :]
                    y = rr[:, rco[al.r_pos]].astype(np.float32)
                    c1, c2 = al.split
                    ures = stats.unit_test_prepared(
                        stats.prepare_units(x, c1, c2, max_units=256, seed=_seed(self.seed, "rows", cc["name"])),
                        stats.prepare_units(y, c1, c2))
                    tests.append({"p": ures.p_value, "similarity": ures.similarity, "powered": ures.powered,
                                  "reference": rname, "statistic": "matched-row sign-flip test",
                                  "alignment": al.name, "rows": ures.units, "coords": ures.coords})
        base = cc["name"].rsplit(".", 1)[-1]
        if not tests and not any(rc["name"].rsplit(".", 1)[-1] == base or (head and rc["kind"] == "embedding")
                                 for rc in self.rcomps):
            return {**_NO_COUNTERPART, "evidence": dict(_NO_COUNTERPART["evidence"])}
        if not tests:
            return {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0, "reference": None, "powered": False,
                    "reason": "fewer than 8 rows shared with the reference and no residual alignment"}
        best = min(tests, key=lambda t: (t["p"], -t["similarity"]))
        powered = any(t["powered"] for t in tests)
        return {
            "p_raw": stats.bonferroni_min([t["p"] for t in tests]), "similarity": best["similarity"],
            "reference": best["reference"], "reference_layer": None, "powered": powered,
            "evidence": {"bonferroni_factor": len(tests), "tests": tests},
            **({} if powered else {"reason": "too few shared rows or aligned coordinates for a powered test"}),
        }

    def _ref_component_name(self, tower: str, part: set[str], head: bool) -> str | None:
        prefix = "" if tower == "text" else tower + "."
        if head:
            return prefix + "lm_head"
        name = {"tokens": "embed_tokens", "positions": "embed_positions", "patch": "embed_patches",
                "conv1": "embed_patches"}[sorted(part)[0]]
        return prefix + name if (prefix + name) in self.rby_name else None

    # ------------------------------------------------------------------ norms
    def _norm_components(self) -> None:
        vec_c = {k: v for k, v in self.c.arrays.items() if k.startswith("vec|")}
        vec_r = {k: v for k, v in self.r.arrays.items() if k.startswith("vec|")}
        for cc in self.ccomps:
            if cc["kind"] != "norm" and not any(k.startswith(f"vec|{cc['name']}|") for k in vec_c):
                continue
            if cc["kind"] != "norm":
                continue
            keys = sorted(k for k in vec_c if k.startswith(f"vec|{cc['name']}|"))
            if not keys:
                reason = ("constant (still at its initial value): not learned, never evidence"
                          if cc["tensors"] and all(t["constant"] for t in cc["tensors"]) else "no residual-indexed vector")
                self.results[cc["name"]] = {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0,
                                            "reference": None, "powered": False, "reason": reason, "norm": True}
                continue
            rname = self._norm_partner(cc)
            pairs = []  # (role, candidate vector, reference vector)
            for k in keys:
                role = k.split("|")[2]
                rk = f"vec|{rname}|{role}|None" if rname else None
                if rk not in vec_r:
                    cands = sorted(x for x in vec_r if rname and x.startswith(f"vec|{rname}|"))
                    rk = cands[0] if cands else None
                if rk is not None:
                    pairs.append((role, vec_c[k], vec_r[rk]))
            rows: list[dict[str, Any]] = []
            combined: list[tuple[float, float]] = []
            rt = self._rtower(rname)
            aligns = [al for al in self.alignments.get((cc["tower"], rt), []) if al.size >= 8]
            for al in aligns:
                cpos = self.c.arrays[f"coords|{cc['tower']}"][al.c_pos]
                rpos = self.r.arrays[f"coords|{rt}"][al.r_pos]
                xs = [gc[cpos] * 1.0 for _, gc, _ in pairs]
                ys = [gr[rpos] * 1.0 for _, _, gr in pairs]
                p, z, per = stats.norm_group_test(xs, ys)
                combined.append((p, z))
                if not rows or p < min(c[0] for c in combined[:-1]):
                    rows = []
                    for (role, gc, gr), res in zip(pairs, per):
                        naive = None
                        if gc.shape == gr.shape:
                            nn = float(np.linalg.norm(gc) * np.linalg.norm(gr))
                            naive = float(gc @ gr / nn) if nn else None
                        rows.append({"role": role, "naive_cosine": naive, "centred_correlation": res.centred_correlation,
                                     "p": res.p_value, "n": res.n, "alignment": al.name})
            if not rows:
                self.results[cc["name"]] = {"relation": "inconclusive", "p_raw": 1.0, "similarity": 0.0,
                                            "reference": rname, "powered": False, "norm": True,
                                            "reason": "no aligned residual coordinates to compare norm weights on"}
                continue
            p = stats.bonferroni_min([c[0] for c in combined])
            naive = [r["naive_cosine"] for r in rows if r["naive_cosine"] is not None]
            self.results[cc["name"]] = {
                "p_raw": p, "similarity": float(max(0.0, max(r["centred_correlation"] for r in rows))),
                "reference": rname, "reference_layer": self.rby_name.get(rname, {}).get("layer") if rname else None,
                "powered": min(r["n"] for r in rows) >= 64, "norm": True,
                "naive_cosine": float(np.mean(naive)) if naive else None,
                "evidence": {"statistic": "centred correlation of norm weights, Fisher z combined over the "
                                          "component's vectors with their within-model dependence",
                             "vectors": rows},
            }

    def _rtower(self, rname: str | None) -> str:
        if not rname:
            return "text"
        head = rname.split(".", 1)[0]
        return head if head in {"vision", "audio"} else "text"

    def _norm_partner(self, cc: dict) -> str | None:
        layer = cc["layer"]
        prefix = "" if cc["tower"] == "text" else cc["tower"] + "."
        if layer is None:
            return cc["name"] if cc["name"] in self.rby_name else None
        for sub in ("attention", "mlp", "experts"):
            res = self.results.get(f"{prefix}layers.{layer}.{sub}")
            ref = res.get("reference") if res else None
            if ref and res.get("p_raw", 1) < INDEPENDENT_P and "." in ref:
                # the norm of the reference block this block matched (possibly in another tower)
                name = ref.rsplit(".", 1)[0] + ".norm"
                if name in self.rby_name:
                    return name
        return cc["name"] if cc["name"] in self.rby_name else None

    # ------------------------------------------------------------------ layer map (report)
    def _layer_map(self) -> None:
        for kind in ("attention", "mlp"):
            rows = [(c["layer"], c["name"]) for c in self.ccomps
                    if _kind_of(c) == kind and c["tower"] == "text" and c["name"] in self.results]
            rl = sorted({r["layer"] for r in self.rcomps if _kind_of(r) == kind and r["tower"] == "text"})
            if not rows or not rl:
                continue
            ev = np.zeros((len(rows), len(rl)))
            for i, (_, name) in enumerate(rows):
                res = self.results[name]
                if res.get("reference_layer") in rl and res["p_raw"] < DERIVED_P:
                    ev[i, rl.index(res["reference_layer"])] = -math.log10(max(res["p_raw"], 1e-300))
            path = stats.monotone_layer_map(ev)
            self.layer_maps[kind] = {rows[i][0]: rl[j] for i, j in enumerate(path) if ev[i, j] > 0}

    # ------------------------------------------------------------------ calibration
    def pair_pvalues(self) -> list[dict[str, Any]]:
        """Every component-pair p-value the tool computes, before any correction over layers.

        For calibration on known-independent pairs: one entry per (candidate
        component, reference component, alignment) with the p-value of that
        single comparison (anchor tests and Bonferroni over the matrices of the
        pair only), i.e. the raw material the thresholds act on.
        """
        self._setup_alignments()
        out: list[dict[str, Any]] = []
        for (a, b), res in sorted(self.anchors.items()):
            out.append({"kind": "anchor", "candidate": a, "reference": b, "p": res.p_value, "powered": res.powered})
        for cc in self.ccomps:
            kind = _kind_of(cc)
            if kind not in COUNTERPART_KINDS or cc["name"] not in self.cprof or kind == "projector":
                continue
            for (a, b), aligns in sorted(self.alignments.items()):
                if a != cc["tower"]:
                    continue
                for rc in self.rcomps:
                    if rc["tower"] != b or _kind_of(rc) not in COUNTERPART_KINDS[kind] or rc["name"] not in self.rprof:
                        continue
                    for al in aligns:
                        p, sim, n, powered, _ = self._pair_test(cc, rc, al, None, "full")
                        if n:
                            out.append({"kind": kind, "candidate": cc["name"], "reference": rc["name"],
                                        "alignment": al.name, "p": p, "powered": powered})
        return out

    # ------------------------------------------------------------------ run
    def run(self) -> list[dict[str, Any]]:
        try:
            identical = self._identical()
            self.results.update(self._tested_components())
            self._norm_components()
            self._layer_map()
            return self._finish(identical)
        finally:
            self._whiten_memo.clear()

    def _finish(self, identical: dict[str, str | None]) -> list[dict[str, Any]]:
        tested = sorted(n for n, r in self.results.items() if not r.get("norm") and r.get("relation") is None)
        adj = dict(zip(tested, stats.holm([self.results[n]["p_raw"] for n in tested])))
        derived_layers: set[tuple[str, int]] = set()
        any_block_derived = False
        out: list[dict[str, Any]] = []
        for cc in self.ccomps:
            name = cc["name"]
            res = self.results.get(name)
            item: dict[str, Any] = {
                "name": name, "kind": cc["kind"], "layer": cc["layer"], "reference_name": None,
                "reference_layer": None, "relation": "inconclusive", "basis": None, "p_value": 1.0,
                "similarity": 0.0, "parameters": int(cc["parameters"]),
            }
            learned = cc["learned_parameters"] > 0 and bool(_learned_tensors(cc))
            if res is not None and not res.get("norm"):
                p = adj.get(name, res.get("p_raw", 1.0))
                item["p_value"] = float(p)
                item["p_raw"] = float(res.get("p_raw", 1.0))
                item["similarity"] = float(res.get("similarity", 0.0))
                item["reference_name"] = res.get("reference")
                item["reference_layer"] = res.get("reference_layer")
                if res.get("relation"):
                    item["relation"] = res["relation"]
                elif p < DERIVED_P:
                    item["relation"] = "derived"
                elif p > INDEPENDENT_P and res.get("powered"):
                    item["relation"] = "independent"
                elif p > INDEPENDENT_P:
                    item["reason"] = res.get("reason") or "the test lacked power (too little comparable material)"
                else:
                    item["reason"] = "some evidence of correspondence, below the derived threshold"
                if "reason" in res and "reason" not in item and item["relation"] == "inconclusive":
                    item["reason"] = res["reason"]
                if "evidence" in res:
                    item["evidence"] = res["evidence"]
            if name in identical and not (cc["kind"] == "norm") and learned:
                item["relation"] = "identical"
                item["reference_name"] = identical[name] or item["reference_name"]
                item["similarity"] = 1.0
                if name not in adj:
                    item["p_value"] = 0.0
                item.pop("reason", None)
            if item["relation"] in ("identical", "derived"):
                item["basis"] = "unknown"
                if cc["layer"] is not None:
                    derived_layers.add((cc["tower"], cc["layer"]))
                any_block_derived = True
            if not learned and cc["kind"] != "norm":
                item["relation"] = "inconclusive"
                item["reason"] = "no learned tensors (fixed tables, constants): never evidence"
                item["basis"] = None
            out.append(item)
        # norms: supporting evidence only, Holm-adjusted as a family of their own
        norm_names = sorted(n for n, r in self.results.items() if r.get("norm") and not r.get("reason"))
        norm_adj = dict(zip(norm_names, stats.holm([self.results[n]["p_raw"] for n in norm_names])))
        for item, cc in zip(out, self.ccomps):
            res = self.results.get(cc["name"])
            if cc["kind"] != "norm":
                continue
            if res is None:
                item["reason"] = "no comparable norm in the reference"
                continue
            item["p_value"] = float(norm_adj.get(cc["name"], res.get("p_raw", 1.0)))
            item["p_raw"] = float(res.get("p_raw", 1.0))
            item["similarity"] = float(res.get("similarity", 0.0))
            item["reference_name"] = res.get("reference")
            item["reference_layer"] = res.get("reference_layer")
            item["naive_cosine"] = res.get("naive_cosine")
            if "evidence" in res:
                item["evidence"] = res["evidence"]
            supported = (cc["layer"] is None and any_block_derived) or (cc["tower"], cc["layer"]) in derived_layers
            if res.get("reason"):
                item["relation"] = "inconclusive"
                item["reason"] = res["reason"]
            elif supported and item["p_value"] < INDEPENDENT_P:
                item["relation"] = "derived"
                item["basis"] = "unknown"
            elif item["p_value"] > INDEPENDENT_P and res.get("powered"):
                item["relation"] = "independent"
            else:
                item["relation"] = "inconclusive"
                item["reason"] = ("norm weights are never decisive on their own" if item["p_value"] <= INDEPENDENT_P
                                  else "too few aligned coordinates")
        for item in out:
            if item["relation"] == "inconclusive" and not item.get("reason"):
                item["reason"] = "no calibrated statistic for this component kind (only the identical check applies)"
            item["p_value"] = float(max(0.0, min(1.0, item["p_value"])))
            item["similarity"] = float(max(0.0, min(1.0, item["similarity"])))
        return out
