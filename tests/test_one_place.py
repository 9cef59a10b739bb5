"""One implementation per thing, checked on the source tree: a second copy fails here.

Each rule names the one module allowed to do the job; an import or call of the underlying
primitive anywhere else in ``src/fromscratch`` is a second implementation (a security fix or a
cache-key change would land in one copy only).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fromscratch"


def _modules():
    for p in sorted(SRC.rglob("*.py")):
        if "demo_material" in p.parts:  # the demo teams' own code, data for the code audit
            continue
        yield p.relative_to(SRC).as_posix(), ast.parse(p.read_text(encoding="utf-8"))


def _imports(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def _calls(tree: ast.AST, name: str) -> int:
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
               and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name))


@pytest.mark.parametrize("primitive,allowed", [
    ("tomllib", {"tomlio.py"}),  # the one TOML reader
    ("fromscratch.bench.runner.run_task", {"bench/suite.py"}),  # the one benchmark loop and item-log key
    ("fcntl", {"cache.py"}),  # the one file lock (zoo, chains, null bank, real models)
])
def test_only_one_module_uses(primitive, allowed):
    users = {name for name, tree in _modules() if primitive in _imports(tree)}
    assert users == allowed, f"{primitive} used outside {sorted(allowed)}: {sorted(users - allowed)}"


def test_the_round_benchmarks_through_the_shared_loop():
    trees = dict(_modules())
    assert _calls(trees["round/stages.py"], "run_suite") == 1
    assert _calls(trees["bench/commands.py"], "run_suite") == 1
    assert _calls(trees["bench/suite.py"], "run_task") == 1
