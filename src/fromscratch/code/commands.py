"""`fromscratch code CANDIDATE --against REF ...` and `fromscratch code index REF... --out INDEX`.

`code` is one ordinary click command. Its first word `index` selects the index
builder (then the paths are references and `--out` is required); otherwise the one
path is the CANDIDATE and `--against` is required. A candidate folder literally
named `index` is reachable as `./index`. Wrong combinations are usage errors
(exit 2, one line).
"""

from __future__ import annotations

from pathlib import Path

import click

from fromscratch.errors import InputError
from fromscratch.progress import interactive, progress_bar


def _bar(total: int, label: str):
    """The shared progress bar, only for more than one file."""
    return progress_bar(label, total, enabled=interactive() and total > 1)


@click.command(name="code", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, metavar="CANDIDATE | index REF...")
@click.option("--against", "against", multiple=True,
              help="Reference: a directory, a file, NAME=PATH, or an index made by `code index` (repeatable).")
@click.option("--json", "json_path", default=None, help="Write the fromscratch.code/1 JSON here ('-' = stdout).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report with side-by-side matches.")
@click.option("--out", "out", default=None, type=click.Path(path_type=Path),
              help="With `code index`: the index file to write (.npz).")
def code_cmd(paths: tuple[str, ...], against: tuple[str, ...], json_path: str | None, html_path: str | None,
             out: Path | None) -> None:
    """Source-code reuse of a candidate tree against references.

    \b
    fromscratch code CANDIDATE --against REF [--against REF ...] [--json PATH] [--html PATH]
    fromscratch code index REF... --out INDEX
    """
    if paths[0] == "index":
        if against or json_path or html_path:
            raise click.UsageError("`code index REF... --out INDEX` takes no --against, --json or --html")
        if len(paths) < 2 or out is None:
            raise click.UsageError("`code index` needs at least one REF and --out INDEX")
        _index(paths[1:], out)
        return
    if out is not None:
        raise click.UsageError("--out belongs to `code index`")
    if len(paths) != 1:
        raise click.UsageError("give one CANDIDATE (a file or a folder)")
    if not against:
        raise click.UsageError("missing option --against")
    _analyse(Path(paths[0]), against, json_path, html_path)


def _analyse(candidate: Path, against: tuple[str, ...], json_path: str | None, html_path: str | None) -> None:
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


def _index(refs: tuple[str, ...], out: Path) -> None:
    """Fingerprint reference trees once into an index file for fast one-way queries."""
    from fromscratch.code.index import build_index, parse_refs, save_index
    from fromscratch.code.sources import list_sources

    total = sum(len(list_sources(parse_refs(r)[1])) for r in refs)
    with _bar(total, "fingerprinting") as cb:
        index = build_index(list(refs), progress=cb)
    save_index(index, out)
    click.echo(f"indexed {len(index.files)} files ({len(index.unit_file)} units, {len(index.skipped)} skipped) -> {out}")
