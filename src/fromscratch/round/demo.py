"""`fromscratch demo`: a seven-team round on the fixture zoo, end to end.

The teams (models from the fixture zoo and its checkpoint-chain material, all
other material in ``demo_material``):

* ``hana``, ``dul`` — independently trained llama models, honest declarations;
* ``set`` — the zoo's two-tower model whose vision encoder was copied from
  another model (the registry's ``open-encoder``) and trained further; its
  declaration says "trained from scratch" (undeclared copied encoder);
* ``net`` — an independent model whose inference code copies two files of the
  reference library ``openinfer`` with renamed identifiers and the copyright
  and licence header removed (unattributed copied code);
* ``daseot`` — a model with its own tokenizer, and declared, attributed reuse
  of one small helper file;
* ``yeoseot`` — a tiny llama trained from a real random initialisation, submitted
  with its checkpoint chain (genuine: the audit's chain check passes, and the
  verdict carries ``evidence_strength: chain-verified``);
* ``ilgop`` — a tiny llama submitted with a forged chain: its "initialisation" is
  the registry's ``open-tiny`` with every matrix's rows and columns shuffled,
  then trained on. Weight lineage finds nothing (the final model is independent
  of open-tiny); the chain's initialisation test fails at step 0, so the audit
  is ``needs-review`` naming that step.

The two chain teams' models are the chain material's (``zoo.chains.demo_chains``:
d = 64, 2 layers, its own 512-token tokenizer, built and cached on first use),
not the zoo's: a chain is only evidence for the model trained along it, and
that material is where genuine and forged chains were calibrated. The round's
references include the material's trained reference (``open-tiny``, whose
tokenizer both chain teams declare).

Human (expert and user) scores are demo inputs written for this round; they
are set so that the two lowest teams on score end up close — the near-tie at
the bottom that the robustness analysis is for. Everything else (audits,
benchmark scores, decision) is computed.

The demo runs the sealed lifecycle: ``round open`` (every team commits to its
own picks; the picks are revealed with the submission), seven ``round submit``
calls, then ``round run``. The demo's nonces are derived from the team names so
its round file is reproducible; a real team draws a random one
(``fromscratch round commit``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click

MATERIAL = Path(__file__).parent / "demo_material"
TEAMS: dict[str, tuple[str | None, list[str]]] = {  # team -> (zoo model or None: see CHAINS, own picks)
    "hana": ("llama-s1", ["en-units", "ko-dates"]),
    "dul": ("llama-s2", ["en-reading", "en-units"]),
    "set": ("llava-transplant", ["ko-dates", "en-reading"]),
    "net": ("llama-s3", ["en-reading", "ko-dates"]),
    "daseot": ("llama-tokb", ["en-reading", "en-units"]),
    "yeoseot": (None, ["ko-dates", "en-units"]),
    "ilgop": (None, ["en-units", "en-reading"]),
}
# team -> the `demo_chains()` submission it hands in: that model, and its checkpoint chain
# (`round submit --chain`, claimed initialisation first)
CHAINS = {"yeoseot": "genuine", "ilgop": "forged"}
REFERENCES = {"open-llama": "llama-s0", "open-encoder": "bert-s0"}  # label -> zoo model
CHAIN_REFERENCES = {"open-tiny": "ref-a"}  # label -> demo_chains() reference
COMMON = {"ko-knowledge": "common", "en-knowledge": "common", "ko-particles": "common", "en-dates": "common",
          "ko-arith": "national", "ko-reading": "national"}
# expert / user pillar means per team (0-1), three raters each (demo inputs, see module doc)
HUMAN = {"expert": {"hana": 0.78, "dul": 0.66, "set": 0.74, "net": 0.70, "daseot": 0.67, "yeoseot": 0.72,
                    "ilgop": 0.69},
         "user": {"hana": 0.72, "dul": 0.62, "set": 0.70, "net": 0.66, "daseot": 0.63, "yeoseot": 0.68,
                  "ilgop": 0.65}}
RATER_OFFSETS = (-0.03, 0.0, 0.04)


def _toml_list(xs: list[str]) -> str:
    return "[" + ", ".join(f'"{x}"' for x in xs) + "]"


def _q(p: Path | str) -> str:
    return '"' + str(p).replace("\\", "\\\\").replace('"', '\\"') + '"'


def demo_nonce(team: str) -> str:
    return hashlib.sha256(f"fromscratch demo nonce {team}".encode()).hexdigest()[:32]


def chain_material() -> dict:
    """The chain teams' submissions and references (`zoo.chains.demo_chains`; built on first use)."""
    from fromscratch.zoo.chains import demo_chains

    return demo_chains()


