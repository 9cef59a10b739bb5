"""``fromscratch compare CANDIDATE REFERENCE``: weight lineage of one pair."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromscratch.errors import InputError


@click.command(name="compare")
@click.argument("candidate", type=str)
@click.argument("reference", type=str)
@click.option("--json", "json_path", type=str, default=None, help="Write the fromscratch.compare/1 JSON here ('-' = stdout).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None, help="Write a self-contained HTML report.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random split (results are deterministic given it).")
def compare_cmd(candidate: str, reference: str, json_path: str | None, html_path: str | None, seed: int) -> None:
    """Weight lineage of CANDIDATE against REFERENCE, component by component."""
    from fromscratch.jsonio import write_json
    from fromscratch.lineage.api import compare
    from fromscratch.lineage.report import print_table, render_html

    for p in (candidate, reference):
        if not Path(p).exists() and "/" not in p:
            raise InputError(p, "no such file or directory")
    if seed < 0:
        raise InputError("--seed", "must be a non-negative integer")
    interactive = sys.stdout.isatty()
    obj = compare(candidate, reference, seed=seed, progress=interactive)
    if json_path:
        write_json(obj, json_path)
    if html_path:
        Path(html_path).write_text(render_html([obj]), encoding="utf-8")
    if json_path != "-":
        print_table(obj)
