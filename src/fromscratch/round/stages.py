"""The stages of a round run, one function each, over a `RoundPlan`.

Order: protocol (copy + seal), inputs (digests), audit (each team against the
reference registry, in a worker thread while the benchmarks run), bench (every
team on every benchmark), decision, report, ledger. Audits and decisions are
cached outside the folder (``<cache>/round-stages``) by `cached`, under a key
made of everything the stage reads plus the method (version and a hash of the
package), so a re-run after a crash or after one team's new submission
recomputes only what changed; benchmark items are resumed from their
append-only item logs and never asked twice.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fromscratch import __version__
from fromscratch.digests import file_sha256, tree_sha256
from fromscratch.errors import InputError
from fromscratch.jsonio import dumps
from fromscratch.round.digest import path_digest
from fromscratch.round.outdir import Out, write_atomic
from fromscratch.round.plan import RoundPlan


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def method_digest() -> str:
    """The version plus a hash of the package's own files (sources, templates, built-in material).

    WHY: a stage's cached result must not outlive the method that produced it; during
    development (or with a patched install) the version string stays the same while
    the audit or decision code changes.
    """
    return f"{__version__}+{tree_sha256(Path(__file__).resolve().parent.parent)[:16]}"


def cached(cache: Path, stage: str, parts: list[Any], compute: Callable[[], Any]) -> tuple[Any, bool]:
    """(result, was_cached): the stage's JSON result under a key of its inputs and the method."""
    path = cache / stage / f"{_key(stage, method_digest(), *parts)}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8")), True
    obj = json.loads(dumps(compute()))
    write_atomic(path, dumps(obj).encode("utf-8"))
    return obj, False


@dataclass
class Run:
    """What the stages share: the plan, the folder, and what has been found so far."""

    plan: RoundPlan
    out: Out
    cache: Path
    log: Callable[[str], None]
    progress: bool | None = None
    client: Any = None  # a distributed.Client for the fingerprint registry's work (`--dask`)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    team_digest: dict[str, dict[str, Any]] = field(default_factory=dict)
    ref_digests: list[list[str]] = field(default_factory=list)
    seal: dict[str, Any] = field(default_factory=dict)
    human_rel: str | None = None
    verdicts: dict[str, str] = field(default_factory=dict)
    decision: dict[str, Any] | None = None

    @property
    def dir(self) -> Path:
        return self.out.root


def stage_protocol(run: Run) -> None:
    from fromscratch.decide import protocol as P

    plan = run.plan
    if plan.round_file is not None:
        run.out.copy(plan.round_file, "round.toml")
    if plan.protocol_text is not None:
        run.out.bytes("protocol.toml", plan.protocol_text)
    else:
        if not plan.protocol.is_file():
            raise InputError(plan.protocol, "protocol file not found")
        run.out.copy(plan.protocol, "protocol.toml")
    run.seal = P.seal_record(run.dir / "protocol.toml")
    run.out.json("protocol.seal.json", run.seal)
    run.stages["protocol"] = {"status": "done", "sha256": run.seal.get("sha256")}
    if plan.human is not None:
        if not plan.human.is_file():
            raise InputError(plan.human, "human scores file not found")
        run.human_rel = "human" + plan.human.suffix.lower()
        run.out.copy(plan.human, run.human_rel)
        run.inputs.append({"kind": "input", "role": "human-scores", "path": str(plan.human),
                           "sha256": file_sha256(plan.human)})


def _input(role: str, loc, sha: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "input", "role": role, **extra, "path": str(loc.path), "sha256": sha,
            **({"hub_id": loc.hub_id} if loc.hub_id else {})}


