"""A sealed round: `open` fixes the rules, `submit` records each team's files, `run` evaluates.

``open`` seals everything that decides the outcome before any submission exists
(the round file, the decision protocol, the policy, the reference registry and
every benchmark's task definition and data by content digest, the human-scoring
rubric, the deadline, each team's commitment to its own picks) into the ledger's
first section and copies the small files into ``DIR/sealed/``; the chain head
after it is the commitment the organiser publishes. ``submit`` appends one
signed section per submission. ``run`` first re-digests everything sealed and
submitted and refuses (exit 2, naming the file) when anything differs, then runs
the ordinary stages (`run.execute`) on the sealed copies; the first run closes
submissions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fromscratch import __version__
from fromscratch.digests import file_sha256
from fromscratch.errors import InputError
from fromscratch.round import ledger as L
from fromscratch.round.commit import check_reveal, compose_protocol, read_reveal
from fromscratch.round.config import Location, RoundSpec, load_round, locate
from fromscratch.round.digest import path_digest
from fromscratch.round.plan import (
    RoundPlan,
    TeamPlan,
    check_protocol,
    fp_registry_of,
    policy_of,
    registry_of,
)

SEALED = "sealed"


def now_utc() -> datetime:
    return datetime.now(UTC)


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str, source: Any) -> datetime:
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InputError(source, f"not an ISO 8601 time: {s!r}") from None
    if t.tzinfo is None:
        raise InputError(source, f"time {s!r} has no time zone (write e.g. 2026-07-31T23:59:59+09:00)")
    return t


def _digests_dir() -> Path:
    from fromscratch.cache import cache_dir

    return cache_dir() / "round-stages" / "digests"


def _key(out_dir: Path, key_path: str | Path | None):
    from fromscratch.round.keys import default_key_path, load_or_create

    return load_or_create(Path(key_path) if key_path else default_key_path(out_dir), out_dir)


# ---- open ------------------------------------------------------------------------------------
def _sealed_items(spec: RoundSpec, round_path: Path) -> list[dict[str, Any]]:
    """Every sealed thing with its digest; small files also get a copy under sealed/."""
    from fromscratch.bench import resolve_task
    from fromscratch.decide import protocol as P

    proto = spec.path(spec.round.protocol)
    assert proto is not None
    items: list[dict[str, Any]] = [
        {"role": "round-file", "path": str(round_path.resolve()), "copy": f"{SEALED}/round.toml",
         "sha256": file_sha256(round_path)},
        {"role": "protocol", "path": str(proto), "copy": f"{SEALED}/protocol.toml", "sha256": file_sha256(proto),
         "canonical_sha256": P.seal(proto)},
    ]
    policy, policy_path = policy_of(spec)
    if policy_path is not None:
        items.append({"role": "policy", "path": str(policy_path), "copy": f"{SEALED}/policy{policy_path.suffix}",
                      "sha256": file_sha256(policy_path)})
    elif policy:
        items.append({"role": "policy", "name": policy, "preset": True})
    if spec.round.rubric:
        rubric = spec.path(spec.round.rubric)
        if rubric is None or not rubric.is_file():
            raise InputError(rubric, "rubric file not found")
        items.append({"role": "rubric", "path": str(rubric), "copy": f"{SEALED}/rubric{rubric.suffix}",
                      "sha256": file_sha256(rubric)})
    refs, code_refs = registry_of(spec)
    for role, group in (("reference", refs), ("reference-code", code_refs)):
        for name, loc in group:
            items.append({"role": role, "name": name, "path": str(loc.path),
                          "sha256": path_digest(loc.path, _digests_dir()), **({"hub_id": loc.hub_id} if loc.hub_id else {})})
    fp_reg = fp_registry_of(spec)
    if fp_reg is not None:
        from fromscratch.round.fpregistry import ROLE, registry_seal

        items.append({"role": ROLE, "path": str(fp_reg.resolve()), **registry_seal(fp_reg)})
    for name, source in sorted(spec.benchmarks.items()):
        task = resolve_task(source, base=spec.base)
        items.append({"role": "benchmark", "name": name, "source": source, "sha256": task.sha256(),
                      "data_sha256": task.data_sha256, "items": len(task.items)})
    return items


def _check_open(spec: RoundSpec, round_path: Path) -> dict[str, Any]:
    """The team table of the open entry; refuses a round file that cannot be sealed."""
    from fromscratch.decide import protocol as P

    if spec.round.deadline is None:
        raise InputError(round_path, "[round] deadline is required to open a sealed round")
    parse_time(spec.round.deadline, round_path)
    policy, policy_path = policy_of(spec)
    if policy:
        from fromscratch.policy.schema import load_policy

        load_policy(policy_path or policy)  # only a readable policy can be sealed
    proto = P.load(spec.path(spec.round.protocol))  # type: ignore[arg-type]
    teams: dict[str, Any] = {}
    for team, t in sorted(spec.teams.items()):
        given = [r for r in ("model", "code", "tokenizer", "bom") if getattr(t, r) is not None] + \
            (["chain"] if t.chain or t.chain_init else [])
        if given:
            raise InputError(round_path, f"team {team!r}: {given[0]} comes with `round submit`, not in the round file")
        listed = proto.choices.picks.get(team) if proto.choices else None
        if t.commitment and proto.choices is None:
            raise InputError(round_path, f"team {team!r} has a commitment but the protocol has no [choices] pillar")
        if t.commitment and (listed or t.benchmarks):
            raise InputError(round_path, f"team {team!r}: a committed team's picks must not be published at open")
        teams[team] = {"commitment": t.commitment, "picks": list(listed or t.benchmarks) or None}
    check_protocol(spec, round_path)
    return teams


def open_round(round_path: str | Path, out_dir: str | Path, *, key_path: str | Path | None = None) -> dict[str, Any]:
    """Seal the round into a new folder; return {"commitment", "head", "out"}."""
    from fromscratch.round.outdir import Out

    round_path, out_dir = Path(round_path), Path(out_dir)
    spec = load_round(round_path)
    teams = _check_open(spec, round_path)
    if (out_dir / L.LEDGER).is_file():
        L.recover(out_dir / L.LEDGER)
        if (out_dir / L.LEDGER).read_bytes():
            raise InputError(out_dir, "already holds a round (its ledger has entries); open a new folder")
    stray = [q for q in (out_dir.iterdir() if out_dir.is_dir() else [])
             if q.name not in (L.LEDGER, L.PUBKEY, SEALED) and not q.name.startswith(".partial-")]
    if stray:
        raise InputError(out_dir, f"is not empty ({stray[0].name}); a round is opened in a new folder")
    items = _sealed_items(spec, round_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = _key(out_dir, key_path)
    out = Out(out_dir)
    for it in items:
        if "copy" in it:
            out.copy(Path(it["path"]), it["copy"])
    entry = {"kind": "open", "schema": L.SCHEMA, "round": spec.round.name, "tool": f"fromscratch {__version__}",
             "time": stamp(now_utc()), "deadline": spec.round.deadline, "resubmission": spec.round.resubmission,
             "base": str(spec.base), "teams": teams, "sealed": items}
    body = [entry] + [{"kind": "output", **row} for row in L.list_outputs(out_dir)]
    L.append_section(out_dir, body, key)
    head = L.read_entries(out_dir / L.LEDGER)[0][-1]["hash"]
    return {"out": str(out_dir), "commitment": head, "head": head,
            "key_fingerprint": L.key_fingerprint(L.public_key_b64(key.public_key()))}


# ---- the folder's state --------------------------------------------------------------------
def read_ledger(out_dir: Path, *, repair: bool) -> list[dict[str, Any]]:
    """The ledger's entries (after dropping an interrupted append when ``repair``); refuses a broken one."""
    path = out_dir / L.LEDGER
    if not path.is_file():
        raise InputError(out_dir, "not a round folder (no ledger.jsonl); create one with `fromscratch round open`")
    if repair:
        L.recover(path)
    entries, problems = L.read_entries(path, as_recovered=True)  # a refusal below leaves the file as it is
    problems += L.check_chain(entries) if entries else []
    if problems:
        raise InputError(path, f"ledger does not verify ({problems[0]}); run `fromscratch verify` for details")
    if not entries or entries[0].get("kind") != "open":
        raise InputError(path, "not a sealed round (its first entry is not 'open'); the one-call form "
                               "`round run ROUND.toml --out DIR` writes unsealed rounds")
    return entries


