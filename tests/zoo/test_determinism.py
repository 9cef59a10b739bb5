"""Rebuilding gives identical bytes: tokenizers, token streams and trained weights."""

from __future__ import annotations

import hashlib

import pytest

pytestmark = pytest.mark.torch


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_of_one_small_model_are_byte_identical(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    from fromscratch.zoo.build import Task, prepare, run_tasks

    works = [tmp_path / "a", tmp_path / "b"]
    for w in works:
        prepare(w)
        # a short run of seed siblings' recipe, in a fresh single-threaded worker
        todo = [Task("llama-s1", "llama_seed", (1, 6))]
        if w.name == "a":
            todo.append(Task("llama-s2", "llama_seed", (2, 6)))
        entries, _ = run_tasks(w, todo, workers=1, progress=False)
        assert entries[0]["metrics"]["steps"] == 6
    a, b = works
    for rel in ("tokenizers/A/tokenizer.json", "tokenizers/B/tokenizer.json",
                "tokenizers/A-ext/tokenizer.json", "data/general.npy",
                "models/llama-s1/model.safetensors", "models/llama-s1/config.json"):
        assert _digest(a / rel) == _digest(b / rel), rel
    # and a different seed gives different weights
    assert _digest(a / "models/llama-s2/model.safetensors") != _digest(a / "models/llama-s1/model.safetensors")


def test_corpus_is_deterministic_and_bilingual():
    from fromscratch.zoo import corpus

    t = corpus.generate("general", 50_000)
    assert t == corpus.generate("general", 50_000)
    assert t != corpus.generate("general", 50_000, seed=1)
    assert len(t) >= 50_000
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in t)
    latin = sum("a" <= ch.lower() <= "z" for ch in t)
    assert hangul > 5_000 and latin > 10_000
    assert "Question:" in corpus.generate("finetune", 5_000)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from fromscratch.zoo import cache_dir

    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("FROMSCRATCH_CACHE")
    assert cache_dir().name == "fromscratch"
