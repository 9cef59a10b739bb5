"""The port test and the identifier ranking on a generated corpus.

120 model files in one framework's style, each with its own vocabulary (class
prefix, attribute and config names) and its own arithmetic; candidates in another
framework's style: a port that keeps one model's names while rewriting every line
of code, and an independent file with names of its own. The corpus is big enough
for a conformal p-value below 0.01 (the null has > 100 values).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from fromscratch.code.api import ALPHA_FAMILY, ALPHA_PORT, analyse
from fromscratch.code.index import index_from_sources
from fromscratch.code.lang import PythonLanguage
from fromscratch.code.port import T_LINK_UNIT, gap_statistic, linked_files
from fromscratch.code.score import T_UNIT_COPY, query

N_MODELS = 120
PY = PythonLanguage()


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


def _vocab(i: int) -> dict[str, str]:
    rng = random.Random(1000 + i)
    w = [_word(rng) for _ in range(9)]
    return {"P": w[0].capitalize() + w[1].capitalize(), "a1": f"{w[2]}_proj", "a2": f"{w[3]}_out",
            "a3": f"{w[4]}_scale", "a4": f"{w[5]}_gate", "c1": f"{w[6]}_size", "c2": f"{w[7]}_dim",
            "c3": f"{w[8]}_factor"}


# statement shapes that differ in their normalised tokens (operators, keywords, brackets), so each
# model's arithmetic is its own, as real model files' is
_STEPS = ["h = h * 2 + self.{s}", "h = h ** 2 - h / 3", "h = torch.clamp(h, min=-1.0, max=1.0)",
          "h = h[..., : h.shape[-1] // 2]", "if h.dim() > 2:\n            h = h.flatten(1)",
          "h = h / (h.norm(dim=-1, keepdim=True) + 1e-6)", "h = torch.where(h > 0, h, -h * self.{s})",
          "h = h @ h.transpose(-1, -2) if self.training else h", "h = h.masked_fill(h < 0, 0.0)",
          "for _ in range(2):\n            h = h - h.mean(-1, keepdim=True)", "h = (h - h.min()) % 7",
          "h = h.view(h.size(0), -1).contiguous()"]
_OPS = ["torch.tanh", "torch.sigmoid", "torch.relu", "torch.exp", "torch.sin", "torch.cos"]


def framework_a(i: int) -> str:
    """A model file in the reference framework's style, with model i's names and arithmetic."""
    v = _vocab(i)
    rng = random.Random(i)
    op1, op2 = rng.sample(_OPS, 2)
    k = rng.randint(2, 9)
    extra = "\n".join("        " + rng.choice(_STEPS).format(s=v["a3"]) for _ in range(rng.randint(6, 10)))
    return f'''import torch
from torch import nn


class {v["P"]}Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.{v["a1"]} = nn.Linear(config.{v["c1"]}, config.{v["c2"]})
        self.{v["a2"]} = nn.Linear(config.{v["c2"]}, config.{v["c1"]})
        self.{v["a3"]} = config.{v["c3"]}

    def forward(self, hidden_states):
        h = self.{v["a1"]}(hidden_states)
{extra}
        h = {op1}(h) * {k}
        return self.{v["a2"]}(h) + hidden_states


class {v["P"]}Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = {v["P"]}Attention(config)
        self.{v["a4"]} = nn.Linear(config.{v["c1"]}, config.{v["c1"]})

    def forward(self, hidden_states):
        g = {op2}(self.{v["a4"]}(hidden_states))
        return self.attention(hidden_states) * g
'''


def framework_b(v: dict[str, str]) -> str:
    """The same model structure written against another API: no line of code in common."""
    return f'''import mx


class {v["P"]}Attention(mx.Module):
    def setup(self, args):
        self.{v["a1"]} = mx.Dense(args.{v["c1"]}, args.{v["c2"]}, use_bias=True)
        self.{v["a2"]} = mx.Dense(args.{v["c2"]}, args.{v["c1"]}, use_bias=True)
        self.{v["a3"]} = float(args.{v["c3"]})

    def __call__(self, x, cache=None):
        y = mx.apply(self.{v["a1"]}, x)
        y = mx.fma(y, self.{v["a3"]}, cache)
        return mx.add(mx.apply(self.{v["a2"]}, mx.activation(y)), x)


class {v["P"]}Block(mx.Module):
    def setup(self, args):
        self.attention = {v["P"]}Attention(args)
        self.{v["a4"]} = mx.Dense(args.{v["c1"]}, args.{v["c1"]}, use_bias=True)

    def __call__(self, x, cache=None):
        return mx.mul(self.attention(x, cache), mx.gate(mx.apply(self.{v["a4"]}, x)))
'''


@pytest.fixture(scope="module")
def corpus():
    parsed = [(f"fw/m{i:03d}/modeling_m{i:03d}.py", PY.parse(f"m{i}.py", framework_a(i))) for i in range(N_MODELS)]
    # model 5 copies model 4's attention class verbatim (a copy family, as transformers has)
    text5 = framework_a(5)
    att4 = framework_a(4).split("class ")[1]
    text5 += "\n\nclass " + att4.replace(_vocab(4)["P"] + "Attention", "Borrowed" + _vocab(4)["P"] + "Attention")
    parsed[5] = (parsed[5][0], PY.parse("m5.py", text5))
    return index_from_sources(parsed)


def test_link_threshold_is_the_unit_copy_threshold():
    assert T_LINK_UNIT == T_UNIT_COPY


def test_copy_family_is_linked_and_unrelated_models_are_not(corpus):
    f4 = corpus.files.index("fw/m004/modeling_m004.py")
    f5 = corpus.files.index("fw/m005/modeling_m005.py")
    f9 = corpus.files.index("fw/m009/modeling_m009.py")
    assert linked_files(corpus, f4)[f5] and linked_files(corpus, f5)[f4]
    assert not linked_files(corpus, f4)[f9]


def test_port_keeps_names_only_and_is_adapted_from_its_origin(corpus, tmp_path):
    port = tmp_path / "port.py"
    port.write_text(framework_b(_vocab(37)))
    q = query(corpus, PY.parse("port.py", port.read_text()))
    origin = corpus.files.index("fw/m037/modeling_m037.py")
    assert int(np.argmax(q.rank)) == origin
    gap, top = gap_statistic(corpus, q.ident_cont)
    assert top == origin and gap > 0
    res = analyse(port, [], indices=[corpus])["files"][0]
    assert res["port_test"]["reference_file"] == "fw/m037/modeling_m037.py"
    assert res["port_test"]["p_value"] <= ALPHA_PORT
    assert res["relation"] == "adapted" and res["origins"][0] == "fw/m037/modeling_m037.py"
    assert res["ranking"][0]["reference_file"] == "fw/m037/modeling_m037.py"
    assert res["ranking"][0]["code_score"] < 0.35  # not adapted by its code: the names decide


def test_independent_file_in_the_other_framework_is_independent(corpus, tmp_path):
    own = tmp_path / "own.py"
    names = _vocab(10_000)  # a vocabulary of its own, with a few names that three unrelated models also use
    names.update(a1=_vocab(3)["a1"], c2=_vocab(50)["c2"], a4=_vocab(80)["a4"])
    own.write_text(framework_b(names))
    res = analyse(own, [], indices=[corpus])["files"][0]
    assert res["relation"] == "independent"
    assert res["port_test"]["p_value"] > ALPHA_PORT


def test_null_has_enough_values_for_the_port_level(corpus):
    assert len(corpus.null_port) >= 1 / ALPHA_PORT
    # the margin null is one maximum per pseudo-candidate, so p <= ALPHA_FAMILY is reachable on any
    # corpus with >= 1 / ALPHA_FAMILY pseudo-candidates (a per-reference Bonferroni over pooled pair
    # scores needed 1 / (ALPHA_FAMILY / N) values and could not fire on a large corpus)
    assert len(corpus.null_margin) >= 1 / ALPHA_FAMILY
    assert np.all(np.diff(corpus.null_margin) >= 0)


def test_rank_margin_names_the_reference_that_stands_out(corpus, tmp_path):
    """A port's rank score stands clear of every reference not linked to its origin; an independent
    file's best reference does not. Reported as evidence; no verdict rests on it."""
    port = tmp_path / "port.py"
    port.write_text(framework_b(_vocab(37)))
    res = analyse(port, [], indices=[corpus])["files"][0]
    assert res["margin_test"]["reference_file"] == "fw/m037/modeling_m037.py"
    assert res["margin_test"]["p_value"] <= ALPHA_FAMILY
    assert any(e["kind"] == "margin" and "significant" in e["detail"] for e in res["evidence"])
    assert all("rank_margin" not in d["rules"] for d in res["origin_details"])  # evidence, not a rule
    own = tmp_path / "own.py"
    names = _vocab(10_000)
    names.update(a1=_vocab(3)["a1"], c2=_vocab(50)["c2"], a4=_vocab(80)["a4"])
    own.write_text(framework_b(names))
    res = analyse(own, [], indices=[corpus])["files"][0]
    assert res["margin_test"]["p_value"] > ALPHA_FAMILY
    assert not any(e["kind"] == "margin" and "significant" in e["detail"] for e in res["evidence"])


