"""Source languages: turn one file's text into comparable units.

WHY an interface: Python model code is the first target, but reused inference code
also lives in C++/CUDA kernels. Everything downstream (fingerprints, index,
scoring) only sees `Unit`s — a name, a line span and three feature channels — so a
new language needs only a `Language` that produces them from its own parser.

The Python implementation uses the standard library's `tokenize` (the interpreter's
own lexer) and `ast` (its own parser); submitted files are parsed, never imported or
executed.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import token as tok
import tokenize
from dataclasses import dataclass, field
from typing import Protocol

from fromscratch.code.interface import interface_names
from fromscratch.code.pytokens import LexError, lex


@dataclass
class Unit:
    """One function, method, class body (without its methods) or module remainder.

    `masked` is the normalised token stream (identifiers and literals replaced by
    their class, comments/docstrings/formatting gone) used for token fingerprints;
    `raw` is the same stream with the original spellings, used to tell a verbatim
    copy from a renamed one. `idents` and `struct` are the identifier and structure
    channels (see `PythonLanguage`).
    """

    name: str
    kind: str  # "function" | "method" | "class" | "module"
    start: int
    end: int
    masked: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    idents: list[str] = field(default_factory=list)
    struct: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # module remainder only: the lines its tokens are on


@dataclass
class SourceFile:
    """A parsed candidate or reference file."""

    path: str
    text: str
    units: list[Unit]
    note: str | None = None  # set when the parser fell back (e.g. a syntax error)
    interface: list[str] = field(default_factory=list)  # checkpoint/config names (`interface.py`); Python only


class Language(Protocol):
    """What a language plugs in: which files it reads and how it cuts them into units."""

    name: str
    suffixes: tuple[str, ...]

    def parse(self, path: str, text: str) -> SourceFile: ...


_BUILTINS = frozenset(dir(builtins))
_KEYWORDS = frozenset(keyword.kwlist)
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{1,47}$")
_SPLIT_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_CLOSERS = {")", "]", "}"}
# Triton and its math library: `tl.load`, `tl.dot`, `libdevice.rsqrt` are the kernel's operations, which a
# renamer cannot rename; they stay spelled out in the token stream (other attribute names are masked)
_KERNEL_NAMESPACES = frozenset({"tl", "triton", "libdevice"})


def split_words(identifier: str) -> list[str]:
    """Sub-words of an identifier (`LlamaRMSNorm` -> llama, rms, norm)."""
    return [w.lower() for w in _SPLIT_RE.findall(identifier)]


def _std_lex(text: str) -> list[tuple[str, str, int]]:
    """The standard library tokenizer mapped onto the fast lexer's token kinds (fallback)."""
    out: list[tuple[str, str, int]] = []
    kinds = {tok.NAME: "name", tok.NUMBER: "num", tok.STRING: "str", tok.OP: "op",
             tok.NEWLINE: "NEWLINE", tok.INDENT: "INDENT", tok.DEDENT: "DEDENT"}
    for t in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = kinds.get(t.type)
        if kind is None:
            if "FSTRING_START" == tok.tok_name.get(t.type):
                out.append(("str", t.string, t.start[0]))
            continue
        out.append((kind, t.string, t.start[0]))
    return out


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(masked, raw, line) for every significant token, docstrings and comments removed.

    Normalisation choices and why: identifiers -> "N" (renaming is the first thing a
    copier does) except keywords, builtins and `self`, which a renamer leaves alone;
    numbers -> "0", strings -> "S"; grouping parentheses dropped (not call ones); NEWLINE/INDENT/DEDENT kept as ";", "{", "}" so
    block structure counts but line wrapping does not; a trailing comma before a
    closing bracket is dropped (formatters add and remove it); a string that forms a
    whole statement (docstring) is dropped.
    """
    try:
        stream = lex(text)
    except LexError:
        stream = _std_lex(text)
    out: list[tuple[str, str, int]] = []
    pending: tuple[str, str, int] | None = None  # a string at statement start
    at_stmt_start = True
    parens: list[bool] = []  # for each open "(": is it a grouping parenthesis?
    for kind, s, line in stream:
        if pending is not None:
            if kind == "NEWLINE":  # bare string statement: a docstring, drop it
                pending = None
                at_stmt_start = True
                continue
            if kind == "str":  # implicit concatenation: still one string
                continue
            out.append(pending)
            pending = None
        if kind == "str":
            if at_stmt_start:
                pending = ("S", s, line)
                at_stmt_start = False
            elif not (out and out[-1][0] == "S"):
                out.append(("S", s, line))
            continue
        if kind == "NEWLINE":
            out.append((";", ";", line))
            at_stmt_start = True
        elif kind == "INDENT":
            out.append(("{", "{", line))
            at_stmt_start = True
        elif kind == "DEDENT":
            out.append(("}", "}", line))
            at_stmt_start = True
        else:
            at_stmt_start = False
            if kind == "name":
                kernel_op = s in _KERNEL_NAMESPACES or (len(out) >= 2 and out[-1][0] == "."
                                                        and out[-2][1] in _KERNEL_NAMESPACES)
                if s in _KEYWORDS or s in _BUILTINS or s == "self" or kernel_op:
                    out.append((s, s, line))
                else:
                    out.append(("N", s, line))
            elif kind == "num":
                out.append(("0", s, line))
            else:
                if s in _CLOSERS and out and out[-1][0] == ",":
                    out.pop()
                if s == "(":
                    # grouping/tuple parentheses are formatting (formatters add and drop
                    # them); call and definition parentheses follow a name or a bracket
                    prev = out[-1][0] if out else ""
                    grouping = not (prev == "N" or prev in (")", "]", "self") or prev in _BUILTINS)
                    parens.append(grouping)
                    if grouping:
                        continue
                elif s == ")" and parens:
                    if parens.pop():
                        continue
                out.append((s, s, line))
    if pending is not None:
        out.append(pending)
    return out


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return "<call>"


def _skeleton(node: ast.expr, depth: int = 0) -> str:
    """Arithmetic skeleton of an expression: operators and calls kept, operands masked."""
    if depth > 12:
        return "…"
    if isinstance(node, ast.BinOp):
        return f"({_skeleton(node.left, depth + 1)}{type(node.op).__name__}{_skeleton(node.right, depth + 1)})"
    if isinstance(node, ast.UnaryOp):
        return f"{type(node.op).__name__}{_skeleton(node.operand, depth + 1)}"
    if isinstance(node, ast.Call):
        return f"{_call_name(node.func).lower()}()"
    if isinstance(node, ast.Constant):
        return "n" if isinstance(node.value, (int, float, complex)) else "c"
    if isinstance(node, ast.Subscript):
        return "v[]"
    return "v"


class _Features(ast.NodeVisitor):
    """Collects the identifier and structure channels of one unit, in source order.

    Structure = what survives a port between frameworks: the sequence of called
    operations (n-grams of callee names such as view/transpose/matmul/softmax),
    arithmetic skeletons (operators over masked operands, e.g. the RMSNorm
    `x * rsqrt(mean(x^2) + eps)` shape) and the control-flow shape (n-grams of
    statement kinds). Identifiers = every name, attribute, argument and keyword
    name (the model's attribute vocabulary q_proj/rotary_emb/experts and the config
    keys it reads), whole and split into sub-words.
    """

    def __init__(self, skip: set[int]) -> None:
        self.skip = skip  # ids of nested unit nodes (methods) handled as their own units
        self.calls: list[str] = []
        self.arith: list[str] = []
        self.stmts: list[str] = []
        self.idents: list[str] = []

    def visit(self, node: ast.AST) -> None:  # noqa: D102 - NodeVisitor protocol
        if id(node) in self.skip:
            return
        if isinstance(node, ast.stmt):
            self.stmts.append(type(node).__name__)
        super().visit(node)

    def _ident(self, name: str) -> None:
        if not name or name == "self":
            return
        self.idents.append("i:" + name.lower())
        for w in split_words(name):
            self.idents.append("w:" + w)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in _BUILTINS:
            self._ident(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._ident(node.attr)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._ident(node.arg)
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg:
            self._ident(node.arg)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._ident(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._ident(node.name)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _IDENT_RE.match(node.value):
            self._ident(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        self.calls.append(_call_name(node.func).lower())
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.arith.append(_skeleton(node))
        # nested BinOps are part of this skeleton; still visit operands for calls/names
        self._visit_operands(node)

    def _visit_operands(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.BinOp):
                self._visit_operands(child)
            else:
                self.visit(child)

    def struct(self) -> list[str]:
        feats: list[str] = []
        c = self.calls
        for n in (1, 2, 3):
            feats.extend(f"c{n}:" + ">".join(c[i:i + n]) for i in range(len(c) - n + 1))
        feats.extend("a:" + s for s in self.arith)
        s = self.stmts
        feats.extend("s3:" + ">".join(s[i:i + 3]) for i in range(len(s) - 2))
        return feats


_DEF = (ast.FunctionDef, ast.AsyncFunctionDef)


class PythonLanguage:
    """Python through the standard library's tokenizer and parser."""

    name = "python"
    suffixes = (".py", ".pyi")

    def parse(self, path: str, text: str) -> SourceFile:
        """Cut a file into units; a file `ast` cannot parse becomes one module unit."""
        toks = _tokens(text)  # raises tokenize.TokenError / SyntaxError on garbage
        note = None
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            tree = None
            note = f"not parsable as Python ({type(exc).__name__}); compared as one token stream"
        nlines = text.count("\n") + 2
        owner = [0] * (nlines + 1)  # line -> unit index (0 = module remainder)
        units = [Unit(name="<module>", kind="module", start=1, end=max(1, nlines - 1))]
        specs: list[tuple[Unit, list[ast.AST], set[int]]] = []
        if tree is not None:
            top_skip: set[int] = set()
            module_nodes: list[ast.AST] = []
            for node in tree.body:
                if isinstance(node, _DEF):
                    top_skip.add(id(node))
                    specs.append((self._span_unit(node, node.name, "function", owner, len(units) + len(specs)), [node], set()))
                elif isinstance(node, ast.ClassDef):
                    top_skip.add(id(node))
                    cls_idx = len(units) + len(specs)
                    cls_unit = self._span_unit(node, node.name, "class", owner, cls_idx)
                    skip: set[int] = set()
                    cls_spec = (cls_unit, [node], skip)
                    specs.append(cls_spec)
                    for sub in node.body:
                        if isinstance(sub, _DEF):
                            skip.add(id(sub))
                            specs.append((self._span_unit(sub, f"{node.name}.{sub.name}", "method", owner,
                                                          len(units) + len(specs)), [sub], set()))
                else:
                    module_nodes.append(node)
            specs.insert(0, (units[0], module_nodes, top_skip))
            units = [s[0] for s in specs]
        last = 0
        for masked, raw, line in toks:
            # a DEDENT closes the block before it: it belongs to that unit, not the next one
            idx = last if masked == "}" else (owner[line] if line < len(owner) else 0)
            last = idx
            u = units[idx]
            u.masked.append(masked)
            u.raw.append(raw)
            if idx == 0:
                u.lines.append(line)
        for u in units:  # block ends carry no content; how many close depends on what follows
            while u.masked and u.masked[-1] == "}":
                u.masked.pop()
                u.raw.pop()
        for unit, nodes, skip in specs:
            fv = _Features(skip)
            for n in nodes:
                fv.visit(n)
            unit.idents = fv.idents
            unit.struct = fv.struct()
        units = [u for u in units if u.masked]
        return SourceFile(path=path, text=text, units=units, note=note,
                          interface=interface_names(tree) if tree is not None else [])

    @staticmethod
    def _span_unit(node: ast.AST, name: str, kind: str, owner: list[int], index: int) -> Unit:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        for line in range(start, min(end, len(owner) - 1) + 1):
            owner[line] = index
        return Unit(name=name, kind=kind, start=start, end=end)


def _languages() -> tuple[Language, ...]:
    from fromscratch.code.lang_c import CLanguage  # imports this module's Unit/SourceFile

    return (PythonLanguage(), CLanguage())


_LANGS: list[Language] = []


def language_for(path: str) -> Language | None:
    """The language that reads this file name, or None (the file is not source we compare)."""
    if not _LANGS:
        _LANGS.extend(_languages())
    lower = path.lower()
    for lang in _LANGS:
        if lower.endswith(lang.suffixes):
            return lang
    return None
