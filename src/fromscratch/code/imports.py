"""Which other files of the candidate's own tree a Python file builds its model from.

WHY: files are judged one at a time, and a port is often split across files. mlx-vlm's
`cohere/cohere.py` is a wrapper of twenty lines whose only model code is
`self.language_model = LanguageModel(config)`, imported from `language.py`, which is the port;
optimum-neuron's `qwen2` subclasses the classes of its own `llama` port. Judged alone such a
file shares nothing with its origin (it is not a copy of anything) and came out `independent`,
although it is part of the port (docs/code.md, "Ports built from other files").

A file *builds on* a name it imports when it derives a class from it or calls it (`Base(…)`,
`LanguageModel(config)`); importing a name only to annotate with it (`config: ModelConfig`) or to
test against it does not count. Only imports that resolve to a file of the candidate tree are
followed (relative imports, and absolute ones from the folders where Python's search path would start);
imports of installed libraries, the reference corpus included, are use, not reuse, and never make
an origin. Nothing is imported or executed: the syntax tree is read.
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath


def _used_names(tree: ast.AST) -> set[str]:
    """Names the file derives a class from or calls (the head name of a dotted call: `mod.Cls(…)` gives `mod`)."""
    out: set[str] = set()

    def head(e: ast.expr) -> str | None:
        while isinstance(e, ast.Attribute):
            e = e.value
        return e.id if isinstance(e, ast.Name) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            out.update(h for b in node.bases if (h := head(b)))
        elif isinstance(node, ast.Call):
            if (h := head(node.func)) is not None:
                out.add(h)
    return out


def _module_candidates(rel: str, level: int, module: str, roots: dict[str, list[str]]) -> list[str]:
    """Paths (relative to the tree root) a `from … import` or `import` target may be, most specific first.

    A relative import counts from the file's folder; an absolute one from every folder of `roots` (`package_roots`)
    that holds a package (or module) of its first name (the tree root, `src/` of a src-layout project, …)."""
    parts = [p for p in module.split(".") if p]
    if not parts:
        return []
    if level:
        base = list(PurePosixPath(rel).parent.parts)
        if level - 1 > len(base):
            return []
        stems = ["/".join(base[: len(base) - (level - 1)] + parts)]
    else:
        stems = [prefix + "/".join(parts) for prefix in roots.get(parts[0], [])]
    return [c for s in stems for c in (s + ".py", s + "/__init__.py")]


def package_roots(tree_files: set[str]) -> dict[str, list[str]]:
    """First import name -> the folders (as '' or 'a/b/' prefixes) where a package or module of that name lies
    and that are not themselves inside a package (no `__init__.py`): where Python's search path would start
    (the tree root, `src/`), so that `import utils` is not taken for some package's own `utils.py`."""
    roots: dict[str, set[str]] = {}
    for f in tree_files:
        parts = f.split("/")
        for i, part in enumerate(parts):
            prefix = "".join(p + "/" for p in parts[:i])
            if prefix and prefix + "__init__.py" in tree_files:
                continue
            name = part[:-3] if i == len(parts) - 1 and part.endswith(".py") else part
            roots.setdefault(name, set()).add(prefix)
    return {k: sorted(v) for k, v in roots.items()}


def used_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(relative level, dotted target) of every import whose name the file calls or derives a class from,
    sorted: `from .language import LanguageModel` gives (1, "language.LanguageModel"), `import a.b` used as
    `a.b.C(…)` gives (0, "a.b"). `resolve` maps them to files of a tree."""
    used = _used_names(tree)
    out: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) in used and alias.name != "*":
                    # `from . import language` names a module, `from .language import LanguageModel` a name in one
                    out.add((node.level, f"{node.module}.{alias.name}" if node.module else alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) in used:
                    out.add((0, alias.name))
    return sorted(out)


def resolve(rel: str, imports: list[tuple[int, str]], tree_files: set[str],
            roots: dict[str, list[str]] | None = None) -> list[str]:
    """The files of the tree (relative posix paths) that `used_imports` of file `rel` name, sorted; `rel`
    itself is never listed. A dotted target is tried whole (a module) and then without its last part (a
    name defined in a module)."""
    found: set[str] = set()
    if roots is None:  # `package_roots` of the tree; a caller resolving many files computes it once
        roots = package_roots(tree_files) if any(level == 0 for level, _ in imports) else {}
    for level, target in imports:
        parts = target.split(".")
        for module in (parts, parts[:-1]):
            hit = next((c for c in _module_candidates(rel, level, ".".join(module), roots) if c in tree_files), None)
            if hit:
                found.add(hit)
                break
    found.discard(rel)
    return sorted(found)
