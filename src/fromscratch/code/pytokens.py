"""A fast Python lexer for normalised token streams.

WHY not only `tokenize`: on Python 3.11 the standard tokenizer is pure Python and
costs about 4 µs per byte; a whole transformers release is ~40 MB. This lexer is a
single compiled regular expression plus an indentation stack, producing the same
token classes the normaliser needs (names, numbers, strings, operators, NEWLINE,
INDENT, DEDENT; comments and blank lines dropped). Files it cannot lex (an
unterminated string, inconsistent dedent) fall back to `tokenize`, and every file
is also parsed by `ast`, so the lexer never decides what is valid Python.
"""

from __future__ import annotations

import re

_STR = r"""(?:[rRbBuUfF]{0,2})(?:'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
_NUM = r"(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?)"
_OPS = r"(?:\*\*=|//=|>>=|<<=|\.\.\.|->|:=|[+\-*/%&|^@]=|[=!<>]=|\*\*|//|<<|>>|[+\-*/%&|^~<>=@.,:;()\[\]{}!])"
_MASTER = re.compile(
    rf"(?P<ws>[ \t\f]+)|(?P<cont>\\\r?\n)|(?P<nl>\r?\n)|(?P<com>#[^\r\n]*)|(?P<str>{_STR})|(?P<name>[^\W\d]\w*)|(?P<num>{_NUM})|(?P<op>{_OPS})",
    re.S,
)
_OPEN = {"(", "[", "{"}
_CLOSE = {")", "]", "}"}


class LexError(ValueError):
    """The fast lexer gave up; the caller falls back to the standard tokenizer."""


def lex(text: str) -> list[tuple[str, str, int]]:
    """(kind, string, line) with kind in name/num/str/op/NEWLINE/INDENT/DEDENT."""
    out: list[tuple[str, str, int]] = []
    pos, n, line, depth = 0, len(text), 1, 0
    indents = [0]
    at_line_start = True
    match = _MASTER.match
    while pos < n:
        if at_line_start and depth == 0:
            # measure indentation of a logical line; skip blank and comment-only lines
            j = pos
            col = 0
            while j < n and text[j] in " \t\f":
                col = (col // 8 + 1) * 8 if text[j] == "\t" else col + 1
                j += 1
            if j >= n:
                break
            ch = text[j]
            if ch in "\r\n" or ch == "#":
                k = text.find("\n", j)
                if k < 0:
                    break
                pos = k + 1
                line += 1
                continue
            if ch == "\\" and text.startswith("\n", j + 1):
                pos = j + 2
                line += 1
                continue
            if col > indents[-1]:
                indents.append(col)
                out.append(("INDENT", "", line))
            else:
                while col < indents[-1]:
                    indents.pop()
                    out.append(("DEDENT", "", line))
                if col != indents[-1]:
                    raise LexError(f"inconsistent dedent at line {line}")
            pos = j
            at_line_start = False
        m = match(text, pos)
        if m is None:
            raise LexError(f"cannot lex at line {line}")
        kind = m.lastgroup
        s = m.group()
        pos = m.end()
        if kind == "ws" or kind == "com":
            continue
        if kind == "cont":
            line += 1
            continue
        if kind == "nl":
            if depth == 0:
                if out and out[-1][0] not in ("NEWLINE", "INDENT", "DEDENT"):
                    out.append(("NEWLINE", "", line))
                at_line_start = True
            line += 1
            continue
        if kind == "op":
            if s in _OPEN:
                depth += 1
            elif s in _CLOSE:
                depth = max(0, depth - 1)
        out.append((kind, s, line))
        if kind == "str":
            line += s.count("\n")
    if out and out[-1][0] not in ("NEWLINE", "INDENT", "DEDENT"):
        out.append(("NEWLINE", "", line))
    while len(indents) > 1:
        indents.pop()
        out.append(("DEDENT", "", line))
    return out
