"""`fromscratch round run` and `fromscratch verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromscratch.errors import VerificationError


@click.group(name="round")
def round_group() -> None:
    """Run a whole round (submissions -> audits, benchmarks, decision, report, ledger)."""


@round_group.command("run")
@click.argument("round_file", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Round folder to write.")
@click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False),
              help="Ed25519 private key (PEM) to sign with; created if absent. Default: under the cache dir.")
@click.option("--json", "json_path", default=None, help="Run summary JSON ('-' for stdout); kept outside the folder.")
def run_cmd(round_file: str, out_dir: str, key_path: str | None, json_path: str | None) -> None:
    """Run ROUND_FILE into OUT; re-running repeats only what changed."""
    from fromscratch.jsonio import write_json
    from fromscratch.round.run import run_round

    if json_path and json_path != "-" and Path(json_path).resolve().is_relative_to(Path(out_dir).resolve()):
        raise click.UsageError("--json must be outside the round folder (every file there is in the ledger)")
    tty = sys.stderr.isatty()
    summary = run_round(round_file, out_dir, key_path=key_path, progress=tty,
                        log=lambda s: click.echo(s, err=True))
    for name, st in summary["stages"].items():
        note = f" ({st['note']})" if st.get("note") else ""
        click.echo(f"{name}: {st['status']}{note}", err=True)
    if json_path:
        write_json(summary, json_path)
    click.echo(summary["index"])


@click.command(name="verify")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--public-key", default=None, help="Expected signing key (base64 raw or its SHA256: fingerprint).")
@click.option("--no-recompute", is_flag=True, help="Skip recomputing the decision from its inputs.")
def verify_cmd(out_dir: str, public_key: str | None, no_recompute: bool) -> None:
    """Re-check a round folder: ledger chain and signature, every file, the decision."""
    from fromscratch.round.ledger import verify_dir

    problems, facts = verify_dir(Path(out_dir), expected_key=public_key)
    if not no_recompute and not problems and (Path(out_dir) / "decision.json").is_file():
        try:
            from fromscratch.decide.api import verify_decision_bundle
        except ImportError:
            verify_decision_bundle = None
        if verify_decision_bundle is not None:
            problems += [f"decision: {p}" for p in verify_decision_bundle(Path(out_dir))]
    if problems:
        raise VerificationError(problems)
    click.echo(f"ok: {facts.get('entries', 0)} ledger entries, {facts.get('files', 0)} files, "
               f"signed by {facts.get('key_fingerprint')}")
