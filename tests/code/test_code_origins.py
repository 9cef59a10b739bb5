"""Origins as a minimal explaining set, declared origins, attribution per header variant, licence checks.

The corpus is the generated one of the port tests (120 model files, each with its
own names and arithmetic) plus a sibling family: exact and near copies of model 7
in other folders, as transformers holds llama / mistral / qwen2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fromscratch.code import licences
from fromscratch.code.api import analyse
from fromscratch.code.index import index_from_sources
from fromscratch.code.lang import PythonLanguage
from fromscratch.code.origins import T_JOIN, merge_spans
from obfuscate import disguise
from test_code_port import N_MODELS, _vocab, framework_a, framework_b

PY = PythonLanguage()
REF = Path(__file__).parent / "data" / "ref"
M7 = "fw/m007/modeling_m007.py"


@pytest.fixture(scope="module")
def family():
    parsed = [(f"fw/m{i:03d}/modeling_m{i:03d}.py", PY.parse(f"m{i}.py", framework_a(i))) for i in range(N_MODELS)]
    sib = framework_a(7)
    parsed.append(("fw/sib1/modeling_sib1.py", PY.parse("s1.py", sib)))
    parsed.append(("fw/sib2/modeling_sib2.py", PY.parse("s2.py", sib.replace("return self.", "out = self.", 1)
                                                        .replace("+ hidden_states\n", "+ hidden_states\n        return out\n", 1))))
    return index_from_sources(parsed)


def _one(index, tmp_path: Path, text: str, name: str = "cand.py") -> dict:
    p = tmp_path / name
    p.write_text(text)
    return analyse(p, [], indices=[index])["files"][0]


def test_a_copy_of_one_family_member_names_one_origin(family, tmp_path):
    f = _one(family, tmp_path, disguise(framework_a(7), seed=4, rename=False))
    assert f["relation"] == "copied"
    assert len(f["origins"]) == 1 and f["origins"][0] in (M7, "fw/sib1/modeling_sib1.py")
    # the siblings meet the copy rule too, but explain nothing the first origin does not
    also = {a["reference_file"]: a["share"] for a in f["also_matching"]}
    assert {"fw/sib1/modeling_sib1.py", "fw/sib2/modeling_sib2.py", M7} - set(f["origins"]) <= set(also)
    assert max(also.values()) < T_JOIN
    d = f["origin_details"][0]
    assert d["reference_file"] == f["origins"][0] and d["share"] >= 0.8 and d["relation"] == "copied"
    assert d["candidate_lines"] and d["reference_lines"] and "file_copied" in d["rules"]


def test_a_file_merged_from_two_sources_lists_both(family, tmp_path):
    a = framework_a(11)
    b = framework_a(12).replace("import torch\nfrom torch import nn\n", "")
    f = _one(family, tmp_path, a + "\n\n" + b)
    assert set(f["origins"][:2]) == {"fw/m011/modeling_m011.py", "fw/m012/modeling_m012.py"}
    assert len(f["origins"]) == 2
    second = f["origin_details"][1]
    assert second["share"] >= T_JOIN
    # the second origin owns lines of the second half only (shared boilerplate goes to the first)
    a_end = a.count("\n")
    own = {d["reference_file"]: d["candidate_lines"] for d in f["origin_details"]}
    assert own["fw/m012/modeling_m012.py"] and all(lo > a_end for lo, _ in own["fw/m012/modeling_m012.py"])
    assert any(hi <= a_end for _, hi in own["fw/m011/modeling_m011.py"])


def test_a_confirmed_declaration_makes_the_port_adapted_from_it(family, tmp_path):
    port = "# Adapted from https://example.org/repo/blob/main/fw/m037/modeling_m037.py\n" + framework_b(_vocab(37))
    f = _one(family, tmp_path, port)
    assert f["relation"] == "adapted" and f["origins"][0] == "fw/m037/modeling_m037.py"
    assert "declared" in f["origin_details"][0]["rules"]
    claim = f["declared_origins"][0]
    assert claim["reference_file"] == "fw/m037/modeling_m037.py" and claim["confirmed"] is True


def test_a_declaration_the_code_does_not_confirm_is_only_a_claim(family, tmp_path):
    names = _vocab(10_000)  # code with names of its own, claiming model 37 as its origin
    own = "# Adapted from fw/m037/modeling_m037.py\n" + framework_b(names)
    f = _one(family, tmp_path, own)
    assert f["relation"] == "independent" and f["origins"] == []
    assert f["attribution"]["attributed"] is None
    claim = f["declared_origins"][0]
    assert claim["reference_file"] == "fw/m037/modeling_m037.py" and claim["confirmed"] is False
    # a declaration naming a file no reference has is reported too, unresolved
    f2 = _one(family, tmp_path, "# based on https://example.org/x/elsewhere.py\n" + framework_b(names))
    assert f2["declared_origins"][0]["reference_file"] is None and f2["declared_origins"][0]["confirmed"] is False


HEADER = "# Copyright 2023 Attnlib Contributors. All rights reserved.\n# SPDX-License-Identifier: Apache-2.0\n"


@pytest.mark.parametrize("variant,expected", [
    ("kept", True), ("moved", True), ("stripped", False), ("replaced", False), ("partial", False), ("licence_only", False),
])
def test_attribution_for_every_header_variant(tmp_path, variant, expected):
    body = disguise((REF / "attnlib" / "attention.py").read_text(), seed=5)
    text = {"kept": HEADER + body, "moved": body + "\n" + HEADER, "stripped": body,
            "replaced": "# Copyright 2025 Team K\n# SPDX-License-Identifier: MIT\n" + body,
            "partial": HEADER.splitlines()[0] + "\n" + body,
            "licence_only": HEADER.splitlines()[1] + "\n" + body}[variant]
    cand = tmp_path / "c"
    cand.mkdir()
    (cand / "layers.py").write_text(text)
    f = analyse(cand, [REF])["files"][0]
    assert f["origins"] == ["ref/attnlib/attention.py"]
    assert f["attribution"]["attributed"] is expected


def test_apache_code_in_an_mit_only_project_is_a_licence_finding(tmp_path):
    body = HEADER + disguise((REF / "attnlib" / "attention.py").read_text(), seed=6)
    for project, finding in (("MIT License\n\nPermission is hereby granted, free of charge, ...", True),
                             ("Apache License\nVersion 2.0, January 2004\nApache License, Version 2.0", False)):
        cand = tmp_path / f"p{int(finding)}"
        cand.mkdir()
        (cand / "LICENSE").write_text(project)
        (cand / "layers.py").write_text(body)
        f = analyse(cand, [REF])["files"][0]
        check = f["licence_check"]
        assert f["attribution"]["attributed"] is True  # the notice is kept either way
        assert check["project_licence_source"] == "LICENSE"
        assert check["origins"][0]["licence"] == "Apache-2.0"
        assert check["finding"] is finding


def test_licence_table():
    assert licences.compatible("MIT", "Apache-2.0") is True
    assert licences.compatible("Apache-2.0", "MIT") is False
    assert licences.compatible("Apache-2.0", "GPL-3.0-or-later") is True
    assert licences.compatible("GPL-3.0-only", "MIT") is False
    assert licences.compatible("LicenseRef-Llama-3", "MIT") is None
    assert licences.compatible(None, "MIT") is None
    assert licences.names_in("GNU General Public License as published by the Free Software Foundation, "
                             "either version 3 of the License") == ["GPL-3.0"]


def test_merge_spans():
    assert merge_spans([(10, 12), (1, 3), (4, 6), (11, 15)]) == [[1, 6], [10, 15]]


def test_a_spelling_variant_of_the_project_holder_is_not_specific():
    """'HuggingFace Inc. team' on one file is the generic 'The HuggingFace Inc. team' spelt without 'the':
    keeping the generic line must not declare that file (it made a sibling the first origin of a
    disguised copy); a holder that only contains the generic one (the llama family's) stays specific."""
    from fromscratch.code.attribution import specific_holders

    generic = "# Copyright 2024 The HuggingFace Inc. team. All rights reserved.\n"
    texts = [generic] * 40 + ["# Copyright 2024 HuggingFace Inc. team.\n",
                              "# Copyright 2022 EleutherAI and the HuggingFace Inc. team. All rights reserved.\n"]
    held = specific_holders(texts, 0.05)
    assert held[0] == set() and held[40] == set()
    assert held[41] == {"eleutherai and the huggingface inc team"}


def _unrelated_code(n: int, seed: int = 0) -> str:
    """`n` small functions of arithmetic and loops with made-up names: code that no reference holds."""
    import random
    rng = random.Random(seed)
    word = lambda: "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))  # noqa: E731
    out = []
    for k in range(n):
        a, b, c = word(), word(), word()
        out.append(f"def {word()}_{k}({a}, {b}):\n    {c} = {a} * {rng.randint(2, 99)}\n"
                   f"    for {word()} in range({b}):\n        {c} = ({c} + {a}) % {rng.randint(3, 997)}\n"
                   f"    return {c} - {b}\n")
    return "\n\n".join(out)


def test_a_copy_padded_with_unrelated_code_still_names_its_source(family, tmp_path):
    """Padding dilutes every share taken of the file (the copied units' share of it falls below
    T_COVER_ADAPTED), not the share of the reference that the file holds (`contains`)."""
    from fromscratch.code.api import T_COVER_ADAPTED
    copy = disguise(framework_a(9), seed=2)
    padded = copy + "\n\n" + _unrelated_code(400)
    assert len(padded) > 8 * len(copy)
    f = _one(family, tmp_path, padded)
    assert f["relation"] != "independent" and f["origins"][0] == "fw/m009/modeling_m009.py"
    d = f["origin_details"][0]
    assert "contains" in d["rules"] and "cover" not in d["rules"]
    assert d["explains"] < T_COVER_ADAPTED
    alone = _one(family, tmp_path, _unrelated_code(400), name="pad.py")
    assert alone["relation"] == "independent"