def stage_inputs(run: Run) -> None:
    """Every team file and reference by content digest (memoised under the cache)."""
    digests = run.cache / "digests"
    for team, tp in run.plan.teams.items():
        d: dict[str, Any] = {}
        for role, loc in tp.roles().items():
            d[role] = path_digest(loc.path, digests)
            run.inputs.append(_input(role, loc, d[role], team=team))
        if tp.chain:
            d["chain"] = [path_digest(loc.path, digests) for loc in tp.chain]
            for i, (loc, sha) in enumerate(zip(tp.chain, d["chain"])):
                run.inputs.append(_input("chain", loc, sha, team=team, index=i))
        run.team_digest[team] = d
    for role, items in (("reference", run.plan.references), ("reference-code", run.plan.code_refs)):
        for name, loc in items:
            dg = path_digest(loc.path, digests)
            run.ref_digests.append([role, name, dg])
            run.inputs.append(_input(role, loc, dg, name=name))
    if run.plan.fp_registry is not None:
        from fromscratch.round.fpregistry import ROLE, registry_seal

        seal = registry_seal(run.plan.fp_registry)
        run.ref_digests.append([ROLE, "", seal["sha256"]])
        run.inputs.append({"kind": "input", "role": ROLE, "path": str(run.plan.fp_registry.resolve()), **seal,
                           "sealed_at_open": run.plan.fp_registry_sealed})


def _audit_one(run: Run, team: str, counts: dict[str, int]) -> dict[str, Any]:
    from fromscratch.policy.api import run_audit

    plan, tp = run.plan, run.plan.teams[team]
    pol_arg: Any = str(plan.policy_path) if plan.policy_path else plan.policy
    pol_digest = file_sha256(plan.policy_path) if plan.policy_path else plan.policy
    refs = [f"{n}={loc.path}" for n, loc in plan.references]
    code_refs = [f"{n}={loc.path}" for n, loc in plan.code_refs]
    kwargs: dict[str, Any] = {}
    if tp.chain and chain_supported():
        kwargs["chain"] = [str(loc.path) for loc in tp.chain]
        if tp.chain_init:
            kwargs["chain_init"] = list(tp.chain_init)

    def compute() -> dict[str, Any]:
        run.log(f"audit: {team}")
        all_refs, section, extra = refs, None, dict(kwargs)
        if plan.fp_registry is not None:
            from fromscratch.round.fpregistry import registry_lineage

            all_refs, extra["weights"], section = registry_lineage(tp.model.path, refs, plan.fp_registry,
                                                                   client=run.client, seed=plan.seed)
        audit = run_audit(tp.model.path, all_refs, policy=pol_arg, declared=tp.bom.path if tp.bom else None,
                          code=tp.code.path if tp.code else None,
                          code_against=code_refs if tp.code else None, seed=plan.seed, progress=False, **extra)
        if section is not None:
            audit["fingerprint_registry"] = section
        return audit

    parts = [{k: v for k, v in run.team_digest[team].items() if k != "chain"}, run.ref_digests, pol_digest,
             plan.seed, True] + ([run.team_digest[team]["chain"]] if "chain" in kwargs else []) + \
        ([list(tp.chain_init)] if "chain_init" in kwargs else [])
    audit, hit = cached(run.cache, "audit", parts, compute)
    counts["cached" if hit else "computed"] += 1
    return audit


def chain_supported() -> bool:
    """Whether this build's audit takes a checkpoint chain (``run_audit(..., chain=[...])``)."""
    from fromscratch.policy.api import run_audit

    return "chain" in inspect.signature(run_audit).parameters


def start_audits(run: Run) -> Callable[[], None] | None:
    """Start the audits in one (daemon) worker thread; return the function that joins them.

    WHY a thread: audits and benchmarks both spend their time in numpy/torch kernels
    that release the GIL, so two cores work.
    """
    plan = run.plan
    if not plan.references and not plan.code_refs and plan.fp_registry is None:
        run.stages["audit"] = {"status": "skipped", "note": "no reference registry in the round file"}
        return None
    counts = {"computed": 0, "cached": 0}
    results: dict[str, Any] = {}

    def audit_all() -> None:
        try:
            for team in sorted(plan.teams):
                results[team] = _audit_one(run, team, counts)
        except BaseException as exc:  # re-raised in the main thread by finish
            results["__error__"] = exc

    worker = threading.Thread(target=audit_all, name="fromscratch-audits", daemon=True)
    worker.start()

    def finish() -> None:
        worker.join()
        if "__error__" in results:
            raise results["__error__"]
        for team in sorted(plan.teams):
            audit = results[team]
            run.out.json(f"audits/{team}.json", audit)
            if audit.get("verdict") in {"compliant", "violation", "needs-review"}:
                run.verdicts[team] = audit["verdict"]
        if run.verdicts:
            run.out.json("verdicts.json", run.verdicts)
        run.stages["audit"] = {"status": "done", **counts}
        if any(tp.chain for tp in plan.teams.values()) and not chain_supported():
            run.stages["audit"]["note"] = ("checkpoint chains are recorded by digest; this build's audit "
                                           "does not check them")

    return finish


