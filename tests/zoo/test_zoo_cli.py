"""`fromscratch zoo`: lists a built zoo with its ground truth; bad options exit 2."""

from __future__ import annotations

import json

import pytest

from fromscratch.cli import main

pytestmark = pytest.mark.torch


def test_zoo_command_lists_a_built_zoo(zoo, tmp_path, capsys):
    out = tmp_path / "zoo.json"
    assert main(["zoo", "--out", str(zoo.root), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "fromscratch.zoo/1"
    names = [e["name"] for e in doc["entries"]]
    assert names == zoo.names
    by = {e["name"]: e for e in doc["entries"]}
    assert by["llama-s0-q80"]["path"].endswith(".gguf")
    assert by["llava-transplant"]["parent"] == "bert-s0"
    text = capsys.readouterr().out
    assert "llama-s0-moe" in text and "derived from llama-s0" in text


def test_zoo_command_refuses_bad_options(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    assert main(["zoo", "--only", "llama-s0"]) == 2
    assert "--out" in capsys.readouterr().err
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.txt").write_text("not a zoo")
    assert main(["zoo", "--out", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err
    assert main(["zoo", "--out", str(tmp_path / "new"), "--only", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_build_zoo_on_a_complete_folder_only_loads_it(zoo, monkeypatch):
    from fromscratch.zoo import build

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("rebuilt a complete zoo")

    monkeypatch.setattr(build, "build_into", boom)
    again = build.build_zoo(root=zoo.root)
    assert again.names == zoo.names


def test_concurrent_builds_build_once_and_never_expose_a_partial_zoo(tmp_path, monkeypatch):
    """Two builders racing for one folder: the lock lets one build; the other loads its result."""
    import threading
    import time

    from fromscratch.zoo import build
    from fromscratch.zoo.catalogue import SCHEMA, Zoo

    calls = []

    def slow_build(work, **kwargs):  # stands in for hours of training: writes a tiny catalogue
        calls.append(work)
        work.mkdir(parents=True)
        time.sleep(0.5)
        entry = {"name": "m", "family": "llama", "format": "safetensors", "parent": None,
                 "relation": "independent", "reused_components": [], "description": "d"}
        (work / "catalogue.json").write_text(json.dumps({"schema": SCHEMA, "entries": [entry]}))
        return Zoo.load(work)

    monkeypatch.setattr(build, "build_into", slow_build)
    root = tmp_path / "zoo" / "v-test"
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "v-test.tmp-999999").mkdir()  # debris of a killed build
    results = []
    threads = [threading.Thread(target=lambda: results.append(build.build_zoo(root=root)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and calls[0].name.startswith("v-test.tmp-")
    assert [z.names for z in results] == [["m"], ["m"]]
    assert sorted(p.name for p in (tmp_path / "zoo").iterdir()) == ["v-test", "v-test.lock"]
