"""What a copier does to hide a copied C/C++/CUDA file, as a deterministic transformer (test utility).

`disguise_c(path, text, seed)` drops comments, renames every identifier the file
declares (functions, types, parameters, variables — not library calls, CUDA
builtins or names it only uses), moves top-level function definitions into a
shuffled order, and reflows the layout (every run of whitespace becomes one space
or one line break; one statement per line, no indentation). Preprocessor lines are
kept on their own lines. The result is never compiled.
"""

from __future__ import annotations

import random

from pygments.token import Comment, Keyword, Name, Text

from fromscratch.code.lang_c import _is_kept, _lexer_for

_DECL_AFTER = {"*", "&", ">", "struct", "class", "enum", "union", "typedef"}


def _significant(toks):
    return [i for i, (t, v) in enumerate(toks) if v.strip() and t not in Text and t not in Comment]


def _declared(toks) -> set[str]:
    """Names the file declares: a name right after a type (keyword type, another name, `*`, `&`, `>`)."""
    sig = _significant(toks)
    out: set[str] = set()
    for a, b in zip(sig, sig[1:]):
        (ta, va), (tb, vb) = toks[a], toks[b]
        if tb in Name and tb not in Name.Builtin and not _is_kept(vb.strip()):
            prev_is_type = ta in Keyword.Type or va.strip() in _DECL_AFTER or (ta in Name and ta not in Name.Builtin)
            if prev_is_type:
                out.add(vb.strip())
    return out


def _chunks(toks) -> list[tuple[bool, list]]:
    """Top-level pieces: (is a function definition, tokens)."""
    out, cur, depth, header_paren = [], [], 0, False
    for t, v in toks:
        cur.append((t, v))
        s = v.strip()
        if depth == 0 and s == "(":
            header_paren = True
        if s == "{":
            depth += 1
        elif s == "}":
            depth -= 1
            if depth == 0:
                out.append((header_paren, cur))
                cur, header_paren = [], False
        elif s == ";" and depth == 0:
            out.append((False, cur))
            cur, header_paren = [], False
    if cur:
        out.append((False, cur))
    return out


def disguise_c(path: str, text: str, seed: int = 0) -> str:
    rng = random.Random(seed)
    # a dropped comment leaves its line break (a `#endif // note` must stay a line of its own)
    toks = [(Text, "\n" if "\n" in v else " ") if t in Comment and t not in Comment.Preproc
            and t not in Comment.PreprocFile else (t, v) for t, v in _lexer_for(path).get_tokens(text)]
    names = sorted(_declared(toks))
    order = list(range(len(names)))
    rng.shuffle(order)
    mapping = {n: (f"K{i}x" if n[:1].isupper() else f"v{i}_") for i, n in zip(order, names)}
    renamed, prev = [], ""
    for t, v in toks:
        member = prev in (".", "->")  # a member access (`threadIdx.x`, `p->next`) keeps its field name
        renamed.append((t, mapping.get(v.strip(), v) if t in Name and not member else v))
        if v.strip():
            prev = v.strip()
    toks = renamed
    chunks = _chunks(toks)
    fn = [i for i, (is_fn, _) in enumerate(chunks) if is_fn]
    moved = [chunks[i] for i in fn]
    rng.shuffle(moved)
    for i, c in zip(fn, moved):
        chunks[i] = c
    out: list[str] = []
    for _, piece in chunks:
        for t, v in piece:
            if t in Comment.Preproc or t in Comment.PreprocFile:
                if v.startswith("#") and out and not out[-1].endswith("\n"):
                    out.append("\n")
                out.append(v)
                continue
            if not v.strip():
                out.append("\n" if "\n" in v and out and out[-1].rstrip(" ").endswith(("\n",)) is False
                           and _after_preproc(out) else " ")
                continue
            out.append(v)
            if v.strip() in (";", "{", "}"):
                out.append("\n")
    return "".join(out).replace(" \n", "\n") + "\n"


def _after_preproc(out: list[str]) -> bool:
    """A line break must survive after a preprocessor directive."""
    line = "".join(out[-40:]).rsplit("\n", 1)[-1]
    return line.lstrip().startswith("#")