def test_a_file_of_one_empty_decorated_class_is_not_a_copy_of_anything(tmp_path):
    """`@export("x") class X(Base): \"\"\"doc\"\"\"` is, once masked, the header of many unrelated classes."""
    refs = []
    for i in range(6):
        refs.append((f"lib/m{i}/layers.py", PY.parse(f"m{i}.py", f'''import torch
from torch import nn


@use_kernel("RMSNorm{i}")
class Norm{i}(nn.Module):
    """A norm layer whose code lives in the functions below."""


def rms_norm_{i}(x, weight_{i}):
    return x * torch.rsqrt(x.pow({i + 2}).mean(-1, keepdim=True) + 1e-6) * weight_{i}
''')))
    index = index_from_sources(refs)
    cand = tmp_path / "backbone.py"
    cand.write_text('from pkg import base\n\n\n@export("pkg.XBackbone")\nclass XBackbone(base.Backbone):\n'
                    '    """An encoder network, documented at length but with no code of its own."""\n')
    q = query(index, PY.parse("backbone.py", cand.read_text()))
    assert float(q.sim.max()) == 1.0  # the unit-level view still sees the identical header...
    assert float(q.file_score.max()) < 0.35  # ...but it is no evidence that the file was copied
    assert analyse(cand, [], indices=[index])["files"][0]["relation"] == "independent"


