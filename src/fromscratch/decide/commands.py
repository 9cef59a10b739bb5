"""CLI: `fromscratch protocol init|seal` and `fromscratch decide` (see docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

import click

from fromscratch.errors import InputError
from fromscratch.progress import progress_bar


@click.group("protocol")
def protocol_group() -> None:
    """Create and seal a round's decision protocol."""


@protocol_group.command("init")
@click.option("--preset", "preset", required=True, help="Preset name, e.g. korea-2026-round1.")
def init_cmd(preset: str) -> None:
    """Print a preset protocol (TOML) on stdout."""
    from fromscratch.decide.presets import preset_toml

    click.echo(preset_toml(preset), nl=False)


@protocol_group.command("seal")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a seal JSON ({'sha256': ...}) here.")
def seal_cmd(file: Path, out: Path | None) -> None:
    """Print the SHA-256 of the protocol's RFC 8785 canonical JSON."""
    from fromscratch.decide.protocol import seal_record
    from fromscratch.jsonio import write_json

    record = seal_record(file)
    if out is not None:
        write_json(record, out)
    click.echo(record["sha256"])


@click.command("decide")
@click.option("--protocol", "protocol", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Protocol TOML.")
@click.option("--seal", "seal", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Seal JSON from `protocol seal --out`; a protocol changed since is refused.")
@click.option("--results", "results", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Item-level results (JSONL, CSV or Parquet): team, benchmark, item, score.")
@click.option("--human", "human", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Human scores (JSONL, CSV or Parquet): team, pillar, rater, criterion, score.")
@click.option("--resamples", "resamples", type=int, default=None,
              help="Bootstrap resamples (default: the protocol's, 10000).")
@click.option("--verdicts", "verdicts", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON team -> policy verdict (or audit object) for the originality gate.")
@click.option("--json", "json_out", default=None, help="Write the decision JSON here ('-' = stdout).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the self-contained HTML report here.")
def decide_cmd(protocol: Path, seal: Path | None, results: Path, human: Path | None, resamples: int | None,
               verdicts: Path | None, json_out: str | None, html_out: Path | None) -> None:
    """Decide eliminations under a (sealed) protocol, with measured robustness."""
    from fromscratch.decide.engine import decide_from_files
    from fromscratch.jsonio import write_json

    if resamples is not None and not 100 <= resamples <= 1_000_000:
        raise InputError("--resamples", f"must be between 100 and 1000000, got {resamples}")
    from fromscratch.decide.protocol import load

    total = resamples if resamples is not None else load(protocol).resamples
    with progress_bar("bootstrap", total) as advance:
        decision = decide_from_files(protocol, results, human, resamples=resamples, seal_path=seal,
                                     verdicts_path=verdicts, progress=advance)
    if html_out is not None:
        from fromscratch.decide.report import render

        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(render(decision), encoding="utf-8")
    if json_out is not None or html_out is None:
        write_json(decision, json_out or "-")  # no output option at all: the JSON on stdout, as documented
    if json_out != "-" and (json_out is not None or html_out is not None):
        rob = decision["robustness"]
        click.echo(f"eliminated: {', '.join(decision['eliminated']) or 'none'}; robustness: {rob['class']} "
                   f"(p_same_decision {rob['p_same_decision']:.3f})")
