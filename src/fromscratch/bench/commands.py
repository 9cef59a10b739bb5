"""`fromscratch bench`: run tasks against a model, import lm-eval samples, list packs."""

from __future__ import annotations

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
@click.option("--split", type=click.Choice(["lm-eval", "offsets"]), default="lm-eval", show_default=True,
              help="Which tokens are the continuation's: lm-eval's rule, or by character offsets.")
@click.option("--add-bos", type=click.Choice(["tokenizer", "always", "never"]), default="tokenizer",
              show_default=True, help="In-process: BOS as the tokenizer adds it (lm-eval), always, or never.")
@click.option("--apply-chat-template", is_flag=True,
              help="Render prompts through the model's chat template (from its tokenizer config).")
@click.option("--chat-template", "chat_template_from", default=None, type=click.Path(exists=True),
              help="Folder (or tokenizer_config.json / .jinja file) holding the chat template; default --model.")
@click.option("--fewshot-as-multiturn", is_flag=True, help="With a chat template: one turn pair per few-shot example.")
def run_cmd(tasks: tuple[str, ...], team: str, model: str | None, base_url: str | None, api_key: str | None,
            generation: str, concurrency: int, retries: int, out: str, log_dir: str | None,
            json_path: str | None, split: str, add_bos: str, apply_chat_template: bool,
            chat_template_from: str | None, fewshot_as_multiturn: bool) -> None:
    """Run TASKS (pack names, task YAML paths, or kmmlu:/haerae:/click:/kobest: PATH)."""
    tasks_given = tasks
    from fromscratch.bench import resolve_task
    from fromscratch.bench.backends import make_backend
    from fromscratch.bench.results import summary, write_results
    from fromscratch.bench.suite import run_suite
    from fromscratch.jsonio import write_json
    from fromscratch.schemas.bench import Bench

    if base_url:
        spec = {"kind": "http", "base_url": base_url, "model": model or "default", "api_key": api_key,
                "generation": generation, "concurrency": concurrency, "retries": retries, "split": split}
    elif model:
        spec = {"kind": "local", "model": model, "split": split,
                "add_bos": {"tokenizer": None, "always": True, "never": False}[add_bos]}
    else:
        raise InputError("--model", "give --model PATH (in-process) or --base-url URL")
    backend = make_backend(spec)
    logs = Path(log_dir) if log_dir else Path(out).parent / (Path(out).stem + ".logs")
    template = None
    if apply_chat_template:
        from fromscratch.bench.chat import ChatTemplate

        where = chat_template_from or (model if not base_url else None)
        if where is None:
            raise InputError("--chat-template", "with --base-url, say where the chat template is")
        template = ChatTemplate.from_model(where)
    elif fewshot_as_multiturn:
        raise InputError("--fewshot-as-multiturn", "needs --apply-chat-template")
    tasks = {}
    for spec_text in tasks_given:
        task = resolve_task(spec_text)
        if template is not None:
            from fromscratch.bench.chat import apply_chat

            task = apply_chat(task, template, fewshot_as_multiturn=fewshot_as_multiturn)
        if task.name in tasks:
            raise InputError(spec_text, f"benchmark {task.name!r} given twice")
        tasks[task.name] = task
    runs = run_suite(team, backend, tasks, logs)
    rows = [row for r in runs for row in r.rows()]
    for r in runs:
        click.echo(f"{r.benchmark}: {r.counts['items']} items ({r.counts['reused']} from the log)", err=True)
    write_results(rows, out)
    if json_path:
        meta = Bench(schema="fromscratch.bench/1", team=team, backend=backend.describe(),
                     runs=[r.task_run() for r in runs], summary=summary(rows))
        write_json(meta.model_dump(by_alias=True), json_path)


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
