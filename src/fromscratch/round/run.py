"""`round run`: submissions in, a verifiable round folder out.

Stages, in order: protocol (copy + seal), audit (each team against the
reference registry), bench (every team on every benchmark), decision,
sensitivity map, report, ledger. Each stage is cached outside the folder
(``<cache>/round-stages``) under a key made of everything it reads, so a
re-run after a crash or after one team's new submission recomputes only what
changed; benchmark items are resumed from their append-only item logs and
never asked twice. A stage whose code is not available in this build is
reported as such and its outputs are simply absent — never faked.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fromscratch import __version__
from fromscratch.digests import tree_sha256
from fromscratch.errors import InputError
from fromscratch.jsonio import dumps
from fromscratch.round import ledger as L
from fromscratch.round.config import load_round
from fromscratch.round.digest import path_digest


def _cache_root() -> Path:
    from fromscratch.cache import cache_dir

    return cache_dir() / "round-stages"


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _method_digest() -> str:
    """The version plus a hash of the package's own files (sources, templates, built-in material).

    WHY: a stage's cached result must not outlive the method that produced it; during
    development (or with a patched install) the version string stays the same while
    the audit or decision code changes.
    """
    return f"{__version__}+{tree_sha256(Path(__file__).resolve().parent.parent)[:16]}"


class _Out:
    """Writes files into the round folder and remembers what this run wrote."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: set[str] = set()

    def json(self, rel: str, obj: Any) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        text = dumps(obj)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
        self.written.add(rel)
        return p

    def copy(self, src: Path, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_bytes() != src.read_bytes():
            shutil.copyfile(src, p)
        self.written.add(rel)
        return p

    def text(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
        self.written.add(rel)
        return p

    def mark(self, rel: str) -> None:
        self.written.add(rel)


def _available(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


def _check_protocol(spec, round_path: Path) -> None:
    """The protocol parses and every benchmark it needs is defined by the round."""
    from fromscratch.decide import protocol as P

    src = spec.path(spec.round.protocol)
    if src is None or not src.is_file():
        raise InputError(src, "protocol file not found")
    proto = P.load(src)
    needed = set(proto.benchmarks) | {b for picks in (proto.choices.picks.values() if proto.choices else [])
                                      for b in picks}
    missing = sorted(needed - set(spec.benchmarks))
    if missing:
        raise InputError(round_path, f"the protocol needs benchmark {missing[0]!r}, which [benchmarks] does not define")
    if proto.choices:
        for team, t in spec.teams.items():
            picks = proto.choices.picks.get(team)
            if t.benchmarks and picks is not None and sorted(picks) != sorted(t.benchmarks):
                raise InputError(round_path, f"team {team!r}: picks {t.benchmarks} differ from the sealed protocol's {list(picks)}")


def run_round(round_path: str | Path, out_dir: str | Path, *, key_path: str | Path | None = None,
              progress: bool | None = None, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the round; return a summary (stages, counts, folder). Raises InputError on bad input."""
    spec = load_round(round_path)
    _check_protocol(spec, Path(round_path))  # before anything is written
    # so are the locations: a model location (team model and tokenizer, reference) may be a
    # hub id resolved from the local cache; the snapshot folder is what is digested and read
    team_locs = {team: {role: spec.location(value, f"team {team}: {role}", hub=role in ("model", "tokenizer"))
                        for role in ("model", "code", "tokenizer", "bom")
                        if (value := getattr(t, role)) is not None}
                 for team, t in sorted(spec.teams.items())}
    team_model = {team: locs["model"].path for team, locs in team_locs.items()}
    refs = [spec.labelled_location(r, "reference") for r in spec.registry.references]
    code_refs = [spec.labelled_location(r, "reference-code", hub=False) for r in spec.registry.code]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = _Out(out_dir)
    cache = _cache_root()
    digests = cache / "digests"
    stages: dict[str, dict[str, Any]] = {}
    inputs: list[dict[str, Any]] = []

    from fromscratch.round.keys import default_key_path, load_or_create

    key = load_or_create(Path(key_path) if key_path else default_key_path(out_dir), out_dir)

    # -- protocol ---------------------------------------------------------------
    out.copy(Path(round_path), "round.toml")
    proto_src = spec.path(spec.round.protocol)
    assert proto_src is not None
    if not proto_src.is_file():
        raise InputError(proto_src, "protocol file not found")
    out.copy(proto_src, "protocol.toml")
    from fromscratch.decide import protocol as P

    seal = P.seal_record(out_dir / "protocol.toml")
    out.json("protocol.seal.json", seal)
    stages["protocol"] = {"status": "done", "sha256": seal.get("sha256")}
    human_rel = None
    if spec.round.human:
        hp = spec.path(spec.round.human)
        assert hp is not None
        if not hp.is_file():
            raise InputError(hp, "human scores file not found")
        human_rel = "human" + hp.suffix.lower()
        out.copy(hp, human_rel)
        inputs.append({"kind": "input", "role": "human-scores", "path": str(hp), "sha256": L.file_sha256(hp)})

    # -- inputs by digest ----------------------------------------------------------
    team_digest: dict[str, dict[str, str]] = {}
    for team, locs in team_locs.items():
        d: dict[str, str] = {}
        for role, loc in locs.items():
            d[role] = path_digest(loc.path, digests)
            inputs.append({"kind": "input", "role": role, "team": team, "path": str(loc.path), "sha256": d[role],
                           **({"hub_id": loc.hub_id} if loc.hub_id else {})})
        team_digest[team] = d
    ref_digests = []
    for role, items in (("reference", refs), ("reference-code", code_refs)):
        for name, loc in items:
            dg = path_digest(loc.path, digests)
            ref_digests.append([role, name, dg])
            inputs.append({"kind": "input", "role": role, "name": name, "path": str(loc.path), "sha256": dg,
                           **({"hub_id": loc.hub_id} if loc.hub_id else {})})

    # -- audits ------------------------------------------------------------------------
    verdicts: dict[str, str] = {}
    finish_audits: Callable[[], None] | None = None
    if not refs and not code_refs:
        stages["audit"] = {"status": "skipped", "note": "no reference registry in the round file"}
    elif not (_available("fromscratch.policy.api") and _available("fromscratch.lineage.api")):
        stages["audit"] = {"status": "unavailable",
                           "note": "weight-lineage audit (fromscratch.lineage.api) is not available in this build yet"}
    else:
        from fromscratch.policy.api import run_audit

        policy = spec.round.policy
        pol_path = spec.path(policy) if policy else None
        pol_src = pol_path if pol_path is not None and pol_path.is_file() else None  # else a preset name
        pol_arg: Any = str(pol_src) if pol_src else policy
        pol_digest = L.file_sha256(pol_src) if pol_src else policy
        audit_counts = {"computed": 0, "cached": 0}
        code_ok = _available("fromscratch.code.api")

        def audit_team(team: str) -> dict[str, Any]:
            t = spec.teams[team]
            k = _key("audit", _method_digest(), team_digest[team], ref_digests, pol_digest, spec.round.seed, code_ok)
            cpath = cache / "audit" / f"{k}.json"
            if cpath.is_file():
                audit_counts["cached"] += 1
                return json.loads(cpath.read_text(encoding="utf-8"))
            log(f"audit: {team}")
            audit = run_audit(team_model[team], [f"{n}={loc.path}" for n, loc in refs], policy=pol_arg,
                              declared=spec.path(t.bom), code=spec.path(t.code) if code_ok else None,
                              code_against=[f"{n}={loc.path}" for n, loc in code_refs] if t.code and code_ok else None,
                              seed=spec.round.seed, progress=False)
            audit = json.loads(dumps(audit))
            cpath.parent.mkdir(parents=True, exist_ok=True)
            cpath.write_text(dumps(audit), encoding="utf-8")
            audit_counts["computed"] += 1
            return audit

        # Audits run in one (daemon) worker thread while the benchmarks run here: both
        # spend their time in numpy/torch kernels that release the GIL, so two cores work.
        import threading

        audit_results: dict[str, Any] = {}

        def audit_all() -> None:
            try:
                for team in sorted(spec.teams):
                    audit_results[team] = audit_team(team)
            except BaseException as exc:  # re-raised in the main thread by finish_audits
                audit_results["__error__"] = exc

        worker = threading.Thread(target=audit_all, name="fromscratch-audits", daemon=True)
        worker.start()

        def finish_audits() -> None:
            worker.join()
            if "__error__" in audit_results:
                raise audit_results["__error__"]
            for team in sorted(spec.teams):
                audit = audit_results[team]
                out.json(f"audits/{team}.json", audit)
                if audit.get("verdict") in {"compliant", "violation", "needs-review"}:
                    verdicts[team] = audit["verdict"]
            if verdicts:
                out.json("verdicts.json", verdicts)
            stages["audit"] = {"status": "done", **audit_counts}
            if not code_ok and any(t.code for t in spec.teams.values()):
                stages["audit"]["note"] = "source-code reuse (fromscratch.code.api) is not available in this build yet"

    # -- benchmarks ------------------------------------------------------------------------
    results_rel = "results.jsonl"
    if not _available("torch") and any((t.backend or {}).get("kind", "local") == "local" for t in spec.teams.values()):
        stages["bench"] = {"status": "unavailable", "note": 'the in-process backend needs torch: pip install "fromscratch[torch]"'}
    else:
        from fromscratch.bench import resolve_task
        from fromscratch.bench.backends import make_backend
        from fromscratch.bench.results import rows_from_records, summary, write_results
        from fromscratch.bench.runner import run_task

        tasks = {}
        for bname, bspec in sorted(spec.benchmarks.items()):
            task = resolve_task(bspec, base=spec.base)
            tasks[bname] = task
            inputs.append({"kind": "input", "role": "benchmark", "name": bname, "source": bspec,
                           "sha256": task.sha256(), "data_sha256": task.data_sha256, "items": len(task.items)})
        rows: list[dict[str, Any]] = []
        runs = []
        counts = {"items": 0, "asked": 0, "reused": 0}
        for team, t in sorted(spec.teams.items()):
            bspec_t = dict(t.backend or {"kind": "local"})
            if bspec_t.get("kind", "local") == "local":
                bspec_t["model"] = str(team_model[team])
            backend = make_backend(bspec_t)
            desc = backend.describe()
            for bname, task in tasks.items():
                k = _key("bench", team, bname, task.sha256(), desc)
                recs, c = run_task(task, backend, cache / "bench" / f"{k}.jsonl", progress=progress)
                for name in counts:
                    counts[name] += c[name]
                rows += rows_from_records(team, bname, recs)
                prompts = hashlib.sha256("".join(r["prompt_sha256"] for r in recs).encode()).hexdigest()
                runs.append({"team": team, "benchmark": bname, "task_sha256": task.sha256(),
                             "prompts_sha256": prompts, "backend": desc, "items": len(recs),
                             "mean": sum(r["score"] for r in recs) / max(1, len(recs))})
                if c["asked"]:
                    log(f"bench: {team} {bname}: {c['asked']} items asked, {c['reused']} from the log")
            close = getattr(backend, "close", None)
            if close:
                close()
        write_results(rows, out_dir / results_rel)
        out.mark(results_rel)
        out.json("bench.json", {"schema": "fromscratch.bench-summary/1", "runs": runs, "summary": summary(rows)})
        stages["bench"] = {"status": "done", **counts}
        log(f"bench: {counts['items']} items, {counts['asked']} asked now, {counts['reused']} from item logs")

    if finish_audits is not None:
        finish_audits()

    # -- decision ------------------------------------------------------------------------------
    decision = None
    if stages["bench"]["status"] != "done":
        stages["decision"] = {"status": "unavailable", "note": "needs the benchmark results"}
    else:
        from fromscratch.decide.api import decide

        files = [out_dir / "protocol.toml", out_dir / results_rel] + ([out_dir / human_rel] if human_rel else []) \
            + ([out_dir / "verdicts.json"] if verdicts else [])
        k = _key("decision", _method_digest(), [L.file_sha256(f) for f in files], spec.round.resamples,
                 human_rel, bool(verdicts))
        cpath = cache / "decision" / f"{k}.json"
        if cpath.is_file():
            decision = json.loads(cpath.read_text(encoding="utf-8"))
            stages["decision"] = {"status": "cached"}
        else:
            log("decision: bootstrap and weight analysis")
            decision = decide(out_dir / "protocol.toml", out_dir / results_rel,
                              out_dir / human_rel if human_rel else None, resamples=spec.round.resamples,
                              seal_path=out_dir / "protocol.seal.json",
                              verdicts_path=out_dir / "verdicts.json" if verdicts else None)
            decision = json.loads(dumps(decision))
            cpath.parent.mkdir(parents=True, exist_ok=True)
            cpath.write_text(dumps(decision), encoding="utf-8")
            stages["decision"] = {"status": "done"}
        out.json("decision.json", decision)
        from fromscratch.round.sensitivity import sensitivity_map

        out.json("sensitivity.json", sensitivity_map(decision))

    # -- report ----------------------------------------------------------------------------------
    from fromscratch.report import build_report_data, render_report

    # the report shows what the folder holds, not how this run got it (cached == done),
    # so re-running an unchanged round rewrites an identical page
    shown = {k: {"status": "done" if v.get("status") == "cached" else v.get("status"),
                 **({"note": v["note"]} if v.get("note") else {})} for k, v in stages.items()}
    data = build_report_data(out_dir, spec.round.name, shown)
    data["key_fingerprint"] = L.key_fingerprint(L.public_key_b64(key.public_key()))
    out.text("index.html", render_report(data))
    stages["report"] = {"status": "done"}

    # -- stale outputs of earlier runs, then the ledger -------------------------------------------
    if (out_dir / L.LEDGER).exists():
        old, _ = L.read_entries(out_dir / L.LEDGER)
        for e in L.last_section(old):
            rel = e.get("path") if e.get("kind") == "output" else None
            if rel and rel not in out.written and (out_dir / rel).is_file():
                (out_dir / rel).unlink()
    body: list[dict[str, Any]] = [{"kind": "run", "schema": L.SCHEMA, "round": spec.round.name,
                                   "tool": f"fromscratch {__version__}",
                                   # cached == done: the ledger records what the folder holds, not how fast
                                   "stages": {k: ("done" if v.get("status") == "cached" else v.get("status"))
                                              for k, v in stages.items()}},
                                  {"kind": "protocol", "path": "protocol.toml", "canonical_sha256": seal.get("sha256")}]
    body += sorted(inputs, key=lambda e: json.dumps(e, sort_keys=True))
    body += [{"kind": "output", **row} for row in L.list_outputs(out_dir)]
    appended = L.append_section(out_dir, body, key)
    stages["ledger"] = {"status": "appended" if appended else "unchanged"}
    return {"out": str(out_dir), "index": str(out_dir / "index.html"), "stages": stages,
            "key_fingerprint": L.key_fingerprint(L.public_key_b64(key.public_key())),
            "decision": None if decision is None else {"eliminated": decision.get("eliminated"),
                                                       "robustness": decision.get("robustness")}}