def _write_protocol(where: Path) -> None:
    """The demo's decision protocol (its own file: the round file names it)."""
    benches = "\n".join(f'{b} = "{p}"' for b, p in COMMON.items())
    (where / "protocol.toml").write_text(f"""# The demo round's decision protocol (sealed at open; the teams' picks are
# committed in the round file and added under [choices] when revealed).
name = "fromscratch-demo"
seed = 20260115
eliminate = 1
normalisation = "raw"
alpha = 0.05
resamples = 2000
weight_samples = 5000

[pillars]
national = 10
common = 20
individual = 10
expert = 35
user = 25

[benchmarks]
{benches}

[choices]
pillar = "individual"

[originality]
gate = "disqualify"

[counterfactuals.weights]
expert = [25, 45]
user = [15, 35]
""", encoding="utf-8")


def write_inputs(zoo, where: Path, deadline: str | None = None, chains: dict | None = None) -> Path:
    """Write the sealed round's inputs (protocol, rubric, human scores, reveals, round file); return the round file.

    ``chains`` is `chain_material()` (computed when not given).
    """
    import json

    from fromscratch.round.commit import commitment

    where.mkdir(parents=True, exist_ok=True)
    _write_protocol(where)
    lines = ["team,pillar,rater,criterion,score"]
    for pillar, means in HUMAN.items():
        for team, m in means.items():
            for r, off in enumerate(RATER_OFFSETS):
                for c, coff in (("quality", 0.01), ("usefulness", -0.01)):
                    lines.append(f"{team},{pillar},{pillar}-r{r + 1},{c},{min(1.0, max(0.0, m + off + coff)):.2f}")
    (where / "human.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (where / "rubric.md").write_text("# Demo human-scoring rubric\n\nExpert and user raters score each team 0-1 on "
                                     "`quality` and `usefulness`; a pillar is the mean over raters of each rater's "
                                     "mean over the two criteria.\n", encoding="utf-8")
    all_benches = sorted(set(COMMON) | {b for _, p in TEAMS.values() for b in p})
    teams = []
    for team, (_, p) in TEAMS.items():
        rv = {"team": team, "benchmarks": p, "nonce": demo_nonce(team)}
        (where / "reveals").mkdir(exist_ok=True)
        (where / "reveals" / f"{team}.json").write_text(json.dumps(rv), encoding="utf-8")
        teams.append(f'[teams.{team}]\ncommitment = "{commitment(team, p, rv["nonce"])}"\n')
    chains = chain_material() if chains is None else chains
    refs = ", ".join([_q(f"{label}={zoo.path(name)}") for label, name in REFERENCES.items()]
                     + [_q(f"{label}={chains['references'][name]}") for label, name in CHAIN_REFERENCES.items()])
    if deadline is None:
        from datetime import datetime, timedelta, timezone

        day = (datetime.now(timezone.utc) + timedelta(days=2)).date()
        deadline = f"{day.isoformat()}T23:59:59+09:00"
    (where / "round.toml").write_text(f"""# The demo round: seven teams on the fixture zoo (sealed lifecycle).
[round]
name = "fromscratch-demo"
protocol = "protocol.toml"
human = "human.csv"
rubric = "rubric.md"
policy = "korea-2026"
deadline = "{deadline}"
seed = 0

[registry]
references = [{refs}]
code = [{_q("openinfer=" + str(MATERIAL / "refcode" / "openinfer"))}]

[benchmarks]
{chr(10).join(f'{b} = "{b}"' for b in all_benches)}

{chr(10).join(teams)}""", encoding="utf-8")
    return where / "round.toml"


