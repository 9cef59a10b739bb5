"""Files built from other files of the candidate tree: import resolution and the `builds_on` rule.

The references are the generated framework-a models of the port tests; the candidate tree holds a
disguised copy of one of them (`port.py`) and files that use it in different ways.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fromscratch.code.api import analyse
from fromscratch.code.imports import resolve, used_imports
from fromscratch.code.index import index_from_sources
from fromscratch.code.lang import PythonLanguage
from fromscratch.code.tree import T_BUILDS_ON
from obfuscate import disguise
from test_code_port import N_MODELS, _vocab, framework_a

PY = PythonLanguage()
M9 = "fw/m009/modeling_m009.py"


def _imports(src: str, rel: str, tree: set[str]) -> list[str]:
    return resolve(rel, used_imports(ast.parse(src)), tree)


def test_imports_resolve_relative_absolute_and_src_layout_targets_in_the_tree():
    src = ("from ..base import Feature\nfrom .language import LanguageModel\nfrom . import vision\n"
           "import pkg.sub.mod as m\nimport torch\nfrom transformers.models.llama import LlamaModel\n"
           "class Model(Feature):\n    def __init__(self, c):\n        self.lm = LanguageModel(c)\n"
           "        self.v = vision.Tower(c)\n        self.x = m.Thing()\n        torch.zeros(1)\n"
           "        LlamaModel(c)\n")
    tree = {"models/base.py", "models/m/language.py", "models/m/vision.py", "models/m/m.py",
            "src/pkg/sub/mod.py", "models/llama.py"}
    # the library import (`transformers.models.llama`) is not taken for the tree's own `models/llama.py`
    assert _imports(src, "models/m/m.py", tree) == ["models/base.py", "models/m/language.py",
                                                     "models/m/vision.py", "src/pkg/sub/mod.py"]


def test_an_absolute_import_starts_where_the_search_path_would_not_inside_a_package():
    src = "import utils\nutils.f()\n"
    assert _imports(src, "a/m.py", {"a/__init__.py", "a/utils.py", "utils.py"}) == ["utils.py"]
    assert _imports(src, "a/m.py", {"a/__init__.py", "a/utils.py"}) == []


def test_an_import_used_only_to_annotate_or_compare_is_not_built_on():
    src = ("from .config import ModelConfig\nfrom .language import LanguageModel\nfrom .other import *\n"
           "def f(c: ModelConfig) -> LanguageModel:\n    return isinstance(c, LanguageModel)\n")
    assert _imports(src, "m/m.py", {"m/config.py", "m/language.py", "m/other.py"}) == []


def test_a_relative_import_above_the_tree_root_resolves_to_nothing():
    assert _imports("from ...x import A\nA()\n", "m/m.py", {"x.py", "m/x.py"}) == []


@pytest.fixture(scope="module")
def corpus():
    return index_from_sources([(f"fw/m{i:03d}/modeling_m{i:03d}.py", PY.parse(f"m{i}.py", framework_a(i)))
                               for i in range(N_MODELS)])


_OWN_CODE = '''

class Scheduler:
    """A learning-rate schedule and its bookkeeping, code of the project's own."""

    def __init__(self, warmup_steps, peak, floor, decay_steps, cycles):
        self.warmup_steps = warmup_steps
        self.peak = peak
        self.floor = floor
        self.decay_steps = decay_steps
        self.cycles = cycles
        self.history = []

    def value(self, step):
        if step < self.warmup_steps:
            out = self.peak * (step + 1) / self.warmup_steps
        else:
            t = ((step - self.warmup_steps) % self.decay_steps) / self.decay_steps
            out = self.floor + (self.peak - self.floor) * (1 - t) ** self.cycles
        self.history.append((step, out))
        return out

    def summary(self):
        seen = [v for _, v in self.history]
        return {"steps": len(seen), "max": max(seen, default=None), "min": min(seen, default=None)}


def shard_sizes(total_rows, workers, minimum_chunk):
    base, extra = divmod(total_rows, workers)
    sizes = [base + (1 if w < extra else 0) for w in range(workers)]
    merged, carry = [], 0
    for s in sizes:
        carry += s
        if carry >= minimum_chunk:
            merged.append(carry)
            carry = 0
    if carry:
        merged[-1:] = [merged[-1] + carry] if merged else [carry]
    return merged


def parse_manifest(lines, separator, required_columns):
    header = lines[0].split(separator)
    missing = [c for c in required_columns if c not in header]
    if missing:
        raise KeyError(", ".join(missing))
    rows = []
    for line in lines[1:]:
        cells = line.split(separator)
        rows.append({name: cells[header.index(name)] for name in required_columns})
    return rows
