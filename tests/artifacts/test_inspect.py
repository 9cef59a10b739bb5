"""``fromscratch inspect``: the contract JSON, deterministic, headers only by default."""

from __future__ import annotations

import json

import gguf

from fromscratch.cli import main
from tests.artifacts.writers import tiny_llama, write_gguf, write_safetensors


def test_inspect_json_contract_and_determinism(tmp_path, capsys):
    tensors, cfg = tiny_llama(seed=2)
    p = write_gguf(tmp_path / "m.gguf", tensors, cfg, qtype=lambda n, a: gguf.GGMLQuantizationType.Q8_0,
                   base_model="Upstream 1B")
    outs = []
    for i in range(2):
        out = tmp_path / f"i{i}.json"
        assert main(["inspect", str(p), "--json", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    d = json.loads(outs[0])
    assert d["schema"] == "fromscratch.inspect/1" and d["format"] == "gguf" and d["path"] == str(p)
    assert d["parameters"] == sum(v.size for v in tensors.values())
    assert d["parameters"] == sum(c["parameters"] for c in d["components"])
    for c in d["components"]:
        assert set(c) >= {"name", "kind", "layer", "parameters", "tensors"}
        for t in c["tensors"]:
            assert set(t) >= {"name", "role", "shape", "dtype"}
    assert d["quantisation"] == ["Q8_0"]
    assert d["tokenizer"]["type"] == "gpt2" and d["tokenizer"]["vocab_size"] == cfg["vocab_size"]
    assert d["tokenizer"]["special_tokens"]["bos"] == "tok0"
    assert d["claims"]["general.base_model.0.name"] == "Upstream 1B"
    assert "Q8_0" in capsys.readouterr().out


def test_inspect_json_to_stdout_and_read_stats(tmp_path, capsys):
    tensors, cfg = tiny_llama(seed=2, layers=1)
    write_safetensors(tmp_path / "model.safetensors", tensors, cfg)
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                                                                   "merges": [["a", "b"]]},
                                                         "added_tokens": [{"id": 2, "content": "<s>", "special": True}]}))
    assert main(["inspect", str(tmp_path), "--json", "-", "--read"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["tokenizer"] == {"source": "tokenizer.json", "type": "BPE", "vocab_size": 3, "merges": 1,
                              "special_tokens": {"2": "<s>"}}
    t = d["components"][0]["tensors"][0]
    assert t["stats"]["nonfinite"] == 0 and t["stats"]["l2"] > 0
    assert d["claims"]["config.model_type"] == "llama"
