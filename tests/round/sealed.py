"""A small sealed round on the trained tiny model: three teams, one committing to its picks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fromscratch.round.commit import commitment, make_reveal

TEAMS = ("a", "b", "c")
BENCHES = {"particles": "ko-particles", "dates": "en-dates", "kodates": "ko-dates", "units": "en-units"}


def write_tasks(root: Path, items: int) -> None:
    from fromscratch.bench.packs import pack_path

    for name, pack in BENCHES.items():
        d = root / "tasks" / name
        d.mkdir(parents=True, exist_ok=True)
        src = pack_path(pack).parent
        rows = (src / "test.jsonl").read_text(encoding="utf-8").splitlines()[:items]
        (d / "test.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (d / "task.yaml").write_text((src / "task.yaml").read_text(encoding="utf-8").replace(
            f"task: {pack}", f"task: {name}"), encoding="utf-8")


def write_human(root: Path) -> None:
    """Two expert raters per team, scores rising with the team's position."""
    rows = ["team,pillar,rater,criterion,score"]
    for i, t in enumerate(TEAMS):
        for r in range(2):
            rows.append(f"{t},expert,r{r},overall,{0.5 + 0.1 * i + 0.05 * r:.2f}")
    (root / "human.csv").write_text("\n".join(rows) + "\n")


def write_sealed_round(root: Path, *, items: int = 6, deadline: str = "2099-01-01T00:00:00+09:00",
                       resubmission: bool = False, registry: Path | None = None) -> tuple[Path, Path]:
    """(round file, team c's reveal file). Teams a and b publish their picks; c commits."""
    root.mkdir(parents=True, exist_ok=True)
    write_tasks(root, items)
    (root / "protocol.toml").write_text("""name = "t"
seed = 3
eliminate = 1
resamples = 200
weight_samples = 300
[pillars]
common = 40
individual = 10
expert = 35
[benchmarks]
particles = "common"
dates = "common"
[choices]
pillar = "individual"
a = ["kodates"]
b = ["units"]
""")
    write_human(root)
    (root / "rubric.md").write_text("# Expert rubric\nScore 0-1 on overall quality.\n")
    reveal = make_reveal("c", ["kodates", "units"], nonce="5eed" * 8)
    import json

    (root / "reveal-c.json").write_text(json.dumps(reveal))
    com = commitment("c", reveal["benchmarks"], reveal["nonce"])
    reg = f'[registry]\nreferences = ["upstream={registry}"]\n' if registry else ""
    (root / "round.toml").write_text(f"""[round]
name = "t"
protocol = "protocol.toml"
human = "human.csv"
rubric = "rubric.md"
deadline = "{deadline}"
resubmission = {"true" if resubmission else "false"}
{'policy = "korea-2026"' if registry else ''}
{reg}
[benchmarks]
particles = "tasks/particles"
dates = "tasks/dates"
kodates = "tasks/kodates"
units = "tasks/units"

[teams.a]
[teams.b]
[teams.c]
commitment = "{com}"
""")
    return root / "round.toml", root / "reveal-c.json"


def cli(*args: str, cache: Path, crash_after: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, FROMSCRATCH_CACHE=str(cache))
    env.pop("FROMSCRATCH_CRASH_AFTER", None)
    if crash_after:
        env["FROMSCRATCH_CRASH_AFTER"] = crash_after
    return subprocess.run([sys.executable, "-m", "fromscratch", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
