"""``fromscratch chain CKPT_0 ... CKPT_n``: verify a checkpoint chain.

    fromscratch chain CKPT_0 CKPT_1 ... CKPT_n [--model SUBMITTED]
        [--against [NAME=]REF ...] [--references REGISTRY.toml]
        [--config CONFIG.json] [--init KEY=VALUE ...] [--reference-checks all|flagged]
        [--json PATH] [--html PATH] [--seed N]

A folder of checkpoints or a glob may stand for several checkpoints (natural order).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fromscratch.errors import InputError


def _load_config(path: str | None) -> dict | None:
    """The declared config through the one capped JSON reader (hostile nesting and size included)."""
    if path is None:
        return None
    from fromscratch.artifacts.hfdir import load_json

    if not Path(path).is_file():
        raise InputError(path, "no such configuration file")
    data = load_json(Path(path), limit=16 * 1024 * 1024)
    if not isinstance(data, dict):
        raise InputError(path, "a configuration must be a JSON object")
    return data


def summary(obj: dict) -> str:
    init = obj["init"]
    lines = [f"init: {'fresh' if init['fresh'] else 'NOT fresh'} (p = {init['p_value']:.3g}, "
             f"{init['tests']} tests on {init['tensors_tested']} tensors)"]
    lines += [f"  {f}" for f in init["findings"][:5]]
    for s in obj["steps"]:
        lines.append(f"step {s['from']} -> {s['to']}: {s['relation']:<12} change {s['change']:.4g}"
                     + (f"  [{s['flag']}]" if s["flag"] else ""))
    sub = obj["submission"]
    lines.append(f"submission: {sub['relation'] or 'not given'}")
    for f in obj["failures"]:
        lines.append(f"FAIL step {f['step']} ({f['check']}): {f['detail']}")
    lines.append(f"verdict: {obj['verdict']}")
    return "\n".join(lines)


@click.command("chain")
@click.argument("checkpoints", nargs=-1, required=True)
@click.option("--model", default=None, help="The submitted model: must be CKPT_n or derived from it.")
@click.option("--against", "references", multiple=True, metavar="[NAME=]REF",
              help="A reference model (repeatable): no checkpoint may be derived from it.")
@click.option("--references", "registry", type=click.Path(dir_okay=False), default=None,
              help="A reference registry TOML ([[reference]] name, model, ...).")
@click.option("--config", "config_path", default=None,
              help="config.json declaring the initialisation (default: CKPT_0's own).")
@click.option("--init", "init_options", multiple=True, metavar="KEY=VALUE",
              help="Declared init: family=normal|uniform|truncated-normal|torch-default, std=F|auto, "
                   "residual=none|scaled, embedding_std=F, norm_value=F (repeatable; wins over the config).")
@click.option("--json", "json_path", default=None, help="Write the fromscratch.chain/1 JSON here ('-' = stdout).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report here.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every random split.")
@click.option("--reference-checks", type=click.Choice(["all", "flagged"]), default="all", show_default=True,
              help="Compare every checkpoint with the references, or only CKPT_0, CKPT_n and flagged steps.")
def chain_cmd(checkpoints: tuple[str, ...], model: str | None, references: tuple[str, ...], registry: str | None,
              config_path: str | None, init_options: tuple[str, ...], json_path: str | None,
              html_path: str | None, seed: int, reference_checks: str) -> None:
    """Is CHECKPOINTS (CKPT_0 = the claimed initialisation, then training order) a genuine training run?"""
    from fromscratch.chain.api import expand_checkpoints, verify_chain
    from fromscratch.jsonio import write_json
    from fromscratch.policy.api import parse_reference

    if seed < 0:
        raise InputError("--seed", "must be a non-negative integer")
    refs = [parse_reference(r) for r in references]
    if registry:
        from fromscratch.policy.registry import expand, load_registry

        refs += [parse_reference(r) for r in expand(load_registry(registry))[0]]
    obj = verify_chain(expand_checkpoints(list(checkpoints)), model=model, references=refs,
                       init_options=list(init_options), config=_load_config(config_path), seed=seed,
                       reference_checks=reference_checks)
    if json_path:
        write_json(obj, json_path)
    if html_path:
        from fromscratch.chain.report import write_html

        write_html(obj, html_path)
    if json_path != "-":
        click.echo(summary(obj), file=sys.stdout)
