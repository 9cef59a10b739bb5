"""`fromscratch bench`: run tasks against a model, import lm-eval samples, list packs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from fromscratch.errors import InputError


@click.group(name="bench")
def bench_group() -> None:
    """Run benchmark tasks and import results into the item-level table."""


@bench_group.command("list")
def list_cmd() -> None:
    """List the built-in benchmark packs."""
    from fromscratch.bench import resolve_task
    from fromscratch.bench.packs import list_packs

    for name in list_packs():
        t = resolve_task(name)
        click.echo(f"{name}\t{t.output_type}\t{len(t.items)} items\t{t.metric}")


@bench_group.command("run")
@click.argument("tasks", nargs=-1, required=True)
@click.option("--team", required=True, help="Team name written in the results table.")
@click.option("--model", "model", default=None, help="Local model folder (in-process backend) or served model name.")
@click.option("--base-url", default=None, help="OpenAI-compatible server, e.g. http://host:8000/v1.")
@click.option("--api-key", envvar="FROMSCRATCH_API_KEY", default=None, help="Bearer token (or FROMSCRATCH_API_KEY).")
@click.option("--generation", type=click.Choice(["chat", "completions"]), default="chat", show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True)
@click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Results table (.jsonl or .csv).")
@click.option("--log-dir", default=None, type=click.Path(file_okay=False),
              help="Item logs for resumption (default: next to --out).")
@click.option("--json", "json_path", default=None, help="Run metadata JSON ('-' for stdout).")
def run_cmd(tasks: tuple[str, ...], team: str, model: str | None, base_url: str | None, api_key: str | None,
            generation: str, concurrency: int, retries: int, out: str, log_dir: str | None,
            json_path: str | None) -> None:
    """Run TASKS (pack names, task YAML paths, or kmmlu:/haerae:/click:/kobest: PATH)."""
    from fromscratch.bench import resolve_task
    from fromscratch.bench.backends import make_backend
    from fromscratch.bench.results import rows_from_records, summary, write_results
    from fromscratch.bench.runner import run_task
    from fromscratch.jsonio import write_json

    if base_url:
        spec = {"kind": "http", "base_url": base_url, "model": model or "default", "api_key": api_key,
                "generation": generation, "concurrency": concurrency, "retries": retries}
    elif model:
        spec = {"kind": "local", "model": model}
    else:
        raise InputError("--model", "give --model PATH (in-process) or --base-url URL")
    backend = make_backend(spec)
    logs = Path(log_dir) if log_dir else Path(out).parent / (Path(out).stem + ".logs")
    rows, runs = [], []
    for spec_text in tasks:
        task = resolve_task(spec_text)
        key = hashlib.sha256(json.dumps([team, task.sha256(), backend.describe()], sort_keys=True).encode())
        records, counts = run_task(task, backend, logs / f"{task.name}-{key.hexdigest()[:16]}.jsonl")
        rows += rows_from_records(team, task.name, records)
        runs.append({"benchmark": task.name, "task_sha256": task.sha256(), "data_sha256": task.data_sha256,
                     "version": task.version, **counts})
        click.echo(f"{task.name}: {counts['items']} items ({counts['reused']} from the log)", err=True)
    write_results(rows, out)
    if json_path:
        write_json({"schema": "fromscratch.bench/1", "team": team, "backend": backend.describe(),
                    "runs": runs, "summary": summary(rows)}, json_path)


@bench_group.command("import")
@click.argument("samples", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--team", required=True)
@click.option("--benchmark", default=None, help="Benchmark name (default: from the file name).")
@click.option("--metric", default=None, help="Metric key to score by (default acc, then exact_match).")
@click.option("--filter", "filter_name", default=None, help="lm-eval filter name to use.")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def import_cmd(samples: tuple[str, ...], team: str, benchmark: str | None, metric: str | None,
               filter_name: str | None, out: str) -> None:
    """Import lm-evaluation-harness --log_samples JSONL files into a results table."""
    from fromscratch.bench.importer import import_samples
    from fromscratch.bench.results import write_results

    rows = []
    for s in samples:
        rows += import_samples(s, team, benchmark=benchmark, metric=metric, filter_name=filter_name)
    write_results(rows, out)
    click.echo(f"{len(rows)} items", err=True)
