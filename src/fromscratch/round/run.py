"""`round run`: a plan in, a verifiable round folder out (see `stages.py` for the stages).

`run_round` is the one-call form (a round file naming every team's files;
unsealed: nothing proves the rules were fixed before the results). A sealed
round (`round open`, `round submit`, then `round run DIR`) builds its plan in
`lifecycle.py` and runs through the same `execute`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fromscratch import __version__
from fromscratch.round import ledger as L
from fromscratch.round import stages as S
from fromscratch.round.outdir import Out, remove_partials
from fromscratch.round.plan import RoundPlan, from_round_file

#: Test hook: ``FROMSCRATCH_CRASH_AFTER=<stage>`` kills the process (SIGKILL, no clean-up) right
#: after that stage, so the crash tests can stop a run at every stage boundary.
CRASH_ENV = "FROMSCRATCH_CRASH_AFTER"


def boundary(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def _cache_root() -> Path:
    from fromscratch.cache import cache_dir

    return cache_dir() / "round-stages"


def with_registry(plan: RoundPlan, location: Path, *, sealed: dict[str, Any] | None) -> RoundPlan:
    """``plan`` audited against the fingerprint registry at ``location`` (``--registry``).

    A registry sealed at open (``sealed``, its ledger item) may only be named again as
    itself, unchanged; one not sealed is recorded as an input of the run's section.
    """
    from dataclasses import replace

    from fromscratch.errors import InputError
    from fromscratch.round.fpregistry import registry_seal

    seal = registry_seal(location)
    if sealed is not None and seal["sha256"] != sealed["sha256"]:
        raise InputError(location, f"is not the fingerprint registry sealed at open ({sealed['path']}, "
                                   f"{sealed['models']} models, sha256 {sealed['sha256'][:16]}...)")
    return replace(plan, fp_registry=location, fp_registry_sealed=sealed is not None)


def run_round(round_path: str | Path, out_dir: str | Path, *, key_path: str | Path | None = None,
              progress: bool | None = None, log: Callable[[str], None] = lambda s: None,
              registry: str | Path | None = None, client: Any = None) -> dict[str, Any]:
    """The one-call (unsealed) form: run ROUND.toml into OUT_DIR; return a summary.

    ``registry`` (``--registry``) replaces the round file's ``[registry] fingerprints``;
    ``client`` is a ``distributed.Client`` (``--dask``) for the registry's work.
    """
    entries = L.read_entries(Path(out_dir) / L.LEDGER)[0] if (Path(out_dir) / L.LEDGER).is_file() else []
    if entries and entries[0].get("kind") == "open":
        from fromscratch.errors import InputError

        raise InputError(out_dir, "holds a sealed round; evaluate it with `fromscratch round run DIR` (no round file)")
    plan = from_round_file(round_path)
    if registry is not None:
        plan = with_registry(plan, Path(registry), sealed=None)
    return execute(plan, Path(out_dir), key_path=key_path, progress=progress, log=log, client=client)


def _torch_missing(plan: RoundPlan) -> bool:
    local = any((tp.backend or {}).get("kind", "local") == "local" for tp in plan.teams.values())
    return local and importlib.util.find_spec("torch") is None


def execute(plan: RoundPlan, out_dir: Path, *, key_path: str | Path | None = None, progress: bool | None = None,
            log: Callable[[str], None] = lambda s: None, report_extra: dict[str, Any] | None = None,
            head_kinds: dict[str, Any] | None = None, client: Any = None) -> dict[str, Any]:
    """Run every stage of ``plan`` into ``out_dir`` and append the ledger section (``client``: see `run_round`)."""
    from fromscratch.round.keys import default_key_path, load_or_create

    out_dir.mkdir(parents=True, exist_ok=True)
    remove_partials(out_dir)
    key = load_or_create(Path(key_path) if key_path else default_key_path(out_dir), out_dir)
    fingerprint = L.key_fingerprint(L.public_key_b64(key.public_key()))
    if client is not None and plan.fp_registry is None:
        from fromscratch.errors import InputError

        raise InputError("--dask", "sends a fingerprint registry's work to a cluster; the round has no registry "
                                   "(--registry LOC, or [registry] fingerprints in the round file)")
    run = S.Run(plan, Out(out_dir), _cache_root(), log, progress, client=client)
    for rel in plan.keep:
        run.out.mark(rel)
    S.stage_protocol(run)
    S.stage_inputs(run)
    finish_audits = S.start_audits(run)
    if _torch_missing(plan):
        run.stages["bench"] = {"status": "unavailable",
                               "note": 'the in-process backend needs torch: pip install "fromscratch[torch]"'}
    else:
        S.stage_bench(run)
    boundary("bench")
    if finish_audits is not None:
        finish_audits()
        boundary("audit")
    if run.stages["bench"]["status"] == "done":
        S.stage_decision(run)
        boundary("decision")
    else:
        run.stages["decision"] = {"status": "unavailable", "note": "needs the benchmark results"}
    S.stage_report(run, fingerprint, report_extra)
    boundary("report")
    appended = _append_run_section(run, key)
    run.stages["ledger"] = {"status": "appended" if appended else "unchanged"}
    entries, _ = L.read_entries(out_dir / L.LEDGER)
    dec = run.decision
    return {"out": str(out_dir), "index": str(out_dir / "index.html"), "stages": run.stages,
            "key_fingerprint": fingerprint, "head": entries[-1]["hash"] if entries else None,
            "decision": None if dec is None else {"eliminated": dec.get("eliminated"),
                                                  "robustness": dec.get("robustness")}}


def _append_run_section(run: S.Run, key) -> bool:
    """Remove outputs of earlier runs this run did not write, then append the run section."""
    out_dir = run.dir
    if (out_dir / L.LEDGER).exists():
        old, _ = L.read_entries(out_dir / L.LEDGER)
        for e in L.files_section(old):
            rel = e.get("path") if e.get("kind") == "output" else None
            if rel and rel not in run.out.written and (out_dir / rel).is_file():
                (out_dir / rel).unlink()
    body: list[dict[str, Any]] = [{"kind": "run", "schema": L.SCHEMA, "round": run.plan.name,
                                   "tool": f"fromscratch {__version__}",
                                   "stages": {k: v["status"] for k, v in S.shown_stages(run.stages).items()}},
                                  {"kind": "protocol", "path": "protocol.toml",
                                   "canonical_sha256": run.seal.get("sha256")}]
    body += sorted(run.inputs, key=lambda e: json.dumps(e, sort_keys=True))
    body += [{"kind": "output", **row} for row in L.list_outputs(out_dir)]
    return L.append_section(out_dir, body, key, before_commit=lambda: boundary("ledger"))
