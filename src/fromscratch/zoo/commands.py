"""``fromscratch zoo [--out DIR] [--json PATH] [--only NAME ...]``: build or locate the zoo."""

from __future__ import annotations

from pathlib import Path

import click

from fromscratch.errors import InputError


@click.command(name="zoo")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build into DIR instead of the cache (reused if already complete).")
@click.option("--json", "json_path", type=str, default=None,
              help="Write the catalogue (entries, paths, ground truth) as JSON; '-' = stdout.")
@click.option("--only", "only", multiple=True,
              help="With --out: build only these models (and what they derive from).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Parallel training processes (default: min(2, CPUs)).")
def zoo_cmd(out: Path | None, json_path: str | None, only: tuple[str, ...],
            workers: int | None) -> None:
    """Build (or locate) the fixture model zoo and list its models with their ground truth.

    The zoo is cached under $FROMSCRATCH_CACHE/zoo/<version> (default
    ~/.cache/fromscratch); the first build trains every model on the CPU.
    """
    import sys

    from fromscratch.errors import require
    from fromscratch.jsonio import write_json
    from fromscratch.zoo.catalogue import Zoo

    require("torch", "demo")
    require("tokenizers", "demo")
    from fromscratch.zoo import build

    progress = sys.stderr.isatty()
    if only and out is None:
        raise InputError("--only", "needs --out DIR (the cache always holds the whole zoo)")
    if out is not None:
        if (out / "catalogue.json").exists():
            zoo = Zoo.load(out)
        elif out.exists() and any(out.iterdir()):
            raise InputError(out, "exists, is not empty and holds no zoo catalogue.json")
        elif only:
            try:
                zoo = build.build_into(out, only=list(only), workers=workers, progress=progress)
            except KeyError as exc:
                raise InputError("--only", str(exc.args[0])) from None
        else:
            zoo = build.build_zoo(progress=progress, root=out, workers=workers)
    else:
        zoo = build.build_zoo(progress=progress, workers=workers)

    if json_path:
        doc = zoo.to_json()
        doc["root"] = str(zoo.root)
        for e in doc["entries"]:
            e["path"] = str(zoo.path(e["name"]))
        write_json(doc, json_path)
    if json_path != "-":
        click.echo(f"zoo: {zoo.root}")
        width = max(len(n) for n in zoo.names)
        for e in zoo.entries:
            rel = e.relation if e.parent is None else f"{e.relation} from {e.parent}"
            click.echo(f"  {e.name:<{width}}  {e.family:<8}  {e.format:<11}  {rel}")