def test_unit_and_file_scores_stay_in_the_unit_interval(corpus):
    """Bodies identical once masked and common to the whole corpus (weight 0, equal digests) included."""
    for i in (0, 5, 37):
        q = query(corpus, PY.parse("c.py", framework_a(i)))
        assert q.sim.nnz and float(q.sim.max()) <= 1.0
        assert float(q.best.max()) <= 1.0 and float(q.file_score.max()) <= 1.0


def test_interface_names_are_module_assignments_and_configuration_reads():
    import ast

    from fromscratch.code.interface import interface_names
    text = '''
from dataclasses import dataclass

@dataclass
class ModelArgs:
    rope_theta: float = 1e4

class Attention:
    def __init__(self, config, other):
        self.q_proj = nn.Linear(config.hidden_size, getattr(config, "head_dim", 64))
        self.layers = [Block(i) for i in range(4)]
        self.norm: nn.Module = RMSNorm(8) if other else None
        self.gate, self.top_k = Router(other), 2
        self.scale: float = other.factor
        self.head_dim = getattr(config, "head_dim", 64) // 2
        self.weight = mx.ones((8,))
        self.text_config.vocab_size
        getattr(other, "not_a_key")
'''
    # hyperparameters stored on self (scale, head_dim, top_k) are not checkpoint keys; a parameter made by a
    # function (mx.ones) is missed, as the module docstring says
    assert interface_names(ast.parse(text)) == ["c:head_dim", "c:hidden_size", "c:rope_theta", "c:vocab_size",
                                                 "m:gate", "m:layers", "m:norm", "m:q_proj"]


