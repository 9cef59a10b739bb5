"""`fromscratch round open|commit|submit|run` and `fromscratch verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromscratch.errors import VerificationError

_KEY_HELP = "Ed25519 private key (PEM) to sign with; created if absent. Default: under the cache dir."


@click.group(name="round")
def round_group() -> None:
    """Run a round: open (seal the rules), submit (each team), run (evaluate), or the one-call run."""


@round_group.command("open")
@click.argument("round_file", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="New round folder.")
@click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False), help=_KEY_HELP)
def open_cmd(round_file: str, out_dir: str, key_path: str | None) -> None:
    """Seal ROUND_FILE's rules into OUT; the last stdout line is the commitment to publish."""
    from fromscratch.round.lifecycle import open_round

    res = open_round(round_file, out_dir, key_path=key_path)
    click.echo(f"opened {res['out']}; signed by {res['key_fingerprint']}; publish the commitment below", err=True)
    click.echo(res["commitment"])


@round_group.command("commit")
@click.option("--team", required=True, help="The team making the commitment.")
@click.option("--benchmark", "benchmarks", multiple=True, required=True, help="One pick (repeat, in order).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Reveal file to keep secret until submission.")
def commit_cmd(team: str, benchmarks: tuple[str, ...], out: str) -> None:
    """Commit to a team's picks: write the reveal file, print the commitment for the round file."""
    from fromscratch.errors import InputError
    from fromscratch.jsonio import write_json
    from fromscratch.round.commit import commitment, make_reveal

    if Path(out).exists():
        raise InputError(out, "exists already (a second nonce would make a second commitment)")
    rv = make_reveal(team, list(benchmarks))
    write_json(rv, out)
    click.echo(commitment(rv["team"], rv["benchmarks"], rv["nonce"]))


@round_group.command("submit")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.argument("more_chain", nargs=-1, type=click.Path(), metavar="")
@click.option("--team", required=True, help="The submitting team (as named at open).")
@click.option("--model", default=None, help="Model location (path or cached hub id).")
@click.option("--code", default=None, type=click.Path(), help="Inference-code folder.")
@click.option("--bom", default=None, type=click.Path(dir_okay=False), help="Declared bill of materials.")
@click.option("--tokenizer", default=None, help="Tokenizer files, if separate from the model.")
@click.option("--chain", "chain", multiple=True, type=click.Path(),
              help="The training chain, in order (claimed initialisation first): --chain CKPT_0 CKPT_1 ... "
                   "(or --chain repeated).")
@click.option("--chain-init", "chain_init", multiple=True, metavar="KEY=VALUE",
              help="The chain's declared init scheme where its config.json does not state it (see `chain --init`).")
@click.option("--reveal", default=None, type=click.Path(dir_okay=False), help="Reveal file of the team's picks.")
@click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False), help=_KEY_HELP)
def submit_cmd(out_dir: str, more_chain: tuple[str, ...], team: str, model: str | None, code: str | None,
               bom: str | None, tokenizer: str | None, chain: tuple[str, ...], reveal: str | None,
               key_path: str | None, chain_init: tuple[str, ...] = ()) -> None:
    """Record TEAM's submission in the sealed round OUT_DIR (by digest)."""
    from fromscratch.round.lifecycle import submit

    if more_chain and len(chain) != 1:
        raise click.UsageError(f"unexpected argument {more_chain[0]!r}: give the chain as --chain CKPT_0 CKPT_1 ... "
                               "after OUT_DIR, or as repeated --chain options, not both")
    chain = chain + more_chain  # `--chain A B C`: click gives --chain A, and B C as trailing arguments

    res = submit(out_dir, team, model=model, code=code, bom=bom, tokenizer=tokenizer, chain=chain, reveal=reveal,
                 key_path=key_path, chain_init=chain_init)
    if res.get("note"):
        click.echo(res["note"], err=True)
    click.echo(f"submitted: team {res['team']} (submission {res['n']}) at {res['time']}", err=True)
    click.echo(f"head: {res['head']}")


