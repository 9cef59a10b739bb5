"""Write every command's JSON for the zoo and the cached real models into one folder.

Run before and after a refactor and ``diff -r`` the two folders: the JSON must be
byte-identical. Real models are taken from the test cache (``tests/realmodels.py``
fetches them); the ones not cached are skipped and listed on stderr.

    python benchmarks/snapshot_outputs.py OUT_DIR [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _zoo() -> Path:
    from fromscratch.zoo.build import zoo_root

    root = zoo_root()
    if not (root / "catalogue.json").exists():
        raise SystemExit(f"zoo not built at {root}: run `fromscratch zoo` first")
    return root


def _real() -> dict[str, Path]:
    from realmodels import REAL_MODELS, cache_root

    out = {}
    for key, spec in REAL_MODELS.items():
        path = cache_root() / "models" / key / spec.output
        if path.exists():
            out[key] = path
        else:
            print(f"not cached: {key}", file=sys.stderr)
    return out


def _run(out: Path, name: str, *args: str) -> None:
    target = out / f"{name}.json"
    proc = subprocess.run([sys.executable, "-m", "fromscratch", *args, "--json", str(target)],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    (out / f"{name}.rc").write_text(f"{proc.returncode}\n{proc.stderr.strip().splitlines()[-1:] }\n")


def main() -> None:
    out = Path(sys.argv[1])
    quick = "--quick" in sys.argv
    out.mkdir(parents=True, exist_ok=True)
    zoo = _zoo() / "models"
    models = {p.name: p for p in sorted(zoo.iterdir())}
    real = _real()
    for name, path in {**models, **real}.items():
        _run(out, f"inspect-{name}", "inspect", str(path))
    tok_pairs = [("llama-s0", "llama-tokb"), ("llama-s0", "llama-s0-vocab"), ("llama-s0", "llama-s1"),
                 ("bert-s0", "bert-s1"), ("llama-s0", "llama-s0-q80")]
    real_tok = [("smollm2-gguf", "qwen05-gguf"), ("qwen05-gguf", "qwen15-gguf-header"),
                ("e5-small", "e5-small-enpt"), ("e5-small", "minilm-safetensors"),
                ("gemma3-gguf", "smollm2-gguf"), ("whisper-base-ct2", "whisper-tiny-ct2"),
                ("minilm-onnx", "minilm-safetensors"), ("tiny-gguf", "smollm2-gguf")]
    for a, b in tok_pairs:
        _run(out, f"tokenizer-{a}--{b}", "tokenizer", str(models[a]), str(models[b]))
    for a, b in real_tok:
        if a in real and b in real:
            _run(out, f"tokenizer-{a}--{b}", "tokenizer", str(real[a]), str(real[b]))
    cmp_pairs = [("llama-s0-ft", "llama-s0"), ("llama-s1", "llama-s0"), ("llama-s0-q80", "llama-s0"),
                 ("llama-s0-perm", "llama-s0"), ("llava-transplant", "llava-clean"), ("bert-s1", "bert-s0")]
    if not quick:
        cmp_pairs += [(m, "llama-s0") for m in models if m.startswith("llama-s0-") and (m, "llama-s0") not in cmp_pairs]
    for a, b in cmp_pairs:
        _run(out, f"compare-{a}--{b}", "compare", str(models[a]), str(models[b]))
    real_cmp = [("e5-small-enpt", "e5-small"), ("minilm-onnx", "minilm-safetensors"),
                ("whisper-tiny-ct2", "whisper-base-ct2")]
    for a, b in real_cmp:
        if a in real and b in real:
            _run(out, f"compare-{a}--{b}", "compare", str(real[a]), str(real[b]))
    _run(out, "audit-llama-s0-ft", "audit", str(models["llama-s0-ft"]), "--against", str(models["llama-s0"]),
         "--against", str(models["llama-s1"]), "--policy", "korea-2026")


if __name__ == "__main__":
    main()
