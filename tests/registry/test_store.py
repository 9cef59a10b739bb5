"""The store and the CLI around it: add, list, remove, signed export and import."""

from __future__ import annotations

import json
import zipfile

import pytest

from fromscratch.cli import main


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FROMSCRATCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_add_list_remove(env, zoo, capsys):
    loc = str(env / "reg")
    assert main(["registry", "add", str(zoo.path("llama-s0")), "--name", "s0", "--registry", loc]) == 0
    assert main(["registry", "add", str(zoo.path("bert-s0")), "--name", "bert", "--registry", loc]) == 0
    # a taken name is refused
    assert main(["registry", "add", str(zoo.path("bert-s0")), "--name", "s0", "--registry", loc]) == 2
    capsys.readouterr()
    assert main(["registry", "list", "--registry", loc, "--json", "-"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["schema"] == "fromscratch.registry/1"
    assert [m["name"] for m in obj["models"]] == ["bert", "s0"]
    s0 = obj["models"][1]
    assert s0["parameters"] == 3_475_712 and len(s0["digest"]) == 64 and s0["format"] == "safetensors"
    assert s0["architecture"]["towers"]["text"] > 0 and s0["fingerprint_bytes"] > 0
    files = list((env / "reg" / "fingerprints").glob("*.npz"))
    assert len(files) == 2 and obj["disk"]["total_bytes"] >= sum(f.stat().st_size for f in files)
    # fingerprints only: far smaller than the weights
    weights = sum(p.stat().st_size for p in zoo.path("llama-s0").glob("*.safetensors"))
    assert s0["fingerprint_bytes"] < weights
    assert main(["registry", "remove", "s0", "--registry", loc]) == 0
    assert main(["registry", "remove", "s0", "--registry", loc]) == 2
    assert len(list((env / "reg" / "fingerprints").glob("*.npz"))) == 1


def _export(env, zoo):
    loc = str(env / "reg")
    assert main(["registry", "add", str(zoo.path("llama-s1")), "--name", "s1", "--registry", loc]) == 0
    out = env / "s1.fsfp"
    assert main(["registry", "export", "s1", "--out", str(out), "--registry", loc]) == 0
    return out


def _rewrite(src, dst, member, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, change(data) if info.filename == member else data)


def test_export_import_roundtrip(env, zoo, capsys):
    out = _export(env, zoo)
    loc2 = str(env / "reg2")
    assert main(["registry", "import", str(out), "--registry", loc2]) == 0
    capsys.readouterr()
    main(["registry", "list", "--registry", loc2, "--json", "-"])
    imported = json.loads(capsys.readouterr().out)["models"][0]
    main(["registry", "list", "--registry", str(env / "reg"), "--json", "-"])
    original = json.loads(capsys.readouterr().out)["models"][0]
    assert imported["fingerprint"] == original["fingerprint"] and imported["digest"] == original["digest"]
    assert imported["origin"].startswith("import:")


@pytest.mark.parametrize("member,change", [
    ("fingerprint.npz", lambda b: b[:-100] + bytes(x ^ 1 for x in b[-100:])),
    ("entry.json", lambda b: b.replace(b'"parameters": 3475712', b'"parameters": 3475713')),
    ("signature", lambda b: bytes([b[0] ^ 1]) + b[1:]),
    ("entry.json", lambda b: b"[" * 100_000 + b"]" * 100_000),  # nesting past the recursion limit
    ("entry.json", lambda b: b'["not", "an", "object"]'),
])
def test_tampered_export_is_refused(env, zoo, capsys, member, change):
    out = _export(env, zoo)
    bad = env / "bad.fsfp"
    _rewrite(out, bad, member, change)
    capsys.readouterr()
    assert main(["registry", "import", str(bad), "--registry", str(env / "reg3")]) == 2
    err = capsys.readouterr().err
    assert "bad.fsfp" in err and "Traceback" not in err
    assert not (env / "reg3" / "fingerprints").exists() or not list((env / "reg3" / "fingerprints").iterdir())


def test_untrusted_signer_and_garbage_are_refused(env, zoo, capsys):
    out = _export(env, zoo)
    assert main(["registry", "import", str(out), "--registry", str(env / "r"), "--trust", "00" * 32]) == 2
    junk = env / "junk.fsfp"
    junk.write_bytes(b"not a zip")
    assert main(["registry", "import", str(junk), "--registry", str(env / "r")]) == 2
    assert "junk.fsfp" in capsys.readouterr().err


def test_canonical_bytes_are_deterministic(zoo_fp):
    from fromscratch.registry import fpfile

    fp = zoo_fp("llama-s2")
    a = fpfile.to_bytes(fp)
    back = fpfile.from_bytes(a)
    assert fpfile.to_bytes(back) == a
    assert back.meta == fp.meta and sorted(back.arrays) == sorted(fp.arrays)
