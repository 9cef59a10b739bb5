"""Unit tests of the code-reuse detector on small hand-written files (tests/code/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fromscratch.cli import main
from fromscratch.code import attribution as attr
from fromscratch.code.api import analyse
from fromscratch.code.fingerprint import K, W, kgram_hashes, token_fingerprints, winnow
from fromscratch.code.lang import PythonLanguage, _std_lex
from fromscratch.code.pytokens import lex
from obfuscate import disguise

DATA = Path(__file__).parent / "data"
REF = DATA / "ref"
PY = PythonLanguage()


def _masked(text: str) -> list[str]:
    return [t for u in PY.parse("x.py", text).units for t in u.masked]


# ---------------------------------------------------------------- normalisation

def test_renaming_comments_docstrings_and_formatting_do_not_change_masked_tokens():
    a = '''
def total(values, scale):
    """Sum and scale."""
    acc = 0.0  # running sum
    for v in values:
        acc += v * scale
    return acc
'''
    b = '''
def s(xs,
      k,):
    # nothing to see
    r = 0.0
    for x in xs: r += x * k
    return r
'''
    b = b.replace("for x in xs: r += x * k", "for x in xs:\n        r += x * k")
    assert _masked(a) == _masked(b)


def test_masking_keeps_keywords_builtins_and_operators_but_not_names():
    toks = _masked("def f(a):\n    return len(a) + 1\n")
    assert toks == ["def", "N", "(", "N", ")", ":", ";", "{", "return", "len", "(", "N", ")", "+", "0", ";"]


def test_changed_operator_changes_masked_tokens():
    assert _masked("def f(a, b):\n    return a * b\n") != _masked("def f(a, b):\n    return a + b\n")


def test_fast_lexer_agrees_with_standard_tokenizer():
    text = (DATA / "ref" / "attnlib" / "attention.py").read_text() + '''
x = f"{1}" 'a' "b" \\
    + r"c\\d"
y = [1,
     2]  # comment
s = """multi
line"""
z = 0x1F + 1e-3 + 2j + .5
'''
    fast = [(k, s if k in ("name", "op", "num") else "", line) for k, s, line in lex(text)]
    std = [(k, s if k in ("name", "op", "num") else "", line) for k, s, line in _std_lex(text)]
    assert fast == std


def test_units_are_functions_methods_and_class_bodies_with_line_spans():
    sf = PY.parse("a.py", (REF / "attnlib" / "attention.py").read_text())
    names = [u.name for u in sf.units]
    assert "softmax_rows" in names and "RotaryTable.rotate" in names and "TinyAttention" in names
    rot = next(u for u in sf.units if u.name == "RotaryTable.rotate")
    text = (REF / "attnlib" / "attention.py").read_text().splitlines()
    assert text[rot.start - 1].strip().startswith("def rotate")
    assert rot.end > rot.start
    # docstrings are not tokens of any unit
    assert all("Row-wise" not in t for u in sf.units for t in u.raw)


def test_structure_channel_sees_arithmetic_and_call_sequences():
    sf = PY.parse("a.py", (REF / "normlib" / "norms.py").read_text())
    call = next(u for u in sf.units if u.name == "RmsNorm.__call__")
    assert any(f.startswith("a:") and "sqrt()" in f for f in call.struct)
    assert "c2:sum>len" in call.struct
    assert "i:eps" in call.idents and "w:eps" in call.idents


# ---------------------------------------------------------------- winnowing

@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), min_size=K + W - 1, max_size=60),
       st.lists(st.sampled_from("xyz"), max_size=20), st.lists(st.sampled_from("uvw"), max_size=20))
def test_winnowing_guarantee_shared_run_gives_shared_fingerprint(shared, pre1, pre2):
    a = pre1 + shared + pre1
    b = pre2 + shared
    assert token_fingerprints(a) & token_fingerprints(b)


def test_winnow_density_and_rightmost_minimum():
    rng = np.random.default_rng(0)
    h = rng.integers(0, 2**62, size=5000, dtype=np.int64).astype(np.uint64)
    picked = winnow(h)
    density = len(picked) / len(h)
    assert abs(density - 2 / (W + 1)) < 0.05
    ties = np.array([5, 5, 5, 5, 5, 5], dtype=np.uint64)
    assert list(winnow(ties)) == [3, 4, 5]


def test_kgram_hashes_are_stable_and_position_independent():
    toks = list("abcdefghijklmnop")
    h1 = kgram_hashes(toks)
    h2 = kgram_hashes(["z"] + toks)
    assert list(h1) == list(h2[1:])
    assert len(kgram_hashes(["a", "b"])) == 1


# ---------------------------------------------------------------- attribution

def test_attribution_extraction():
    text = '''# SPDX-License-Identifier: Apache-2.0
# Adapted from https://github.com/huggingface/transformers/blob/v4.40/src/transformers/models/llama/modeling_llama.py
# Copyright 2022 EleutherAI and the HuggingFace Inc. team. All rights reserved.
"""Based on the reference implementation in modeling_llama.py."""
# the output is based on the input (not a provenance mention)
'''
    n = attr.extract(text)
    assert n.licence == "Apache-2.0"
    assert n.copyright == ["Copyright 2022 EleutherAI and the HuggingFace Inc. team. All rights reserved."]
    assert len(n.mentions) == 2
    assert any("huggingface/transformers" in m for m in n.mentions)
    assert not any("input" in m for m in n.mentions)


def test_attributed_needs_every_origin_notice():
    origin = attr.extract("# Copyright 2023 Attnlib Contributors.\n# SPDX-License-Identifier: Apache-2.0\n")
    kept = attr.extract("# Copyright (c) 2025 Team K\n# Copyright 2023-2024 Attnlib Contributors\n"
                        "# Licensed under the Apache License, Version 2.0\n")
    assert attr.attributed(kept, [origin]) is True
    no_licence = attr.extract("# Copyright 2023 Attnlib Contributors\n")
    assert attr.attributed(no_licence, [origin]) is False
    no_credit = attr.extract("# SPDX-License-Identifier: Apache-2.0\n")
    assert attr.attributed(no_credit, [origin]) is False


# ---------------------------------------------------------------- end to end

@pytest.fixture()
def disguised(tmp_path: Path) -> Path:
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "layers.py").write_text(disguise((REF / "attnlib" / "attention.py").read_text(), seed=3))
    (cand / "own.py").write_text(
        "def fib(n):\n    a, b = 0, 1\n    while n:\n        a, b = b, a + b\n        n -= 1\n    return a\n\n\n"
        "def collatz(n):\n    steps = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
        "        steps += 1\n    return steps\n")
    (cand / "bad_bytes.py").write_bytes(b"x = '\xff\xfe'\n")
    (cand / "blob.py").write_bytes(b"\x00\x01\x02")
    return cand


def test_disguised_copy_is_found_and_classified(disguised: Path):
    res = analyse(disguised, [REF])
    by = {f["file"]: f for f in res["files"]}
    layers = by["layers.py"]
    assert layers["ranking"][0]["reference_file"] == "ref/attnlib/attention.py"
    assert layers["relation"] == "copied"
    assert layers["origins"] == ["ref/attnlib/attention.py"]
    # the disguise dropped the header: the licence and credit are gone
    assert layers["attribution"]["attributed"] is False
    assert by["own.py"]["relation"] == "independent"
    assert by["own.py"]["attribution"]["attributed"] is None
    assert by["bad_bytes.py"]["note"].startswith("skipped") and by["blob.py"]["note"].startswith("skipped")
    kinds = {m["kind"] for m in res["matches"] if m["candidate_file"] == "layers.py"}
    assert kinds <= {"verbatim", "renamed", "restructured"} and "renamed" in kinds


def test_attributed_copy(tmp_path: Path):
    cand = tmp_path / "c"
    cand.mkdir()
    body = disguise((REF / "normlib" / "norms.py").read_text(), seed=1)
    (cand / "n.py").write_text("# Copyright (c) 2022 Normlib Team\n# MIT License\n# adapted from normlib/norms.py\n" + body)
    f = analyse(cand, [REF])["files"][0]
    assert f["relation"] == "copied" and f["attribution"]["attributed"] is True
    assert f["attribution"]["licence"] == "MIT"
    assert any(e["kind"] == "mention" for e in f["evidence"])


def _contract_check(obj: dict) -> None:
    assert obj["schema"] == "fromscratch.code/1"
    for f in obj["files"]:
        assert set(f) >= {"file", "ranking", "relation", "origins", "attribution"}
        assert f["relation"] in ("copied", "adapted", "independent")
        assert set(f["attribution"]) >= {"licence", "copyright", "mentions", "attributed"}
        assert len(f["ranking"]) <= 5
        scores = [r["score"] for r in f["ranking"]]
        assert scores == sorted(scores, reverse=True)
        for r in f["ranking"]:
            assert 0 <= r["score"] <= 1 and (r["p_value"] is None or 0 <= r["p_value"] <= 1)
    for m in obj["matches"]:
        assert m["kind"] in ("verbatim", "renamed", "restructured")
        assert len(m["candidate_lines"]) == 2 and len(m["reference_lines"]) == 2


def test_cli_json_shape_index_roundtrip_and_determinism(disguised: Path, tmp_path: Path, capsys):
    out1, out2, out3 = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    html = tmp_path / "r.html"
    assert main(["code", str(disguised), "--against", str(REF), "--json", str(out1), "--html", str(html)]) == 0
    assert main(["code", str(disguised), "--against", str(REF), "--json", str(out2)]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    obj = json.loads(out1.read_text())
    _contract_check(obj)
    assert "<pre>" in html.read_text() and "http" not in html.read_text().split("<body>")[1][:2000]
    idx = tmp_path / "refs.npz"
    assert main(["code", "index", str(REF), "--out", str(idx)]) == 0
    assert main(["code", str(disguised), "--against", str(idx), "--json", str(out3)]) == 0
    assert json.loads(out3.read_text())["files"] == obj["files"]


def test_name_prefix_and_single_file_reference(tmp_path: Path):
    cand = tmp_path / "c.py"
    cand.write_text(disguise((REF / "normlib" / "norms.py").read_text(), seed=2))
    res = analyse(cand, [f"lib={REF / 'normlib' / 'norms.py'}", REF / "misc"])
    assert res["files"][0]["file"] == "c.py"
    assert res["files"][0]["ranking"][0]["reference_file"] == "lib/norms.py"
    assert {r["reference_file"] for r in res["files"][0]["ranking"]} <= {"lib/norms.py", "misc/tables.py"}


@pytest.mark.parametrize("args", [
    ["code", "/nonexistent/cand", "--against", str(REF)],
    ["code", str(REF), "--against", "/nonexistent/ref"],
    ["code", str(REF)],
    ["code", "index", "/nonexistent/ref", "--out", "/tmp/x.npz"],
])
def test_bad_input_exits_2(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fromscratch: error:")


def test_corrupt_index_and_reference_without_sources_exit_2(tmp_path: Path, capsys):
    bad = tmp_path / "idx.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["code", str(REF), "--against", str(bad)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["code", str(REF), "--against", str(empty)]) == 2


def test_declared_origin_matches_file_and_folder():
    from fromscratch.code.declared import names_reference, parse_declarations

    def named(mention: str, ref: str) -> bool:
        return any(names_reference(d, ref) for d in parse_declarations([mention]))

    m = "Adapted from https://github.com/huggingface/transformers/blob/v4.28.0/src/transformers/models/llama/modeling_llama.py#L10"
    assert named(m, "transformers/llama/modeling_llama.py")
    assert not named(m, "transformers/mistral/modeling_mistral.py")
    assert not named(m, "transformers/other/modeling_llama.py")
    assert named("copied from normlib/norms.py", "ref/normlib/norms.py")
    assert named("Copied from transformers.models.llama.modeling_llama.LlamaAttention", "models/llama/modeling_llama.py")
    assert named("Adapted from https://github.com/vllm-project/vllm/blob/v0.6/vllm/model_executor/models/llama.py",
                 "models/llama.py")
    assert not named("based on the llama paper", "models/llama.py")


@pytest.mark.parametrize("field,change", [
    ("iface_indices", lambda a: a + 10_000_000),            # a column beyond the interface vocabulary
    ("tok_indices", lambda a: a + 10_000_000),              # ... beyond a unit channel's vocabulary
    ("ident_indptr", lambda a: a[::-1].copy()),            # row pointers that run backwards
    ("unit_file", lambda a: a + 1_000_000),                 # units of files that do not exist
    ("iface_config", lambda a: a[:-1] if len(a) else np.ones(3, dtype=np.uint8)),
])
def test_index_with_inconsistent_arrays_exits_2_with_one_line(tmp_path: Path, capsys, field, change):
    """An index is plain arrays, and scipy's sparse products trust them: every table is checked on load."""
    good = tmp_path / "good.npz"
    assert main(["code", "index", str(REF), "--out", str(good)]) == 0
    capsys.readouterr()
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[field] = change(arrays[field])
    bad = tmp_path / "bad.npz"
    np.savez_compressed(bad, **arrays)
    assert main(["code", str(REF), "--against", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "code index" in err[0]
