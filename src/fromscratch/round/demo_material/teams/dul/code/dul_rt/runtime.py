"""Dul runtime: loads weights by manifest and runs prompts (team-written)."""

import hashlib
import json
from pathlib import Path


class Manifest:
    def __init__(self, path: Path):
        data = json.loads(Path(path).read_text())
        self.shards = data["shards"]
        self.checksums = data.get("sha256", {})

    def verify(self, root: Path) -> list[str]:
        bad = []
        for name in self.shards:
            digest = hashlib.sha256((root / name).read_bytes()).hexdigest()
            if self.checksums.get(name) not in (None, digest):
                bad.append(name)
        return bad


class Runtime:
    def __init__(self, model, tokenizer, max_context: int = 4096):
        self.model = model
        self.tokenizer = tokenizer
        self.max_context = max_context

    def truncate(self, ids):
        return ids[-self.max_context:]

    def answer(self, prompt: str, budget: int = 64) -> str:
        ids = self.truncate(self.tokenizer.encode(prompt))
        produced = []
        for _ in range(budget):
            token = self.model.greedy_next(ids + produced)
            if token == self.tokenizer.eos_id:
                break
            produced.append(token)
        return self.tokenizer.decode(produced)
