"""``fromscratch gauntlet MODEL``: what the referee sees through, shown on the organiser's own model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromscratch.errors import InputError


@click.command(name="gauntlet")
@click.argument("model", type=str)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every disguise and random split.")
@click.option("--json", "json_path", type=str, default=None, help="Write the fromscratch.gauntlet/1 JSON here ('-' = stdout).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report.")
@click.option("--only", type=str, default=None, help="Comma-separated disguise names (default: all).")
def gauntlet_cmd(model: str, seed: int, json_path: str | None, html_path: str | None, only: str | None) -> None:
    """Disguise MODEL every way the lineage audit claims to see through, audit each copy, report caught/missed."""
    from fromscratch.disguise.gauntlet import DISGUISES, run
    from fromscratch.disguise.report import print_table, render_html
    from fromscratch.jsonio import write_json

    if not Path(model).exists():
        raise InputError(model, "no such file or directory")
    if seed < 0:
        raise InputError("--seed", "must be a non-negative integer")
    names = None
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        unknown = sorted(set(names) - {d.name for d in DISGUISES})
        if unknown:
            raise InputError("--only", f"unknown disguise(s) {', '.join(unknown)}")
    interactive = sys.stderr.isatty()
    obj = run(model, seed=seed, only=names,
              progress=(lambda n: click.echo(f"  {n} ...", err=True)) if interactive else None)
    if json_path:
        write_json(obj, json_path)
    if html_path:
        Path(html_path).write_text(render_html(obj), encoding="utf-8")
    if json_path != "-":
        print_table(obj)
