"""Daseot command-line runner (team-written); the norms come from OpenInfer (attributed)."""

import argparse

from daseot.norms import rms_norm  # noqa: F401  (re-exported for the model code)


def parse(argv=None):
    ap = argparse.ArgumentParser(description="Run a prompt through the Daseot model")
    ap.add_argument("prompt")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--weights", required=True)
    return ap.parse_args(argv)


def run(model, tokenizer, prompt: str, max_tokens: int) -> str:
    ids = tokenizer.encode(prompt)
    for _ in range(max_tokens):
        nxt = model.argmax_next(ids)
        if nxt == tokenizer.eos_id:
            break
        ids.append(nxt)
    return tokenizer.decode(ids)
