"""Compare two fingerprints component by component (the engine behind ``compare``).

Order of evidence, per candidate component:

1. **identical** (``identical``) -- every learned tensor has the SHA-256 of a
   reference tensor, or equals the same-named reference tensor at 1,024 fixed
   positions within the rounding error of the coarser of the two storage types;
2. **alignment** (``alignment``) -- residual-coordinate correspondence through a
   model-independent row basis (``stats.anchor_test``); the anchor of a whole
   tower yields the coordinate map used for the blocks;
3. **tables** (``tables``: embeddings, lm_head, learned positions, patch /
   audio front-ends) -- the anchor test and matched-row unit tests;
4. **blocks** (``blocks``: attention, MLP, experts, router, projector) -- matched
   hidden units scored on held-out residual coordinates (``stats.unit_test``),
   under the identity alignment (same width) and, only when the tower's anchor
   is already significant, under the anchor's coordinate map; reference layers
   are searched (Bonferroni over them);
5. **norms** (``norms``) -- centred correlation, supporting evidence only;
6. **verdict rules** (``verdict``) -- Holm over the tested components of this
   pair, then the fixed thresholds; the layer map (``layermap``) is descriptive.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fromscratch.lineage import blocks, change, rotation, tables
from fromscratch.lineage.alignment import alignment_summary, setup_alignments
from fromscratch.lineage.blocks import COUNTERPART_KINDS
from fromscratch.lineage.context import CandidateMemo, PairContext, kind_of
from fromscratch.lineage.fingerprint import Fingerprint
from fromscratch.lineage.identical import dtype_tolerance, identical_components
from fromscratch.lineage.layermap import layer_maps
from fromscratch.lineage.norms import norm_components
from fromscratch.lineage.verdict import DERIVED_P, INDEPENDENT_P, component_relations

__all__ = ["DERIVED_P", "INDEPENDENT_P", "CandidateMemo", "Comparison", "default_workers", "dtype_tolerance"]


def default_workers() -> int:
    """Threads for one compare: 2 when this process may use at least two CPUs, else 1.

    The work is many small matrix products that release the GIL; a second thread
    takes block groups in parallel (about 25 % faster with a core free, about
    10 % slower when every core is already busy). The count never changes a
    result, only the time; pass ``workers`` explicitly to choose.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return 2 if n >= 2 else 1


class Comparison:
    """One candidate fingerprint against one reference fingerprint: runs the steps in order."""

    def __init__(self, cand: Fingerprint, ref: Fingerprint, *, seed: int = 0,
                 shared: CandidateMemo | None = None) -> None:
        self.ctx = PairContext(cand, ref, seed=seed, shared=shared)
        self.results: dict[str, dict[str, Any]] = {}
        self.layer_maps: dict[str, dict[int, int]] = {}

    def _tested_components(self, workers: int | None = None) -> dict[str, dict[str, Any]]:
        """Alignments, then the tables and every block group, ``workers`` tasks at a time.

        The tasks share only memos whose values do not depend on who computes
        them first, and the merged dict has the sequential order (tables, then
        block groups sorted by tower and kind), so results do not depend on
        ``workers``.
        """
        ctx = self.ctx
        workers = default_workers() if workers is None else max(1, int(workers))
        setup_alignments(ctx, DERIVED_P)
        groups = blocks.block_groups(ctx)
        tasks = [lambda: tables.table_components(ctx)]
        tasks += [lambda g=g: blocks.block_group(ctx, *g, INDEPENDENT_P, DERIVED_P) for g in groups]
        if workers == 1:
            done = [t() for t in tasks]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                done = list(pool.map(lambda t: t(), tasks))
        out: dict[str, dict[str, Any]] = {}
        for part in done:
            out.update(part)
        return out

    def run(self, workers: int | None = None) -> list[dict[str, Any]]:
        ctx = self.ctx
        try:
            identical = identical_components(ctx)
            self.results.update(self._tested_components(workers))
            self.results.update(norm_components(ctx, self.results, INDEPENDENT_P))
            self.layer_maps = layer_maps(ctx.ccomps, ctx.rcomps, self.results, DERIVED_P)
            items = component_relations(ctx.ccomps, self.results, identical)
            change.annotate(ctx, items)
            return items
        finally:
            ctx.whiten_memo.clear()
            ctx.responses.clear()

    def alignment(self) -> dict[str, Any]:
        """The row correspondence and residual maps used (after ``run``); see ``alignment.alignment_summary``."""
        return alignment_summary(self.ctx)

    def pair_pvalues(self) -> list[dict[str, Any]]:
        """Every component-pair p-value the tool computes, before any correction over layers.

        For calibration on known-independent pairs: one entry per (candidate
        component, reference component, alignment) with the p-value of that
        single comparison (anchor tests and Bonferroni over the matrices of the
        pair only), i.e. the raw material the thresholds act on.
        """
        ctx = self.ctx
        setup_alignments(ctx, DERIVED_P)
        out: list[dict[str, Any]] = []
        for (a, b), res in sorted(ctx.anchors.items()):
            out.append({"kind": "anchor", "candidate": a, "reference": b, "p": res.p_value, "powered": res.powered})
        for cc in ctx.ccomps:
            kind = kind_of(cc)
            if kind not in COUNTERPART_KINDS or cc["name"] not in ctx.cprof or kind == "projector":
                continue
            for (a, b), aligns in sorted(ctx.alignments.items()):
                if a != cc["tower"]:
                    continue
                for rc in ctx.rcomps:
                    if rc["tower"] != b or kind_of(rc) not in COUNTERPART_KINDS[kind] or rc["name"] not in ctx.rprof:
                        continue
                    for al in aligns:
                        p, sim, n, powered, _ = blocks.pair_test(ctx, cc, rc, al, None, "full")
                        if n:
                            out.append({"kind": kind, "candidate": cc["name"], "reference": rc["name"],
                                        "alignment": al.name, "p": p, "powered": powered})
            out += rotation.pair_pvalues(ctx, cc, kind)
        return out