def latest_submissions(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.get("kind") == "submission":
            out[e["team"]] = e
    return dict(sorted(out.items()))


# ---- submit --------------------------------------------------------------------------------
def _file_record(value: str, what: str, *, hub: bool) -> tuple[dict[str, Any], Location]:
    loc = locate(value, Path.cwd(), what, hub=hub)
    return {"path": str(loc.path.absolute()), "sha256": path_digest(loc.path, _digests_dir()),  # links kept: a hub file stays named
            **({"hub_id": loc.hub_id} if loc.hub_id else {})}, loc


def submit(out_dir: str | Path, team: str, *, model: str | None, code: str | None = None, bom: str | None = None,
           tokenizer: str | None = None, chain: list[str] | tuple[str, ...] = (), reveal: str | None = None,
           key_path: str | Path | None = None, now: datetime | None = None,
           chain_init: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Record a submission; every refusal happens before anything in the folder changes."""
    out_dir = Path(out_dir)
    entries = read_ledger(out_dir, repair=False)
    path = out_dir / L.LEDGER
    opened = entries[0]
    if any(e.get("kind") == "run" for e in entries):
        raise InputError(path, "submissions are closed: the round already has results")
    t = now or now_utc()
    deadline = parse_time(opened["deadline"], path)
    if t > deadline:
        raise InputError("--team", f"submission refused: the deadline {opened['deadline']} has passed ({stamp(t)})")
    if team not in opened["teams"]:
        raise InputError("--team", f"the round does not know team {team!r} (teams: {', '.join(opened['teams'])})")
    earlier = [e for e in entries if e.get("kind") == "submission" and e.get("team") == team]
    if earlier and not opened.get("resubmission"):
        raise InputError("--team", f"team {team!r} has already submitted and this round allows no re-submission")
    if model is None:
        raise InputError("--model", "a submission needs the model (--model)")
    committed = opened["teams"][team].get("commitment")
    rv = None
    if reveal is not None:
        rv = read_reveal(reveal)
        check_reveal(rv, team, committed, reveal)
        bench = {it["name"] for it in opened["sealed"] if it["role"] == "benchmark"}
        unknown = [b for b in rv["benchmarks"] if b not in bench]
        if unknown:
            raise InputError(reveal, f"reveal picks {unknown[0]!r}, which the sealed round does not define")
    elif committed:
        raise InputError("--reveal", f"team {team!r} committed to its picks at open; the submission must reveal them")
    entry: dict[str, Any] = {"kind": "submission", "team": team, "n": len(earlier) + 1, "time": stamp(t)}
    for role, value in (("model", model), ("code", code), ("tokenizer", tokenizer), ("bom", bom)):
        if value is not None:
            entry[role] = _file_record(value, f"team {team}: {role}", hub=role in ("model", "tokenizer"))[0]
    if chain_init and not chain:
        raise InputError("--chain-init", "declares the scheme of a chain; give the chain (--chain) too")
    if chain:
        entry["chain"] = [_file_record(c, f"team {team}: chain", hub=False)[0] for c in chain]
    if chain_init:
        from fromscratch.chain.scheme import parse_options

        parse_options(list(chain_init))  # refused here, not at run
        entry["chain_init"] = list(chain_init)
    if rv is not None:
        entry["reveal"] = {"benchmarks": rv["benchmarks"], "nonce": rv["nonce"]}
    key = _key(out_dir, key_path)
    note = L.recover(path)
    L.append_section(out_dir, [entry], key)
    head = L.read_entries(path)[0][-1]["hash"]
    return {"team": team, "n": entry["n"], "time": entry["time"], "head": head, "note": note}


# ---- run -----------------------------------------------------------------------------------
def changed_since_open(opened: dict[str, Any], out_dir: Path) -> list[tuple[str, str]]:
    """(path, what changed) for every sealed item that no longer has its sealed digest."""
    from fromscratch.bench import resolve_task

    found: list[tuple[str, str]] = []
    for it in opened["sealed"]:
        role, name = it["role"], it.get("name") or it["role"]
        if it.get("preset"):
            continue
        if "copy" in it:
            cp = out_dir / it["copy"]
            if not cp.is_file() or file_sha256(cp) != it["sha256"]:
                found.append((str(cp), f"the sealed copy of the {role} changed since the round was opened"))
        if role == "benchmark":
            spec_path = Path(opened["base"]) / it["source"].split(":", 1)[-1]
            if ("/" in it["source"] or it["source"].endswith((".yaml", ".yml"))) and not spec_path.exists():
                found.append((str(spec_path), f"benchmark {name!r} sealed at open is missing"))
                continue
            try:
                task = resolve_task(it["source"], base=Path(opened["base"]))
            except InputError as exc:
                found.append((it["source"], f"benchmark {name!r} cannot be read as sealed ({exc.one_line()})"))
                continue
            if task.sha256() != it["sha256"] or task.data_sha256 != it["data_sha256"]:
                part = "data" if task.data_sha256 != it["data_sha256"] else "task definition"
                found.append((it["source"], f"benchmark {name!r}: its {part} changed since the round was opened"))
            continue
        p = Path(it["path"])
        if not p.exists():
            found.append((str(p), f"{role} {name!r} sealed at open is missing"))
        elif role == "fingerprint-registry":
            from fromscratch.round.fpregistry import registry_seal

            try:
                now = registry_seal(p)["sha256"]
            except InputError as exc:
                now = exc.one_line()
            if now != it["sha256"]:
                found.append((str(p), "the fingerprint registry changed since the round was opened (models added, "
                                      "removed or re-registered, or its index is gone)"))
        elif (path_digest(p, _digests_dir()) if role.startswith("reference") else file_sha256(p)) != it["sha256"]:
            found.append((str(p), f"{role} {name!r} changed since the round was opened (sha256 differs from the seal)"))
    return found


def _submitted_changes(subs: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for team, e in subs.items():
        recs = [(r, e[r]) for r in ("model", "code", "tokenizer", "bom") if r in e]
        recs += [(f"chain[{i}]", c) for i, c in enumerate(e.get("chain", []))]
        for role, rec in recs:
            p = Path(rec["path"])
            if not p.exists() or path_digest(p, _digests_dir()) != rec["sha256"]:
                found.append((str(p), f"team {team!r}: its submitted {role} changed or vanished since submission"))
    return found


def plan_from_folder(out_dir: Path, entries: list[dict[str, Any]]) -> RoundPlan:
    """The plan of a sealed round: the sealed copies plus each team's latest submission."""
    opened = entries[0]
    changed = changed_since_open(opened, out_dir)
    subs = latest_submissions(entries)
    changed += _submitted_changes(subs)
    if changed:
        raise InputError(*changed[0])
    if not subs:
        raise InputError(out_dir, "no team has submitted; nothing to evaluate")
    from fromscratch.decide import protocol as P

    sealed_proto = P.load(out_dir / SEALED / "protocol.toml")
    named = set(sealed_proto.teams or ()) | set(sealed_proto.choices.picks if sealed_proto.choices else ())
    absent = sorted(named - set(subs))
    if absent:
        raise InputError(out_dir / SEALED / "protocol.toml", f"team {absent[0]!r} has not submitted, but the sealed "
                                                             "protocol scores it (its teams or [choices] name it)")
    sealed = out_dir / SEALED
    spec = load_round(sealed / "round.toml")
    spec.base = Path(opened["base"])
    picks = {t: e["reveal"]["benchmarks"] for t, e in subs.items() if "reveal" in e}
    check_protocol_text = (sealed / "protocol.toml").read_bytes()
    effective = compose_protocol(check_protocol_text, picks, sealed / "protocol.toml") if picks else check_protocol_text
    _check_composed(check_protocol_text, effective, picks, sealed / "protocol.toml")
    check_protocol(spec, sealed / "round.toml", {t: tuple(v) for t, v in picks.items()})
    teams = {}
    for team, e in subs.items():
        def loc(rec: dict[str, Any]) -> Location:
            return Location(Path(rec["path"]), rec.get("hub_id"))

        teams[team] = TeamPlan(model=loc(e["model"]), code=loc(e["code"]) if "code" in e else None,
                               tokenizer=loc(e["tokenizer"]) if "tokenizer" in e else None,
                               bom=loc(e["bom"]) if "bom" in e else None,
                               chain=tuple(loc(c) for c in e.get("chain", [])),
                               chain_init=tuple(e.get("chain_init", [])), backend=spec.teams[team].backend)
    refs = [(it["name"], Location(Path(it["path"]), it.get("hub_id"))) for it in opened["sealed"] if it["role"] == "reference"]
    code_refs = [(it["name"], Location(Path(it["path"]))) for it in opened["sealed"] if it["role"] == "reference-code"]
    pol = next((it for it in opened["sealed"] if it["role"] == "policy"), None)
    policy_path = out_dir / pol["copy"] if pol and "copy" in pol else None
    human = spec.path(spec.round.human) if spec.round.human else None
    if human is not None and not human.is_file():
        raise InputError(human, "human scores file not found")
    keep = tuple(it["copy"] for it in opened["sealed"] if "copy" in it)
    fp_reg = next((Path(it["path"]) for it in opened["sealed"] if it["role"] == "fingerprint-registry"), None)
    return RoundPlan(name=spec.round.name, seed=spec.round.seed, resamples=spec.round.resamples,
                     fp_registry=fp_reg, fp_registry_sealed=fp_reg is not None, protocol=sealed / "protocol.toml",
                     teams=teams, benchmarks=dict(spec.benchmarks), base=spec.base,
                     references=refs, code_refs=code_refs, policy=str(policy_path) if policy_path else
                     (pol or {}).get("name"), policy_path=policy_path, human=human, protocol_text=effective, keep=keep)


def _check_composed(sealed: bytes, effective: bytes, picks: dict[str, list[str]], source: Path) -> None:
    """The evaluated protocol is the sealed one plus the revealed picks, nothing else."""
    from fromscratch.decide import protocol as P
    from fromscratch.tomlio import parse_toml

    want = P.load_raw(source)
    if picks:
        want.setdefault("choices", {}).update({t: list(b) for t, b in picks.items()})
    try:
        got = parse_toml(effective, source, limit=P.MAX_PROTOCOL_BYTES)
    except InputError as exc:
        raise InputError(source, f"cannot add the revealed picks to the sealed protocol ({exc.problem})") from None
    if got != want:
        raise InputError(source, "adding the revealed picks changed more than [choices] (a pick for a team the "
                                 "protocol already lists?)")
    P.parse(got, source)


def timeline(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The lifecycle as the report shows it: open, deadline, each submission, each run."""
    opened = entries[0]
    rows: list[dict[str, Any]] = [{"event": "open", "time": opened["time"], "hash": _head_after(entries, 0)}]
    for i, e in enumerate(entries):
        if e.get("kind") == "submission":
            rows.append({"event": "submission", "time": e["time"], "team": e["team"], "n": e["n"],
                         "model_sha256": e["model"]["sha256"], "revealed": "reveal" in e,
                         "hash": _head_after(entries, i)})
        elif e.get("kind") == "run":
            rows.append({"event": "run", "run": e.get("run"), "hash": _head_after(entries, i)})
    return {"deadline": opened.get("deadline"), "opened": opened["time"], "events": rows,
            "commitment": _head_after(entries, 0)}


def _head_after(entries: list[dict[str, Any]], i: int) -> str | None:
    return next((e["hash"] for e in entries[i:] if e.get("kind") == "head"), None)


def run_sealed(out_dir: str | Path, *, key_path: str | Path | None = None, progress: bool | None = None,
               log=lambda s: None, registry: str | Path | None = None, client: Any = None) -> dict[str, Any]:
    """`round run DIR`: refuse anything changed since open or submission, then run the stages.

    ``registry`` (``--registry``): a fingerprint registry; when the round sealed one at open
    it must be that registry, unchanged; otherwise it is used and recorded in the run's section.
    """
    from fromscratch.round.run import execute, with_registry

    out_dir = Path(out_dir)
    entries = read_ledger(out_dir, repair=False)
    plan = plan_from_folder(out_dir, entries)  # refusals before anything changes
    if registry is not None:
        plan = with_registry(plan, Path(registry), sealed=next(
            (it for it in entries[0]["sealed"] if it["role"] == "fingerprint-registry"), None))
    note = L.recover(out_dir / L.LEDGER)
    if note:
        log(note)
    entries, _ = L.read_entries(out_dir / L.LEDGER)
    before = [e for e in entries if e.get("kind") == "run"]
    upto = entries if not before else entries[:entries.index(before[0])]
    extra = {"timeline": timeline(upto), "head_before": upto[-1]["hash"]}
    return execute(plan, out_dir, key_path=key_path, progress=progress, log=log, report_extra=extra, client=client)