'''


def _tree(tmp_path: Path) -> Path:
    """A candidate tree: a disguised copy of model 9, a thin wrapper of it, a file that calls it but is mostly
    its own code, a wrapper of the wrapper, and a file that only annotates with it."""
    # the port exposes the model under a generic name, as mlx-vlm's `language.py` exposes `LanguageModel`: a
    # wrapper that named the model's own classes would share their rare identifiers and meet the port test itself
    block = "LanguageModel"
    pkg = tmp_path / "team" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "port.py").write_text(disguise(framework_a(9), seed=3, rename=False)
                                 + f"\n\nclass LanguageModel({_vocab(9)['P']}Block):\n    pass\n")
    (pkg / "wrapper.py").write_text(f"from .port import {block}\n\n\nclass Model:\n    def __init__(self, config):\n"
                                    f"        self.model = {block}(config)\n\n    def __call__(self, x):\n"
                                    "        return self.model(x)\n")
    (pkg / "trainer.py").write_text(f"from pkg.port import {block}\n\n\ndef build(config):\n"
                                    f"    return {block}(config)\n" + _OWN_CODE)
    (pkg / "outer.py").write_text("from .wrapper import Model\n\n\ndef make(config):\n    return Model(config)\n")
    (pkg / "hints.py").write_text(f"from .port import {block}\n\n\ndef size(m: {block}) -> int:\n    return 1\n")
    return tmp_path / "team"


def test_a_thin_wrapper_of_a_copied_file_is_adapted_through_it(corpus, tmp_path):
    res = analyse(_tree(tmp_path), [], indices=[corpus])
    files = {f["file"]: f for f in res["files"]}
    assert files["pkg/port.py"]["relation"] == "copied" and files["pkg/port.py"]["origins"] == [M9]
    w = files["pkg/wrapper.py"]
    assert w["relation"] == "adapted" and w["origins"] == [M9]
    d = w["origin_details"][0]
    assert d["rules"] == ["builds_on"] and d["via"] == "pkg/port.py" and d["candidate_lines"] == []
    # the wrapper holds none of the origin's code: attribution is judged on the imported file
    assert w["attribution"]["attributed"] is None
    ev = [e for e in w["evidence"] if e["kind"] == "builds_on"]
    assert ev and ev[0]["score"] < T_BUILDS_ON and "pkg/port.py" in ev[0]["detail"]
    assert not [m for m in res["matches"] if m["candidate_file"] == "pkg/wrapper.py"]
    assert [b["file"] for b in w["builds_on"]] == ["pkg/port.py"]


def test_a_file_with_as_much_code_of_its_own_is_judged_on_it(corpus, tmp_path):
    res = analyse(_tree(tmp_path), [], indices=[corpus])
    f = {f["file"]: f for f in res["files"]}["pkg/trainer.py"]
    (b,) = f["builds_on"]  # the absolute import resolves in the tree
    assert b["file"] == "pkg/port.py" and b["relation"] == "copied" and b["mass_ratio"] >= T_BUILDS_ON
    assert f["relation"] == "independent" and f["origins"] == []


def test_depth_one_and_annotations_do_not_inherit(corpus, tmp_path):
    files = {f["file"]: f for f in analyse(_tree(tmp_path), [], indices=[corpus])["files"]}
    outer = files["pkg/outer.py"]
    # the wrapper's own verdict is independent: what it inherited does not pass on
    assert outer["builds_on"][0]["file"] == "pkg/wrapper.py" and outer["builds_on"][0]["relation"] == "independent"
    assert outer["relation"] == "independent"
    assert files["pkg/hints.py"]["builds_on"] == [] and files["pkg/hints.py"]["relation"] == "independent"


def test_judging_some_files_of_a_tree_gives_their_entries_unchanged(corpus, tmp_path):
    root = _tree(tmp_path)
    whole = {f["file"]: f for f in analyse(root, [], indices=[corpus])["files"]}
    some = analyse(root, [], indices=[corpus], files=["pkg/wrapper.py", "pkg/outer.py"])
    assert [f["file"] for f in some["files"]] == ["pkg/outer.py", "pkg/wrapper.py"]
    assert all(f == whole[f["file"]] for f in some["files"])
    assert {m["candidate_file"] for m in some["matches"]} <= {"pkg/outer.py", "pkg/wrapper.py"}


def test_a_single_file_candidate_follows_nothing(corpus, tmp_path):
    root = _tree(tmp_path)
    f = analyse(root / "pkg" / "wrapper.py", [], indices=[corpus])["files"][0]
    assert f["relation"] == "independent" and f["builds_on"] == []
    # ... and says which of the file's relative imports it could not follow
    assert f["builds_on_outside"] == [".port.LanguageModel"]
    whole = {f["file"]: f for f in analyse(root, [], indices=[corpus])["files"]}
    assert whole["pkg/wrapper.py"]["builds_on_outside"] == []


def test_the_reports_name_the_file_an_origin_is_reached_through(corpus, tmp_path, capsys, monkeypatch):
    from fromscratch.code.report import print_summary, write_html

    root = _tree(tmp_path)
    res = analyse(root, [], indices=[corpus])
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: rich folds long paths in a narrow one
    print_summary(res)
    row = next(line for line in capsys.readouterr().out.splitlines() if "pkg/wrapper.py" in line)
    assert "builds_on via pkg/port.py" in row
    out = tmp_path / "r.html"
    write_html(res, root, lambda name: None, out)
    assert "builds_on, via pkg/port.py" in out.read_text()


def test_asking_for_a_file_the_tree_does_not_hold_is_bad_input(corpus, tmp_path):
    from fromscratch.errors import InputError

    with pytest.raises(InputError, match="not a source file of the candidate tree"):
        analyse(_tree(tmp_path), [], indices=[corpus], files=["pkg/missing.py"])
