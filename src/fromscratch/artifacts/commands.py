"""``fromscratch inspect MODEL [--json PATH] [--read]``."""

from __future__ import annotations


import click

from fromscratch.jsonio import write_json
from fromscratch.progress import progress_bar


@click.command("inspect")
@click.argument("model", metavar="MODEL")
@click.option("--json", "json_path", metavar="PATH", help="Write the fromscratch.inspect/1 JSON here ('-' = stdout).")
@click.option("--read", "read_values", is_flag=True,
              help="Also read every tensor (decodes all data, adds per-tensor statistics); default is headers only.")
@click.option("--headers-only", is_flag=True,
              help="Accept a GGUF whose tensor data is cut off (header part of a split download).")
def inspect_cmd(model: str, json_path: str | None, read_values: bool, headers_only: bool) -> None:
    """Show a model's format, parameters, components, storage types, tokenizer and origin claims.

    MODEL is a directory, a weights file (.safetensors, .gguf, .bin/.pt/.pth, .onnx,
    CTranslate2 model.bin) or a Hugging Face hub id present in the local cache.
    """
    from rich.console import Console

    from fromscratch.artifacts import open_model
    from fromscratch.artifacts.summary import inspect_model, render

    with open_model(model, headers_only=headers_only) as m:
        if read_values:
            total = sum(len(c.tensors) for c in m.components())
            with progress_bar("reading tensors", total) as advance:
                result = inspect_model(m, location=model, read_values=True, progress=advance)
        else:
            result = inspect_model(m, location=model)
    if json_path:
        write_json(result, json_path)
    if json_path != "-":
        render(result, Console(highlight=False, soft_wrap=False))