def stage_bench(run: Run) -> None:
    """Every team on every benchmark through `bench.suite.run_suite`, the loop (and item-log
    key) `bench run` uses; item logs live under ``<cache>/bench`` and are resumed, never re-asked."""
    from fromscratch.bench import resolve_task
    from fromscratch.bench.backends import make_backend
    from fromscratch.bench.results import summary, write_results
    from fromscratch.bench.suite import run_suite
    from fromscratch.schemas.bench import BenchSummary

    plan = run.plan
    tasks = {}
    for bname, bspec in sorted(plan.benchmarks.items()):
        task = resolve_task(bspec, base=plan.base)
        tasks[bname] = task
        run.inputs.append({"kind": "input", "role": "benchmark", "name": bname, "source": bspec,
                           "sha256": task.sha256(), "data_sha256": task.data_sha256, "items": len(task.items)})
    rows: list[dict[str, Any]] = []
    runs = []
    counts = {"items": 0, "asked": 0, "reused": 0}
    for team, tp in sorted(plan.teams.items()):
        bspec_t = dict(tp.backend or {"kind": "local"})
        if bspec_t.get("kind", "local") == "local":
            bspec_t["model"] = str(tp.model.path)
        backend = make_backend(bspec_t)
        try:
            for r in run_suite(team, backend, tasks, run.cache / "bench", progress=run.progress, log=run.log):
                for name in counts:
                    counts[name] += r.counts[name]
                rows += r.rows()
                runs.append(r.entry())
        finally:
            close = getattr(backend, "close", None)
            if close:
                close()
    tmp = run.dir / ".partial-results.jsonl"
    write_results(rows, tmp)
    run.out.bytes("results.jsonl", tmp.read_bytes())
    tmp.unlink()
    bench = BenchSummary(schema="fromscratch.bench-summary/1", runs=runs, summary=summary(rows))
    run.out.json("bench.json", bench.model_dump(by_alias=True))
    run.stages["bench"] = {"status": "done", **counts}
    run.log(f"bench: {counts['items']} items, {counts['asked']} asked now, {counts['reused']} from item logs")


def stage_decision(run: Run) -> None:
    from fromscratch.decide.api import decide
    from fromscratch.round.sensitivity import sensitivity_map

    d = run.dir
    human = d / run.human_rel if run.human_rel else None
    verdicts = d / "verdicts.json" if run.verdicts else None
    files = [d / "protocol.toml", d / "results.jsonl"] + ([human] if human else []) + ([verdicts] if verdicts else [])

    def compute() -> dict[str, Any]:
        run.log("decision: bootstrap and weight analysis")
        return decide(d / "protocol.toml", d / "results.jsonl", human, resamples=run.plan.resamples,
                      seal_path=d / "protocol.seal.json", verdicts_path=verdicts)

    parts = [[file_sha256(f) for f in files], run.plan.resamples, run.human_rel, bool(run.verdicts)]
    run.decision, hit = cached(run.cache, "decision", parts, compute)
    run.stages["decision"] = {"status": "cached" if hit else "done"}
    run.out.json("decision.json", run.decision)
    run.out.json("sensitivity.json", sensitivity_map(run.decision))


def shown_stages(stages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stages as the folder holds them, not how this run got them (cached == done),
    so re-running an unchanged round rewrites an identical page and ledger."""
    return {k: {"status": "done" if v.get("status") == "cached" else v.get("status"),
                **({"note": v["note"]} if v.get("note") else {})} for k, v in stages.items()}


def stage_report(run: Run, key_fingerprint: str, extra: dict[str, Any] | None = None) -> None:
    from fromscratch.report import build_report_data, render_report

    data = build_report_data(run.dir, run.plan.name, shown_stages(run.stages))
    data["key_fingerprint"] = key_fingerprint
    data.update(extra or {})
    run.out.text("index.html", render_report(data))
    run.stages["report"] = {"status": "done"}
