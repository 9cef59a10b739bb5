"""What a copier does to hide a copy, as a deterministic transformer (test utility).

`disguise(text, seed)` renames every identifier the file defines (functions,
classes, parameters, local and global variables — not imported names, attributes
or keyword names of outside calls, which a working copy must keep), drops
docstrings and comments, shuffles the order of top-level definitions and of the
methods inside each class, and reformats everything through `ast.unparse`
(different line breaks, quotes and parentheses). The result is never executed.
"""

from __future__ import annotations

import ast
import builtins
import random

_KEEP = set(dir(builtins)) | {"self", "cls", "__init__", "forward", "__call__", "super"}


class _Collector(ast.NodeVisitor):
    def __init__(self) -> None:
        self.defined: set[str] = set()
        self.imported: set[str] = set()

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self.imported.add((a.asname or a.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for a in node.names:
            self.imported.add(a.asname or a.name)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if not (node.name.startswith("__") and node.name.endswith("__")):
            self.defined.add(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.defined.add(node.name)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self.defined.add(node.arg)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.defined.add(node.id)


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]) -> None:
        self.m = mapping

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.m.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.m.get(node.arg, node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.name = self.m.get(node.name, node.name)
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self.m.get(node.name, node.name)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        # methods the file itself defines are called as attributes: rename those calls too
        if node.attr in self.m and node.attr[:1].islower() and isinstance(node.value, ast.Name) \
                and node.value.id in ("self", "cls"):
            node.attr = self.m[node.attr]
        self.generic_visit(node)
        return node


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            body.pop(0)
            if not body:
                body.append(ast.Pass())


def _shuffle(body: list[ast.stmt], rng: random.Random) -> list[ast.stmt]:
    defs = [i for i, s in enumerate(body) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    moved = [body[i] for i in defs]
    rng.shuffle(moved)
    out = list(body)
    for i, s in zip(defs, moved):
        out[i] = s
    return out


def disguise(text: str, seed: int = 0, *, rename: bool = True, reorder: bool = True) -> str:
    """A renamed, reformatted, comment- and docstring-free, reordered copy of `text`."""
    rng = random.Random(seed)
    tree = ast.parse(text)
    _strip_docstrings(tree)
    if rename:
        col = _Collector()
        col.visit(tree)
        names = sorted(col.defined - col.imported - _KEEP)
        order = list(range(len(names)))
        rng.shuffle(order)
        mapping = {}
        for i, n in zip(order, names):
            mapping[n] = (f"K{i}x" if n[:1].isupper() else f"v{i}_")
        tree = _Renamer(mapping).visit(tree)
    if reorder:
        tree.body = _shuffle(tree.body, rng)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                node.body = _shuffle(node.body, rng)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"