def submissions(zoo, where: Path, chains: dict | None = None) -> dict[str, dict]:
    """team -> the `round submit` arguments of its demo submission (``chains``: `chain_material()`)."""
    chains = chain_material() if chains is None else chains
    out = {}
    for team, (model, _) in TEAMS.items():
        sub = chains[CHAINS[team]] if team in CHAINS else None
        out[team] = {"model": str(zoo.path(model)) if sub is None else sub["model"],
                     "code": str(MATERIAL / "teams" / team / "code"),
                     "bom": str(MATERIAL / "teams" / team / "bom.toml"),
                     "chain": [] if sub is None else list(sub["chain"]),
                     "chain_init": [] if sub is None else list(sub["init_options"]),
                     "reveal": str(where / "reveals" / f"{team}.json")}
    return out


def run_lifecycle(zoo, inputs: Path, out_dir: Path, *, progress: bool | None, log) -> dict:
    """Open the demo round in OUT_DIR (or reuse the demo round already there), submit, run."""
    from fromscratch.errors import InputError
    from fromscratch.round import ledger as L
    from fromscratch.round.lifecycle import latest_submissions, open_round, run_sealed, submit

    entries = L.read_entries(out_dir / L.LEDGER, as_recovered=True)[0] if (out_dir / L.LEDGER).is_file() else []
    chains = chain_material()
    if entries and not (entries[0].get("kind") == "open" and entries[0].get("round") == "fromscratch-demo"):
        raise InputError(out_dir, "holds another round; give the demo an empty folder")
    if not entries:
        if out_dir.is_dir() and any(out_dir.iterdir()):
            raise InputError(out_dir, "is not empty and holds no demo round; give the demo an empty folder")
        round_file = write_inputs(zoo, inputs, chains=chains)
        opened = open_round(round_file, out_dir)
        log(f"round open: commitment {opened['commitment']}")
        entries = L.read_entries(out_dir / L.LEDGER)[0]
    done = latest_submissions(entries)
    for team, args in submissions(zoo, inputs, chains).items():
        if team not in done:
            res = submit(out_dir, team, **args)
            log(f"round submit: {team} at {res['time']}")
    return run_sealed(out_dir, progress=progress, log=log)


@click.command(name="demo")
@click.option("--out", "out_dir", default="fromscratch-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the round's outputs.")
@click.option("--zoo", "zoo_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Use a zoo already built there (fromscratch zoo --out DIR) instead of the cached one.")
def demo_cmd(out_dir: str, zoo_dir: str | None) -> None:
    """Run a seven-team round on the fixture zoo and built-in packs; print the report's path."""
    from fromscratch.zoo import build_zoo, cache_dir, zoo_version

    tty = sys.stderr.isatty()
    say = lambda s: click.echo(s, err=True)  # noqa: E731
    if zoo_dir:
        from fromscratch.errors import InputError
        from fromscratch.zoo.catalogue import Zoo

        try:
            zoo = Zoo.load(Path(zoo_dir))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(zoo_dir, f"not a built fixture zoo ({exc})") from None
        tag = "zoo-" + hashlib.sha256(str(Path(zoo_dir).resolve()).encode()).hexdigest()[:12]
    else:
        say("fromscratch demo: building or loading the fixture zoo (cached after the first run)")
        zoo = build_zoo(progress=tty)
        tag = zoo_version()
    say("fromscratch demo: building or loading the checkpoint-chain material (cached after the first run)")
    inputs = cache_dir() / "demo" / tag
    say(f"round inputs: {inputs}")
    summary = run_lifecycle(zoo, inputs, Path(out_dir), progress=tty, log=say)
    missing = {k: v for k, v in summary["stages"].items() if v.get("status") == "unavailable"}
    for name, st in summary["stages"].items():
        note = f" — {st['note']}" if st.get("note") else ""
        say(f"  {name}: {st['status']}{note}")
    if missing:
        say("NOT AVAILABLE in this build yet: " + ", ".join(missing) + " (their results are absent, not faked)")
    dec = summary.get("decision")
    if dec:
        say(f"eliminated: {', '.join(dec.get('eliminated') or []) or 'none'}; "
            f"robustness: {(dec.get('robustness') or {}).get('class')}")
    say(f"signed by {summary['key_fingerprint']}; check with: fromscratch verify {out_dir} --head {summary['head']}")
    click.echo(str(Path(summary["index"]).resolve()))
