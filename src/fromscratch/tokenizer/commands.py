"""``fromscratch tokenizer CANDIDATE REFERENCE``: tokenizer lineage of two models on its own.

Either argument is a model location or a tokenizer file (tokenizer.json, *.model,
vocab.txt, vocab.json, GGUF, E5S1). Prints the verdict and the key statistics;
``--json`` writes the full comparison (``fromscratch.tokenizer/1``), ``--html`` a
self-contained report.
"""

from __future__ import annotations

from pathlib import Path

import click

from fromscratch.jsonio import write_json


def render_html(result: dict) -> str:
    from fromscratch.report.templating import environment

    return environment("fromscratch.tokenizer").get_template("tokenizer.html.jinja").render(r=result)


def write_html(result: dict, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(result), encoding="utf-8")


@click.command("tokenizer")
@click.argument("candidate")
@click.argument("reference")
@click.option("--json", "json_path", default=None, help="Write the comparison JSON here ('-' = stdout).")
@click.option("--html", "html_path", default=None, help="Write a self-contained HTML report here.")
def tokenizer_cmd(candidate: str, reference: str, json_path: str | None, html_path: str | None) -> None:
    """Is CANDIDATE's tokenizer identical to, extended from, pruned from, derived from or
    independent of REFERENCE's?"""
    from fromscratch.tokenizer.api import compare_tokenizers

    result = {"schema": "fromscratch.tokenizer/1", **compare_tokenizers(candidate, reference)}
    if json_path:
        write_json(result, json_path)
    if html_path:
        write_html(result, html_path)
    if json_path == "-":
        return
    voc, order = result["vocabulary"], result["vocabulary"]["order"]
    lines = [f"candidate: {result['candidate']['kind']} ({result['candidate']['style']}), "
             f"{result['candidate']['size']} tokens",
             f"reference: {result['reference']['kind']} ({result['reference']['style']}), "
             f"{result['reference']['size']} tokens",
             f"shared learned tokens: {voc['shared']} "
             f"({voc['shared_fraction_of_candidate']:.1%} of candidate, {voc['shared_fraction_of_reference']:.1%} of reference)",
             f"neighbour-order agreement: {order['agreement']}, successor rate: {order['successor_rate']}"]
    if result["merges"]:
        m = result["merges"]
        lines.append(f"merges: {m['order']['shared']} shared, order agreement {m['order']['agreement']}, "
                     f"common prefix {m['common_prefix']}")
    if result["scores"]:
        lines.append(f"equal Unigram scores: {result['scores']['equal_fraction']}")
    lines.append(f"verdict: {result['verdict']} (p = {result['p_value']:.3g})")
    click.echo("\n".join(lines))