def _with(v: dict[str, str], keys_from: dict[str, str] | None = None, modules_from: dict[str, str] | None = None):
    """Model `v`'s framework-b file with its configuration keys and/or module names taken from another."""
    out = dict(v)
    if keys_from:
        out.update({k: keys_from[k] for k in ("c1", "c2", "c3")})
    if modules_from:
        out.update({k: modules_from[k] for k in ("a1", "a2", "a3", "a4")})
    return out


def test_interface_rule_needs_both_the_configuration_keys_and_the_module_names(corpus, tmp_path):
    from fromscratch.code.api import T_INTERFACE
    port = tmp_path / "port.py"
    port.write_text(framework_b(_vocab(37)))
    res = analyse(port, [], indices=[corpus])["files"][0]
    it = res["interface_test"]
    assert it["reference_file"] == "fw/m037/modeling_m037.py"
    assert it["statistic"] >= T_INTERFACE and it["module_share"] >= T_INTERFACE
    assert "interface" in res["origin_details"][0]["rules"]
    assert any(e["kind"] == "interface" and "c:" in e["detail"] and "m:" in e["detail"] for e in res["evidence"])
    own = _vocab(20_000)
    # a framework whose own config mimics model 37's key names, with layers named its own way
    keys_only = tmp_path / "keys_only.py"
    keys_only.write_text(framework_b(_with(own, keys_from=_vocab(37))))
    # a re-implementation that reuses model 37's layer names but reads its own configuration
    modules_only = tmp_path / "modules_only.py"
    modules_only.write_text(framework_b(_with(own, modules_from=_vocab(37))))
    for path in (keys_only, modules_only):
        res = analyse(path, [], indices=[corpus])["files"][0]
        rules = [r for d in res["origin_details"] for r in d["rules"]] + [r for a in res["also_matching"] for r in a["rules"]]
        assert "interface" not in rules
        assert res["interface_test"]["statistic"] < T_INTERFACE or res["interface_test"]["module_share"] < T_INTERFACE


def _bare_scan(margin_ok: set[int] | None = None):
    from fromscratch.code.api import _Scan
    return _Scan([], {}, None, None, None, [], margin_ok or set(), [])


def test_a_file_score_without_copied_units_needs_the_rank_margin_test():
    """A file score above T_FILE_ADAPTED with no copied units makes an origin only when the best reference
    stands out from the references unlinked to it: short files and shared snippets (an RMSNorm) reach that
    score against many references at once (torchscale's `rms_norm.py` against llama4, docs/code.md (6));
    copied units and copy-level scores need no such test."""
    from fromscratch.code.api import T_FILE_ADAPTED, T_FILE_COPIED, _Hit, _rules
    parsed = [(f"fw/m{i:03d}/modeling_m{i:03d}.py", PY.parse(f"m{i}.py", framework_a(i))) for i in range(N_MODELS)]
    index = index_from_sources(parsed)
    mid = (T_FILE_ADAPTED + T_FILE_COPIED) / 2
    alike = _Hit(index, 3, score=mid, rank=mid, ident_jac=0.1, p=0.02, cover=0.0, tok=mid, ident=0.1, struct=mid)
    assert _rules(alike, _bare_scan(), set(), set()) == []
    assert _rules(alike, _bare_scan({id(index)}), set(), set()) == ["file_adapted"]
    units = _Hit(index, 3, score=mid, rank=mid, ident_jac=0.1, p=0.02, cover=0.9, tok=mid, ident=0.1, struct=mid)
    assert _rules(units, _bare_scan(), set(), set()) == ["cover"]
    copy = _Hit(index, 3, score=0.95, rank=0.95, ident_jac=0.9, p=0.001, cover=0.0, tok=0.95, ident=0.9, struct=0.95)
    assert _rules(copy, _bare_scan(), set(), set()) == ["file_copied"]


