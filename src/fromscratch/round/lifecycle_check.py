"""`verify`'s lifecycle checks of a sealed round folder.

On top of the ledger's chain, signatures and file list (`ledger.verify_dir`),
a sealed round must show: one ``open`` section first; every submission after
it, at or before the sealed deadline, by a team the round knows, at most one
per team unless re-submission was sealed as allowed, each reveal opening its
team's commitment; every result after every submission; nothing sealed changed
(the copies in the folder, and the external references and benchmarks when
they are present on this machine); and each run evaluated exactly the sealed
registry and benchmarks, the latest submissions, and the sealed protocol plus
the revealed picks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.errors import InputError
from fromscratch.round.commit import commitment, compose_protocol


def _order(entries: list[dict[str, Any]], opened: dict[str, Any]) -> list[str]:
    from fromscratch.round.lifecycle import parse_time

    problems = []
    if sum(1 for e in entries if e.get("kind") == "open") != 1:
        problems.append("lifecycle: the ledger has more than one 'open' entry")
    first_run = next((i for i, e in enumerate(entries) if e.get("kind") == "run"), len(entries))
    try:
        t_open, deadline = parse_time(opened["time"], "open"), parse_time(opened["deadline"], "deadline")
    except (InputError, KeyError, TypeError):
        return problems + ["lifecycle: the open entry has no valid time or deadline"]
    last, counts = t_open, {}
    for i, e in enumerate(entries):
        if e.get("kind") != "submission":
            continue
        team, where = e.get("team"), f"lifecycle: submission {e.get('n')} of team {e.get('team')!r}"
        if i > first_run:
            problems.append(f"{where} comes after results")
        if team not in opened.get("teams", {}):
            problems.append(f"{where}: the round does not know this team")
            continue
        try:
            t = parse_time(e["time"], "submission")
        except (InputError, KeyError):
            problems.append(f"{where}: no valid time")
            continue
        if t < last:
            problems.append(f"{where}: time {e['time']} is earlier than the entry before it")
        if t > deadline:
            problems.append(f"{where}: made at {e['time']}, after the deadline {opened['deadline']}")
        last = t
        counts[team] = counts.get(team, 0) + 1
        if counts[team] > 1 and not opened.get("resubmission"):
            problems.append(f"{where}: a re-submission, which this round did not allow")
        problems += _reveal(e, opened["teams"][team].get("commitment"), where)
    return problems


def _reveal(e: dict[str, Any], committed: str | None, where: str) -> list[str]:
    rv = e.get("reveal")
    if committed is None:
        return [f"{where}: reveals picks although the team committed to none"] if rv else []
    if not isinstance(rv, dict):
        return [f"{where}: the team committed to picks but this submission reveals none"]
    if commitment(e["team"], rv.get("benchmarks", []), str(rv.get("nonce"))) != committed:
        return [f"{where}: its reveal does not match the team's commitment"]
    return []


def _runs(entries: list[dict[str, Any]], opened: dict[str, Any], out_dir: Path) -> list[str]:
    """Each run's inputs against the seal and the submissions before it; the evaluated protocol."""
    from fromscratch.round.lifecycle import SEALED, latest_submissions

    problems = []
    sealed = {(it["role"], it.get("name")): it for it in opened["sealed"]}
    for i, e in enumerate(entries):
        if e.get("kind") != "run":
            continue
        subs = latest_submissions(entries[:i])
        section = []
        for x in entries[i + 1:]:
            if x.get("kind") == "head":
                break
            section.append(x)
        for x in section:
            if x.get("kind") != "input":
                continue
            role = x.get("role")
            if role in ("reference", "reference-code", "benchmark"):
                it = sealed.get((role, x.get("name")))
                if it is None or it.get("sha256") != x.get("sha256") or it.get("data_sha256") != x.get("data_sha256"):
                    problems.append(f"lifecycle: run {e.get('run')} used {role} {x.get('name')!r} other than the sealed one")
            elif role in ("model", "code", "tokenizer", "bom"):
                sub = subs.get(x.get("team"))
                if sub is None or (sub.get(role) or {}).get("sha256") != x.get("sha256"):
                    problems.append(f"lifecycle: run {e.get('run')} evaluated a {role} of team {x.get('team')!r} "
                                    "that is not its latest submission")
            elif role == "chain":
                recs = (subs.get(x.get("team")) or {}).get("chain") or []
                i_ = x.get("index")
                if not isinstance(i_, int) or not 0 <= i_ < len(recs) or recs[i_].get("sha256") != x.get("sha256"):
                    problems.append(f"lifecycle: run {e.get('run')} evaluated checkpoint {i_} of team "
                                    f"{x.get('team')!r}'s chain, which is not in its latest submission")
            elif role == "fingerprint-registry":
                it = sealed.get((role, None))
                if (it is not None and it.get("sha256") != x.get("sha256")) or (it is None and x.get("sealed_at_open")):
                    problems.append(f"lifecycle: run {e.get('run')} used a fingerprint registry other than the sealed one")
    subs = latest_submissions(entries)
    if any(e.get("kind") == "run" for e in entries) and (out_dir / "protocol.toml").is_file():
        picks = {t: s["reveal"]["benchmarks"] for t, s in subs.items() if isinstance(s.get("reveal"), dict)}
        base = (out_dir / SEALED / "protocol.toml").read_bytes()
        want = compose_protocol(base, picks, "protocol.toml") if picks else base
        if (out_dir / "protocol.toml").read_bytes() != want:
            problems.append("protocol.toml: is not the sealed protocol plus the revealed picks")
    return problems


def check_lifecycle(entries: list[dict[str, Any]], out_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """Problems of a sealed round's lifecycle, and facts (unchecked external items)."""
    try:
        return _check(entries, out_dir)
    except (InputError, KeyError, TypeError, AttributeError, ValueError) as exc:
        return [f"lifecycle: malformed ledger entries ({exc.__class__.__name__}: {exc})"], {"sealed": True, "unchecked": []}


def _check(entries: list[dict[str, Any]], out_dir: Path) -> tuple[list[str], dict[str, Any]]:
    from fromscratch.round.lifecycle import changed_since_open

    opened = entries[0]
    problems = _order(entries, opened)
    problems += _runs(entries, opened, out_dir)
    unchecked = []
    for path, what in changed_since_open(opened, out_dir):
        if "is missing" in what and not str(path).startswith(str(out_dir)):
            unchecked.append(path)  # an external input not on this machine: cannot be re-digested here
        else:
            problems.append(f"{path}: {what}")
    return problems, {"sealed": True, "unchecked": unchecked}
