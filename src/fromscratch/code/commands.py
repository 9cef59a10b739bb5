"""`fromscratch code CANDIDATE --against REF ...` and `fromscratch code index REF... --out INDEX`.

`code` is one entry of the CLI's command table, so both forms live in one click
group: a first argument `index` selects the index builder, anything else is a
CANDIDATE for the analysis (a candidate folder literally named `index` is
reachable as `./index`).
"""

from __future__ import annotations

from pathlib import Path

import click

from fromscratch.errors import InputError
from fromscratch.progress import interactive, progress_bar


class _CodeGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["analyse", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_text("Usage: fromscratch code CANDIDATE --against REF [--against REF ...] [--json PATH] [--html PATH]")
        formatter.write_text("       fromscratch code index REF... --out INDEX")
        formatter.write_text("Options of the analysis: --against (repeatable; a folder, a file, NAME=PATH or an "
                             "index file), --json PATH ('-' = stdout), --html PATH.")


def _bar(total: int, label: str):
    """The shared progress bar, only for more than one file."""
    return progress_bar(label, total, enabled=interactive() and total > 1)


@click.group(cls=_CodeGroup, name="code",
             help="Source-code reuse of a candidate tree against references (and `code index`).")
def code_cmd() -> None:
    pass


@code_cmd.command("analyse", hidden=True)
@click.argument("candidate", type=click.Path(path_type=Path))
@click.option("--against", "against", multiple=True, required=True,
              help="Reference: a directory, a file, NAME=PATH, or an index made by `code index` (repeatable).")
@click.option("--json", "json_path", default=None, help="Write the fromscratch.code/1 JSON here ('-' = stdout).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report with side-by-side matches.")
def analyse_cmd(candidate: Path, against: tuple[str, ...], json_path: str | None, html_path: str | None) -> None:
    """Rank the references each candidate file was taken from, and classify it."""
    from fromscratch.code.api import _load_references, analyse
    from fromscratch.code.report import print_summary, write_html
    from fromscratch.code.sources import list_sources
    from fromscratch.jsonio import write_json

    if not candidate.exists():
        raise InputError(candidate, "no such file or directory")
    n = len(list_sources(candidate))
    from fromscratch.code.index import is_index_file, parse_refs

    raw = [r for r in against if not is_index_file(parse_refs(r)[1])]
    total = sum(len(list_sources(parse_refs(r)[1])) for r in raw) if raw else 0
    with _bar(total, "fingerprinting references") as cb0:
        indices = _load_references(list(against), cb0)
    with _bar(n, "comparing") as cb:
        result = analyse(candidate, list(against), indices=indices, progress=cb)
    if json_path:
        write_json(result, json_path)
    if html_path:
        texts = {name: (ix, i) for ix in indices for i, name in enumerate(ix.files)}

        def ref_text(name: str) -> str | None:
            hit = texts.get(name)
            return hit[0].texts[hit[1]] if hit else None

        write_html(result, candidate, ref_text, html_path)
    if json_path != "-":
        print_summary(result)


@code_cmd.command("index")
@click.argument("refs", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Index file to write (.npz).")
def index_cmd(refs: tuple[str, ...], out: Path) -> None:
    """Fingerprint reference trees once into an index file for fast one-way queries."""
    from fromscratch.code.index import build_index, parse_refs, save_index
    from fromscratch.code.sources import list_sources

    total = sum(len(list_sources(parse_refs(r)[1])) for r in refs)
    with _bar(total, "fingerprinting") as cb:
        index = build_index(list(refs), progress=cb)
    save_index(index, out)
    click.echo(f"indexed {len(index.files)} files ({len(index.unit_file)} units, {len(index.skipped)} skipped) -> {out}")
