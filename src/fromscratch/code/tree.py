"""Judging a candidate tree: every file on its own code first, then the files built from other files of it.

WHY: a port is often split across files, and a file judged alone can only be judged on what it
contains. mlx-vlm's `cohere/cohere.py` is a twenty-line wrapper around `LanguageModel`, imported from
its `language.py`, which is the port; judged alone it shares nothing with transformers' cohere and is
`independent` (docs/code.md, "Ports built from other files"), so a reader sees the port's own file
flagged and its entry point cleared.

Rule `builds_on`. A Python file F that is independent on its own code is adapted from the first
origin of a file G of the same tree when
  - F builds on G: it imports a name from G that it calls or derives a class from (`imports.py`;
    an import used only in an annotation does not count, nor does any import that leaves the tree);
  - G, judged on its own code, is copied or adapted; G's own verdict is used, never one G inherited
    itself (depth one: a chain of wrappers is not followed, and one wrong verdict reaches only the
    files that import it directly);
  - F's informative mass is below T_BUILDS_ON of G's: F is glue around G. A file that carries as
    much model code as what it imports is judged on that code; this is what keeps a flag on one
    helper file from spreading to the large files of an independent project that use the helper.
The origin is reached through G, so F's entry names G (`origin_details[].via`), reports no copied
lines of its own and leaves `attributed` null: F holds none of the origin's code, and G's entry
judges G's notices.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fromscratch.code import imports
from fromscratch.code.lang import SourceFile
from fromscratch.errors import InputError

# F counts as glue around G when its informative mass is below half of G's. Chosen on the third held-out set
# (tuning data from this rule on, docs/code.md (6)): there, the four independent files that build on a flagged
# file carry 0.57 to 1.9 times its mass, and the 72 ports that inherit their right origin 0.23 (median) to 0.47;
# the fourth held-out set was run once before and once after the rule was frozen.
T_BUILDS_ON = 0.5


@dataclass
class Judged:
    """One file's entry and matches as judged on its own code, with what the tree step needs."""

    entry: dict
    matches: list[dict]
    mass: float                       # informative mass of its units (against the first reference index)
    shares: dict[str, float]          # reference file -> share of that mass it explains on its own
    imports: list[tuple[int, str]] = field(default_factory=list)  # `imports.used_imports`


def python_imports(sf: SourceFile) -> list[tuple[int, str]]:
    """The imports a Python file builds on (empty for other languages and for a file `ast` cannot parse)."""
    if not sf.path.endswith((".py", ".pyi")):
        return []
    try:
        return imports.used_imports(ast.parse(sf.text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []


def judge_tree(entries: list[tuple[str, Path]], judge: Callable[[str, Path], Judged], files: list[str] | None,
               progress: Callable[[int], None] | None) -> list[Judged]:
    """Every listed file (or only `files`) judged alone, then the `builds_on` rule (module docstring) applied
    with the verdicts of the files they build on, which are judged too where they were not asked for."""
    paths = dict(entries)
    keep = None if files is None else set(files)
    if keep is not None and (unknown := sorted(keep - set(paths))):
        raise InputError(unknown[0], "not a source file of the candidate tree")
    wanted = [rel for rel, _ in entries if keep is None or rel in keep]
    done: dict[str, Judged] = {}

    def get(rel: str) -> Judged:
        if rel not in done:
            done[rel] = judge(rel, paths[rel])
        return done[rel]

    out = []
    for rel in wanted:
        out.append(get(rel))
        if progress:
            progress(1)
    tree_files = set(paths)
    roots = imports.package_roots(tree_files)
    # decide every file on the others' own verdicts first, then write: depth one, whatever the order
    plans = [(j, [(d, get(d)) for d in imports.resolve(j.entry["file"], j.imports, tree_files, roots)]) for j in out]
    for j, deps in plans:
        _apply(j, deps)
        # a relative import the tree cannot resolve points outside what was given (a file analysed alone): said, so
        # that "builds on nothing" is not read as "built on nothing"
        j.entry["builds_on_outside"] = ["." * level + target for level, target in j.imports
                                        if level and not imports.resolve(j.entry["file"], [(level, target)], tree_files, roots)]
    return out


def _apply(j: Judged, deps: list[tuple[str, Judged]]) -> None:
    j.entry["builds_on"] = [{"file": d, "relation": g.entry["relation"], "origins": g.entry["origins"][:1],
                             "mass_ratio": round(j.mass / g.mass, 6) if g.mass > 0 else None} for d, g in deps]
    if j.entry["relation"] != "independent" or j.mass <= 0:
        return
    glue = sorted(((d, g) for d, g in deps if g.entry["relation"] != "independent" and j.mass < T_BUILDS_ON * g.mass),
                  key=lambda dg: (-dg[1].mass, dg[0]))
    details: list[dict] = []
    for d, g in glue:
        ref = g.entry["origins"][0]
        if any(x["reference_file"] == ref for x in details):
            continue
        details.append({"reference_file": ref, "relation": "adapted", "rules": ["builds_on"], "share": 0.0,
                        "explains": j.shares.get(ref, 0.0), "candidate_lines": [], "reference_lines": [], "via": d})
        j.entry["evidence"].append({
            "kind": "builds_on", "reference_file": ref, "score": round(j.mass / g.mass, 6),
            "detail": f"the file calls or derives from code it imports from {d}, which is {g.entry['relation']} "
                      f"from this reference on its own code; the file's own informative code is "
                      f"{j.mass / g.mass:.0%} of that file's (glue below {T_BUILDS_ON:.0%}) and holds none of the "
                      "reference's code: the origin is reached through the imported file, whose entry gives the "
                      "copied lines and judges attribution"})
    if details:
        j.entry["relation"] = "adapted"
        j.entry["origins"] = [x["reference_file"] for x in details]
        j.entry["origin_details"] = details
        j.entry["attribution"]["attributed"] = None