@round_group.command("run")
@click.argument("target", type=click.Path())
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Round folder to write (the one-call form ROUND.toml --out DIR; unsealed).")
@click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False), help=_KEY_HELP)
@click.option("--json", "json_path", default=None, help="Run summary JSON ('-' for stdout); kept outside the folder.")
@click.option("--registry", "fp_registry", default=None, metavar="LOC", type=click.Path(file_okay=False),
              help="A fingerprint registry: each team is also audited against the registered models its "
                   "pre-filter passes (recorded by digest; a sealed round's own registry only, unchanged).")
@click.option("--dask", "dask", default=None, metavar="ADDRESS",
              help="Send the registry's fingerprinting and comparisons to this Dask scheduler (same results).")
def run_cmd(target: str, out_dir: str | None, key_path: str | None, json_path: str | None,
            fp_registry: str | None = None, dask: str | None = None) -> None:
    """Evaluate a sealed round folder (DIR), or run ROUND.toml into --out in one call (unsealed)."""
    from fromscratch.jsonio import write_json

    sealed = Path(target).is_dir()
    if not sealed and out_dir is None:
        raise click.UsageError("ROUND.toml needs --out DIR (or pass a round folder made by `round open`)")
    if sealed and out_dir is not None and Path(out_dir).resolve() != Path(target).resolve():
        raise click.UsageError("a sealed round is evaluated in its own folder; drop --out")
    folder = Path(target) if sealed else Path(out_dir)  # type: ignore[arg-type]
    if json_path and json_path != "-" and Path(json_path).resolve().is_relative_to(folder.resolve()):
        raise click.UsageError("--json must be outside the round folder (every file there is in the ledger)")
    tty = sys.stderr.isatty()
    say = lambda s: click.echo(s, err=True)  # noqa: E731
    from fromscratch.round.fpregistry import connect

    client = connect(dask)
    try:
        if sealed:
            from fromscratch.round.lifecycle import run_sealed

            summary = run_sealed(folder, key_path=key_path, progress=tty, log=say, registry=fp_registry, client=client)
        else:
            from fromscratch.round.run import run_round

            summary = run_round(target, folder, key_path=key_path, progress=tty, log=say, registry=fp_registry,
                                client=client)
    finally:
        if client is not None:
            client.close()
    for name, st in summary["stages"].items():
        note = f" ({st['note']})" if st.get("note") else ""
        say(f"{name}: {st['status']}{note}")
    if json_path:
        write_json(summary, json_path)
    click.echo(summary["index"])
    click.echo(f"head: {summary['head']}")


@click.command(name="verify")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--public-key", default=None, help="Expected signing key (base64 raw or its SHA256: fingerprint).")
@click.option("--head", "head", default=None,
              help="A chain head published earlier (hex); the ledger must still contain it.")
@click.option("--no-recompute", is_flag=True, help="Skip recomputing the decision from its inputs.")
def verify_cmd(out_dir: str, public_key: str | None, head: str | None, no_recompute: bool) -> None:
    """Re-check a round folder: ledger chain and signature, every file, the lifecycle, the decision."""
    from fromscratch.round.ledger import LEDGER, read_entries, verify_dir

    root = Path(out_dir)
    problems, facts = verify_dir(root, expected_key=public_key)
    entries, _ = read_entries(root / LEDGER) if (root / LEDGER).is_file() else ([], [])
    sealed = bool(entries) and entries[0].get("kind") == "open"
    unchecked: list[str] = []
    if sealed:
        from fromscratch.round.lifecycle_check import check_lifecycle

        more, lf = check_lifecycle(entries, root)
        problems += more
        unchecked = lf["unchecked"]
    if head is not None and not any(e.get("hash") == head.strip().lower() for e in entries):
        problems.append(f"--head {head}: the ledger no longer contains that entry (entries were dropped or replaced)")
    if not no_recompute and not problems and (root / "decision.json").is_file():
        from fromscratch.decide.api import verify_decision_bundle

        problems += [f"decision: {p}" for p in verify_decision_bundle(root)]
    if problems:
        raise VerificationError(problems)
    kind = "sealed round" if sealed else "unsealed round (one-call form: nothing shows the rules predate the results)"
    click.echo(f"ok: {kind}; {facts.get('entries', 0)} ledger entries, {facts.get('files', 0)} files, "
               f"signed by {facts.get('key_fingerprint')}")
    for p in unchecked:
        click.echo(f"not checked here (absent on this machine): {p}")
    click.echo(f"head: {entries[-1]['hash']}")
