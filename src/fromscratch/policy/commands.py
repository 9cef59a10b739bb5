"""``fromscratch audit``: every signal about a candidate, under a from-scratch policy.

    fromscratch audit CANDIDATE --against [NAME=]REF [--against ...] [--references REGISTRY.toml]
        [--policy korea-2026|permissive|PATH] [--declared PATH]
        [--code DIR --code-against [NAME=]DIR ...] [--bom PATH]
        [--json PATH] [--html PATH] [--seed N]
"""

from __future__ import annotations

import sys

import click

from fromscratch.errors import InputError
from fromscratch.jsonio import write_json


def _summary(audit: dict) -> str:
    lines = [f"candidate: {audit.get('candidate', {}).get('path')}"]
    tok = audit.get("tokenizer") or {}
    if tok:
        lines.append(f"tokenizer: {tok.get('relation')}" + (f" (from {tok['origin']})" if tok.get("origin") else ""))
    for ref in audit.get("references") or []:
        p = ref.get("p_value")
        lines.append(f"weights vs {ref.get('label')}: {ref.get('verdict')} (p = {'-' if p is None else format(p, '.3g')})")
    if audit.get("verdicts"):
        policy = audit.get("policy") or {}
        lines.append(f"policy {policy.get('name')} v{policy.get('version')}:")
        for row in audit["verdicts"]:
            lines.append(f"  {row['component']:<15} {row['verdict']:<13} {row['reason']}")
    if audit.get("chain"):
        ch = audit["chain"]
        first = ch.get("first_failure")
        lines.append(f"chain: {ch['verdict']}" + (f" (step {first['step']}, {first['check']})" if first else ""))
    lines.append(f"verdict: {audit.get('verdict')}")
    return "\n".join(lines)


@click.command("audit")
@click.argument("candidate")
@click.option("--against", "references", multiple=True, metavar="[NAME=]REF",
              help="A reference model (repeatable); NAME labels it in reports and declarations.")
@click.option("--references", "registry", type=click.Path(dir_okay=False), default=None,
              help="A reference registry TOML ([[reference]] name, model, code, licence).")
@click.option("--registry", "fp_registry", default=None, metavar="LOC",
              help="A fingerprint registry: the registered models its pre-filter passes become references.")
@click.option("--policy", default=None, metavar="NAME|PATH",
              help="korea-2026, permissive, or a policy TOML file.")
@click.option("--declared", type=click.Path(dir_okay=False), default=None,
              help="The team's declaration: TOML or CycloneDX 1.6 JSON.")
@click.option("--code", "code_dir", type=click.Path(exists=True), default=None,
              help="The candidate's source code (file or directory).")
@click.option("--code-against", multiple=True, metavar="[NAME=]DIR",
              help="Reference source code (repeatable), compared with --code.")
@click.option("--bom", "bom_path", default=None, help="Write a CycloneDX 1.6 ML-BOM here (needs --policy).")
@click.option("--json", "json_path", default=None, help="Write the audit JSON here ('-' = stdout).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report here.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every random choice.")
@click.option("--chain", "chain", multiple=True, metavar="CKPT",
              help="A checkpoint of the training chain (repeat in training order, CKPT_0 first; a folder or glob works).")
@click.option("--chain-init", multiple=True, metavar="KEY=VALUE", help="Declared init scheme for --chain (see `chain --init`).")
def audit_cmd(candidate: str, references: tuple[str, ...], registry: str | None, fp_registry: str | None,
              policy: str | None,
              declared: str | None,
              code_dir: str | None, code_against: tuple[str, ...], bom_path: str | None,
              json_path: str | None, html_path: str | None, seed: int, chain: tuple[str, ...] = (),
              chain_init: tuple[str, ...] = ()) -> None:
    """Audit CANDIDATE against references: weights, tokenizer, config, code, declaration, policy."""
    from fromscratch.policy.api import run_audit

    refs, code_refs, licences = list(references), list(code_against), {}
    if registry:
        from fromscratch.policy.registry import expand, load_registry

        reg_models, reg_code, licences = expand(load_registry(registry))
        refs += reg_models
        code_refs += reg_code if code_dir else []
    weights = None
    if fp_registry:
        from fromscratch.registry.api import audit_lineage

        refs, weights, notes = audit_lineage(candidate, refs, fp_registry, seed=seed)
        for n in notes:
            click.echo(f"registry: {n['name']}: {n['reason']}", err=True)
    if not refs:
        raise InputError("--against", "give at least one reference (--against, --references or --registry)")
    if code_against and not code_dir:
        raise InputError("--code-against", "needs --code (the candidate's code)")
    if bom_path and not policy:
        raise InputError("--bom", "needs --policy (the BOM records the policy's verdicts)")
    audit = run_audit(candidate, refs, policy=policy, declared=declared, code=code_dir,
                      code_against=code_refs, seed=seed, progress=sys.stderr.isatty(),
                      reference_licences=licences, weights=weights, chain=list(chain) or None,
                      chain_init=list(chain_init) or None)
    if json_path:
        write_json(audit, json_path)
    if html_path:
        from fromscratch.policy.report import write_html

        write_html(audit, html_path)
    if bom_path:
        from fromscratch.policy.bom import build_bom

        licences = {c["kind"]: c["licence"] for c in ((audit.get("declared") or {}).get("components") or [])
                    if c.get("licence") and not c.get("trained_from_scratch", True)}
        write_json(build_bom(audit, licences), bom_path)
    if json_path != "-":
        click.echo(_summary(audit))
