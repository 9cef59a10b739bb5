"""Commit-reveal of team-chosen benchmarks.

At open a team's picks are published only as a commitment: the SHA-256 of the
RFC 8785 canonical JSON of ``{"benchmarks": [...], "nonce": "...", "team": "..."}``.
The nonce (128 random bits, kept by the team) makes the commitment impossible
to invert by trying every plausible pick list; the team name inside stops one
team from re-using another's commitment. At submission the team reveals the
object; it must hash to the commitment, so nobody — the organiser included —
could have changed a pick after seeing another team's.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Any

import rfc8785

from fromscratch.errors import InputError

MAX_REVEAL_BYTES = 64_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def commitment(team: str, benchmarks: list[str], nonce: str) -> str:
    return hashlib.sha256(rfc8785.dumps({"benchmarks": list(benchmarks), "nonce": nonce, "team": team})).hexdigest()


def make_reveal(team: str, benchmarks: list[str], nonce: str | None = None) -> dict[str, Any]:
    """The reveal object a team keeps until submission (nonce drawn here unless given)."""
    return {"team": team, "benchmarks": list(benchmarks), "nonce": nonce or secrets.token_hex(16)}


def read_reveal(path: str | Path) -> dict[str, Any]:
    """A reveal file (JSON object: team, benchmarks, nonce), validated; InputError otherwise."""
    from fromscratch.artifacts.hfdir import load_json

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "reveal file not found")
    obj = load_json(p, limit=MAX_REVEAL_BYTES)  # the one capped reader (size, UTF-8, deep nesting)
    if not isinstance(obj, dict) or set(obj) != {"team", "benchmarks", "nonce"}:
        raise InputError(p, "reveal must be a JSON object with exactly team, benchmarks and nonce")
    picks = obj["benchmarks"]
    if not isinstance(obj["team"], str) or not isinstance(obj["nonce"], str) or not obj["nonce"]:
        raise InputError(p, "reveal: team and nonce must be non-empty strings")
    if not isinstance(picks, list) or not picks or not all(isinstance(b, str) and _NAME.match(b) for b in picks):
        raise InputError(p, "reveal: benchmarks must be a non-empty list of benchmark names")
    if len(set(picks)) != len(picks):
        raise InputError(p, "reveal lists a benchmark twice")
    return obj


def check_reveal(reveal: dict[str, Any], team: str, expected: str | None, source: str | Path) -> None:
    """Refuse a reveal for another team, or one that does not open the team's commitment."""
    if expected is None:
        raise InputError(source, f"team {team!r} committed to no picks at open (its picks, if any, are in the protocol)")
    if reveal["team"] != team:
        raise InputError(source, f"reveal is for team {reveal['team']!r}, not {team!r}")
    got = commitment(team, reveal["benchmarks"], reveal["nonce"])
    if got != expected:
        raise InputError(source, f"reveal does not match team {team!r}'s commitment "
                                 f"(hashes to {got[:12]}..., committed {expected[:12]}...)")


def compose_protocol(text: bytes, picks: dict[str, list[str]], source: str | Path) -> bytes:
    """The sealed protocol with the revealed picks added under [choices] (nothing else changes).

    The picks go right after the ``[choices]`` header as quoted keys, so the result is the
    sealed TOML plus exactly those keys; the caller checks that by parsing it.
    """
    lines = text.decode("utf-8").splitlines(keepends=True)
    at = next((i for i, ln in enumerate(lines) if re.match(r"^\s*\[choices\]\s*(#.*)?$", ln.rstrip("\r\n"))), None)
    if at is None:
        raise InputError(source, "the protocol has no [choices] table for the committed picks")
    add = "".join(f"{json.dumps(t)} = [{', '.join(json.dumps(b) for b in bs)}]\n" for t, bs in sorted(picks.items()))
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines[:at + 1] + [add] + lines[at + 1:]).encode("utf-8")