def test_a_kept_notice_alone_makes_no_origin(tmp_path):
    """The holder's own code carries its notice without being copied from anything: a specific notice that
    the candidate shares with a top-ranked reference picks among code-eligible siblings, never more."""
    notice = "# Copyright 2024 Zyxwv Labs. All rights reserved.\n"
    parsed = []
    for i in range(N_MODELS):
        text = (notice if i in (7, 8) else "") + framework_a(i)
        parsed.append((f"fw/m{i:03d}/modeling_m{i:03d}.py", PY.parse(f"m{i}.py", text)))
    index = index_from_sources(parsed)
    from fromscratch.code.api import _Hit, _rules
    weak = _Hit(index, 7, score=0.05, rank=0.3, ident_jac=0.1, p=0.5, cover=0.0, tok=0.05, ident=0.1, struct=0.1)
    assert _rules(weak, _bare_scan(), set(), {id(weak)}) == []
    strong = _Hit(index, 7, score=0.9, rank=0.9, ident_jac=0.9, p=0.001, cover=0.9, tok=0.9, ident=0.9, struct=0.9)
    assert _rules(strong, _bare_scan(), set(), {id(strong)})[-1] == "kept_notice"
    copy = tmp_path / "copy.py"
    copy.write_text(notice + framework_a(8))
    res = analyse(copy, [], indices=[index])["files"][0]
    assert res["relation"] == "copied" and res["origins"][0] == "fw/m008/modeling_m008.py"
    assert "kept_notice" in res["origin_details"][0]["rules"]


def _declared_port(tmp_path):
    """A port of model 37 that also keeps model 40's block and says it was adapted from model 40."""
    cand = tmp_path / "port.py"
    block40 = framework_a(40).split("\n\n\n")[1]
    cand.write_text("# Adapted from fw/m040/modeling_m040.py\n" + framework_b(_vocab(37)) + "\n\n" + block40 + "\n")
    return cand


def test_the_interface_origin_joins_a_declared_origin(corpus, tmp_path):
    """A declaration names the code a file was written from, the interface the model whose checkpoints it
    loads: `_declared_port` lists both, the declared one (model 40) first, although model 37's code share
    over model 40 is far below T_JOIN."""
    res = analyse(_declared_port(tmp_path), [], indices=[corpus])["files"][0]
    assert res["origins"] == ["fw/m040/modeling_m040.py", "fw/m037/modeling_m037.py"]
    first, second = res["origin_details"]
    assert "declared" in first["rules"] and "interface" in second["rules"]
    assert second["share"] < 0.20  # it is there by the interface rule, not by the code gain


def test_the_terminal_summary_lists_every_origin(corpus, tmp_path, capsys, monkeypatch):
    from fromscratch.code.report import print_summary
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: rich folds long paths in a narrow one
    print_summary(analyse(_declared_port(tmp_path), [], indices=[corpus]))
    out = capsys.readouterr().out
    assert "m040" in out and "m037" in out and "declared" in out and "interface" in out


def test_a_token_match_without_shared_names_says_literals_are_masked(tmp_path):
    """Strings are masked, so a table of literals matches any other table: the evidence says so when the file
    shares no identifier with the reference, and says nothing more for a real copy."""
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(600)]
    table = lambda name, ws: f"{name} = [\n" + "".join(f'    "{w}",\n' for w in ws) + "]\n"
    parsed = []
    for i in range(N_MODELS):
        text = framework_a(i) + (table("_SPECIAL_TOKENS", words[:300]) if i == 5 else "")
        parsed.append((f"fw/m{i:03d}/modeling_m{i:03d}.py", PY.parse(f"m{i}.py", text)))
    index = index_from_sources(parsed)
    categories = tmp_path / "categories.py"
    categories.write_text(table("CATEGORIES", words[300:]))
    res = analyse(categories, [], indices=[index])["files"][0]
    ev = [e for e in res["evidence"] if e["reference_file"] == "fw/m005/modeling_m005.py"]
    assert ev, "the reference holding the other table is among the shown references"
    tokens = next(e for e in ev if e["kind"] == "tokens")
    assert "list of literals" in tokens["detail"]
    # the table is what matches: that reference's token score is the best of all shown
    assert tokens["score"] == max(e["score"] for e in res["evidence"] if e["kind"] == "tokens") > 0.1
    assert next(e for e in ev if e["kind"] == "identifiers")["detail"].endswith("none")
    copy = tmp_path / "copy.py"
    copy.write_text(framework_a(8))
    res = analyse(copy, [], indices=[index])["files"][0]
    top = next(e for e in res["evidence"] if e["kind"] == "tokens" and e["reference_file"] == res["origins"][0])
    assert "list of literals" not in top["detail"]
