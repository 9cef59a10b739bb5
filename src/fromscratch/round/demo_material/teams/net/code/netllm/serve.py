"""NetLLM: a minimal line-based server loop around the model (team-written)."""

import json
import sys


def handle(request, model, tokenizer):
    ids = tokenizer.encode(request["prompt"])
    new = model.complete(ids, request.get("max_tokens", 32))
    return {"text": tokenizer.decode(new), "tokens": len(new)}


def main(model, tokenizer, stream=sys.stdin, out=sys.stdout):
    for line in stream:
        line = line.strip()
        if not line:
            continue
        reply = handle(json.loads(line), model, tokenizer)
        out.write(json.dumps(reply) + "\n")
        out.flush()
