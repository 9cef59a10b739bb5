"""Hostile TOML and JSON through every command that reads one.

Each TOML (policy, declaration, reference registry, protocol, round file) goes through
`fromscratch.tomlio`, each user-supplied JSON file (declaration BOM, seal, verdicts, lm-eval
samples, reveal) through `artifacts.hfdir.load_json` / `parse_json`. Nesting deep enough to
exhaust Python's recursion limit, bytes that are not UTF-8 and an oversized file must all end
the command with exit 2 and one stderr line naming the file, never a traceback (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fromscratch.cli import main
from fromscratch.tomlio import MAX_TOML_BYTES
from tests.artifacts.writers import tiny_llama, write_safetensors

DEEP = 100_000  # far past the default recursion limit (1000)

HOSTILE_TOML = {
    "deep-array": ("a = " + "[" * DEEP + "]" * DEEP + "\n").encode(),
    "deep-table": ("a = " + "{b = " * DEEP + "1" + "}" * DEEP + "\n").encode(),
    "not-utf8": b'name = "\xff\xfe"\n',
    "oversized": b"# " + b"x" * (MAX_TOML_BYTES + 10) + b"\n",
}
DEEP_JSON = ("[" * DEEP + "]" * DEEP).encode()
DEEP_OBJECT = ('{"a": ' * DEEP + "1" + "}" * DEEP).encode()

PROTOCOL = 'name = "t"\nseed = 1\neliminate = 1\nresamples = 100\n[pillars]\ncommon = 1\n[benchmarks]\nb = "common"\n'


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cfg-hostile")
    return write_safetensors(root / "m" / "model.safetensors", *tiny_llama(seed=0, layers=1)).parent


@pytest.fixture()
def round_inputs(tmp_path) -> dict[str, Path]:
    (tmp_path / "protocol.toml").write_text(PROTOCOL)
    (tmp_path / "results.jsonl").write_text("".join(
        f'{{"team": "{t}", "benchmark": "b", "item": "{i}", "score": {s}}}\n'
        for t, s in (("x", 1), ("y", 0)) for i in range(3)))
    return {"protocol": tmp_path / "protocol.toml", "results": tmp_path / "results.jsonl"}


def _refused(args: list[str], bad: Path, capsys) -> None:
    rc = main(args)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (rc, err[-2000:])
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert bad.name in lines[0], lines[0]


def _toml_commands(bad: Path, model: Path, inputs: dict[str, Path], tmp: Path) -> dict[str, list[str]]:
    return {
        "protocol seal": ["protocol", "seal", str(bad)],
        "decide --protocol": ["decide", "--protocol", str(bad), "--results", str(inputs["results"])],
        "audit --policy": ["audit", str(model), "--against", f"ref={model}", "--policy", str(bad)],
        "audit --declared": ["audit", str(model), "--against", f"ref={model}", "--policy", "korea-2026",
                             "--declared", str(bad)],
        "audit --references": ["audit", str(model), "--references", str(bad)],
        "round open": ["round", "open", str(bad), "--out", str(tmp / "opened"), "--key", str(tmp / "k.pem")],
        "round run": ["round", "run", str(bad), "--out", str(tmp / "out"), "--key", str(tmp / "k.pem")],
    }


@pytest.mark.parametrize("kind", sorted(HOSTILE_TOML))
@pytest.mark.parametrize("command", ["protocol seal", "decide --protocol", "audit --policy", "audit --declared",
                                     "audit --references", "round open", "round run"])
def test_hostile_toml_is_one_line_exit_2(kind, command, model, round_inputs, tmp_path, capsys):
    bad = tmp_path / f"hostile-{kind}.toml"
    bad.write_bytes(HOSTILE_TOML[kind])
    _refused(_toml_commands(bad, model, round_inputs, tmp_path)[command], bad, capsys)


@pytest.mark.parametrize("body", [DEEP_JSON, DEEP_OBJECT, b'{"a": "\xff"}'], ids=["array", "object", "not-utf8"])
def test_hostile_json_verdicts_and_seal(body, round_inputs, tmp_path, capsys):
    bad = tmp_path / "hostile.json"
    bad.write_bytes(body)
    base = ["decide", "--protocol", str(round_inputs["protocol"]), "--results", str(round_inputs["results"])]
    _refused(base + ["--verdicts", str(bad)], bad, capsys)
    _refused(base + ["--seal", str(bad)], bad, capsys)


def test_hostile_json_declaration(model, tmp_path, capsys):
    bad = tmp_path / "declared.json"
    bad.write_bytes(DEEP_OBJECT)
    _refused(["audit", str(model), "--against", f"ref={model}", "--policy", "korea-2026", "--declared", str(bad)],
             bad, capsys)


def test_hostile_lm_eval_samples(tmp_path, capsys):
    bad = tmp_path / "samples_x.jsonl"
    bad.write_bytes(b'{"doc_id": 0, "acc": 1}\n' + DEEP_OBJECT + b"\n")
    _refused(["bench", "import", str(bad), "--team", "t", "--out", str(tmp_path / "r.jsonl")], bad, capsys)


def test_hostile_reveal_file(tmp_path):
    from fromscratch.errors import InputError
    from fromscratch.round.commit import read_reveal

    bad = tmp_path / "reveal.json"
    bad.write_bytes(b"[" * 5000 + b"]" * 5000)  # small enough to pass the size cap, too deep to parse
    with pytest.raises(InputError) as exc:
        read_reveal(bad)
    assert bad.name in exc.value.one_line() and "\n" not in exc.value.one_line()


def test_deeply_nested_ledger_line_is_a_problem_not_a_crash(tmp_path):
    from fromscratch.round.ledger import read_entries

    path = tmp_path / "ledger.jsonl"
    path.write_bytes(DEEP_JSON + b"\n")
    entries, problems = read_entries(path)
    assert entries == [] and problems and "line 1: not JSON" in problems[0]


@pytest.mark.parametrize("meta", [DEEP_JSON, DEEP_OBJECT, b'["not", "an", "object"]', b"\xff\xfe"])
def test_hostile_code_index_header(tmp_path, capsys, meta):
    """A `.npz` code index whose header is hostile JSON: `code --against INDEX` exits 2."""
    import numpy as np

    bad = tmp_path / "bad-index.npz"
    np.savez(bad, meta=np.frombuffer(meta, dtype=np.uint8))
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "m.py").write_text("def f(x):\n    return x + 1\n")
    _refused(["code", str(cand), "--against", str(bad)], bad, capsys)
