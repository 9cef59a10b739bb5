"""C, C++ and CUDA sources through Pygments' lexers, cut into the same units as Python.

WHY Pygments: kernels are where inference stacks differ and where copied code
hides (a fused RMSNorm, a quantised matmul, a flash-attention kernel). A hand-made
tokenizer for C++ and CUDA would get templates, raw strings and literal suffixes
wrong; Pygments' C, C++ and CUDA lexers are maintained and never refuse input
(odd bytes become error tokens). Nothing is compiled or preprocessed.

Normalisation (the same role as for Python): identifiers become `N` except what a
renamer cannot rename — lexer builtins (`threadIdx`, `blockDim`), compiler
intrinsics (`__syncthreads`, `__shfl_xor_sync`, every `__name`), the CUDA runtime
(`cudaMemcpyAsync`) and the C math library; keywords and type keywords stay;
numbers become `0`, strings and characters `S`; comments, whitespace and
preprocessor directives disappear (so macro bodies are not compared: a stated
blind spot). Punctuation keeps block structure (`{`, `}`, `;`).

Units: every function definition at namespace level (templates included), every
method defined inside a struct/class body (`Class.method`), the rest of each
struct/class body, and the file remainder (declarations, tables, macros'
surroundings). Namespaces and `extern "C"` blocks are looked through.
"""

from __future__ import annotations

import bisect
import re

from pygments.lexers import CLexer, CppLexer, CudaLexer
from pygments.token import Comment, Keyword, Literal, Name, Operator, Punctuation, String

from fromscratch.code.lang import SourceFile, Unit, split_words

_KEEP_NAMES = frozenset(
    "expf exp exp2f logf log log2f sqrtf sqrt rsqrtf rsqrt fabsf fabs fmaxf fminf fmaf tanhf tanh powf floorf ceilf "
    "roundf erff erf sinf cosf min max abs atomicAdd atomicMax atomicMin atomicCAS atomicExch printf memcpy memset "
    "malloc free std size_t static_cast reinterpret_cast const_cast dynamic_cast".split())
_RUNTIME = re.compile(r"^(?:cuda|cublas|hip|nv|ggml_cuda_)[A-Z_]")
_SKIP_NAMES = frozenset({"__launch_bounds__", "__attribute__", "__declspec", "alignas", "decltype", "__align__"})
_ARITH = frozenset("+-*/%&|^<>")
_CLASS_KW = frozenset({"struct", "class", "union"})
_LOOK_THROUGH = frozenset({"namespace", "extern"})


def _lexer_for(path: str):
    low = path.lower()
    if low.endswith((".cu", ".cuh")):
        return CudaLexer()
    if low.endswith(".c"):
        return CLexer()
    return CppLexer()


def _is_kept(name: str) -> bool:
    return name.startswith("__") or name in _KEEP_NAMES or bool(_RUNTIME.match(name))


class _Conditionals:
    """Keeps the first branch of every `#if … #elif/#else … #endif` and drops the others.

    WHY: branches often open a brace each (`#if X` / `if (a) {` / `#else` / `if (b) {` /
    `#endif`); kept together they unbalance the braces and one unit swallows the rest of
    the file. The first branch is what the file says first; the others are alternatives.
    """

    def __init__(self) -> None:
        self.frames: list[bool] = []  # per open #if: is the current branch skipped?

    def directive(self, text: str) -> None:
        word = text.split(None, 1)[0] if text.split() else ""
        if word in ("if", "ifdef", "ifndef"):
            self.frames.append(False)
        elif word in ("elif", "else", "elifdef", "elifndef") and self.frames:
            self.frames[-1] = True
        elif word == "endif" and self.frames:
            self.frames.pop()

    @property
    def skipping(self) -> bool:
        return any(self.frames)


def tokens(path: str, text: str) -> list[tuple[str, str, int, str]]:
    """(masked, raw, line, kind) of every significant token; kind is name/num/str/kw/op."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out: list[tuple[str, str, int, str]] = []
    cond = _Conditionals()
    after_hash = False
    for pos, ttype, value in _lexer_for(path).get_tokens_unprocessed(text):
        v = value.strip()
        if ttype in Comment.Preproc:
            if after_hash and v:
                cond.directive(v)
            after_hash = v == "#" or (after_hash and not v)
            continue
        if not v or ttype in Comment or cond.skipping:
            continue
        line = bisect.bisect_right(starts, pos)
        if ttype in String or ttype in Literal.String:
            if not (out and out[-1][0] == "S"):
                out.append(("S", v, line, "str"))
        elif ttype in Literal.Number:
            out.append(("0", v, line, "num"))
        elif ttype in Name:
            keep = ttype in Name.Builtin or _is_kept(v)
            out.append((v if keep else "N", v, line, "name"))
        elif ttype in Keyword:
            out.append((v, v, line, "kw"))
        elif ttype in Operator or ttype in Punctuation:
            for ch in (v if len(v) > 1 and ttype in Punctuation else [v]):
                if ch in ")]}" and out and out[-1][0] == ",":
                    out.pop()  # trailing commas are formatting
                out.append((ch, ch, line, "op"))
        else:
            out.append(("N", v, line, "name"))  # error tokens: keep the stream aligned
    return out


def _match_brace(toks, i: int, hi: int) -> int:
    depth = 0
    for j in range(i, hi):
        t = toks[j][0]
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth == 0:
                return j
    return hi - 1


def _function_name(header) -> str | None:
    """Name of the function a definition header declares (None: not a function header)."""
    if not header or header[0][0] in _CLASS_KW or header[0][0] == "enum":
        return None
    depth = 0
    for k, t in enumerate(header):
        if t[0] == "=" and depth == 0:
            return None  # an initializer (`auto f = [](...){...}`, `int a[] = {...}`)
        if t[0] == "(":
            if depth == 0 and k > 0 and header[k - 1][3] == "name" and header[k - 1][1] not in _SKIP_NAMES:
                name = header[k - 1][1]
                if k > 2 and header[k - 2][0] == ":" and header[k - 3][0] == ":":
                    name = f"{header[k - 4][1]}::{name}" if k > 3 else name
                return name
            depth += 1
        elif t[0] == ")":
            depth -= 1
    return None


def _class_name(header) -> str | None:
    kw = next((k for k, t in enumerate(header) if t[0] in _CLASS_KW), None)
    if kw is None or any(t[0] == "(" for t in header[kw:]):
        return None
    names = [t[1] for t in header[kw + 1:] if t[3] == "name" and t[1] not in _SKIP_NAMES]
    return names[0] if names else "<anonymous>"


class _Cutter:
    """Assigns every token to a unit by walking the brace structure once."""

    def __init__(self, toks) -> None:
        self.toks = toks
        self.owner = [0] * len(toks)
        self.units = [Unit(name="<module>", kind="module", start=1, end=1)]

    def _new(self, name: str, kind: str, a: int, b: int) -> int:
        self.units.append(Unit(name=name, kind=kind, start=self.toks[a][2], end=self.toks[b][2]))
        idx = len(self.units) - 1
        for j in range(a, b + 1):
            self.owner[j] = idx
        return idx

    def cut(self, lo: int, hi: int, cls: str | None = None, cls_unit: int = 0) -> None:
        toks, i, stmt = self.toks, lo, lo
        while i < hi:
            t = toks[i][0]
            if t in (";", "}") or (cls is not None and t == ":" and i > lo and toks[i - 1][0] in ("public", "private", "protected")):
                stmt = i + 1
            elif t == "{":
                j = _match_brace(toks, i, hi)
                header = toks[stmt:i]
                first = header[0][0] if header else ""
                fname = _function_name(header)
                cname = _class_name(header) if fname is None else None
                if first in _LOOK_THROUGH and fname is None:
                    self.cut(i + 1, j, cls, cls_unit)
                elif fname is not None:
                    kind, name = ("method", f"{cls}.{fname}") if cls else ("function", fname)
                    self._new(name, kind, stmt, j)
                elif cname is not None:
                    qual = f"{cls}.{cname}" if cls else cname
                    u = self._new(qual, "class", stmt, j)
                    self.cut(i + 1, j, qual, u)
                i, stmt = j + 1, j + 1
                continue
            i += 1


def _structure(toks) -> tuple[list[str], list[str]]:
    """Identifier and structure features of one unit's tokens (calls, operator skeletons, statement shape)."""
    idents: list[str] = []
    calls: list[str] = []
    arith: list[str] = []
    stmts: list[str] = []
    cur: list[str] = []
    start_of_stmt = True
    in_body = False  # the definition's own name and parameters are not calls
    for k, (masked, raw, _, kind) in enumerate(toks):
        in_body = in_body or masked == "{"
        if kind == "name" and masked == "N":
            idents.append("i:" + raw.lower())
            idents.extend("w:" + w for w in split_words(raw))
        if in_body and kind == "name" and k + 1 < len(toks) and toks[k + 1][0] == "(":
            calls.append(raw.lower())
        if start_of_stmt and masked not in ("{", "}", ";"):
            stmts.append(masked if kind == "kw" else "expr")
            start_of_stmt = False
        if masked in (";", "{", "}"):
            if sum(c in _ARITH for c in cur) >= 2:
                arith.append("".join(cur))
            cur = []
            start_of_stmt = True
        elif kind in ("name", "num", "str") and masked == "N" or kind in ("num", "str"):
            if not cur or cur[-1] != "v":
                cur.append("v")
        elif kind == "op" and masked in _ARITH | {"(", ")", "[", "]"}:
            cur.append(masked)
        elif kind == "name":
            cur.append(raw.lower() + "()" if k + 1 < len(toks) and toks[k + 1][0] == "(" else "v")
    feats = [f"c{n}:" + ">".join(calls[i:i + n]) for n in (1, 2, 3) for i in range(len(calls) - n + 1)]
    feats += ["a:" + s for s in arith]
    feats += ["s3:" + ">".join(stmts[i:i + 3]) for i in range(len(stmts) - 2)]
    return idents, feats


class CLanguage:
    """C, C++ and CUDA through Pygments (see module docstring)."""

    name = "c/c++/cuda"
    suffixes = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cu", ".cuh", ".inl")

    def parse(self, path: str, text: str) -> SourceFile:
        toks = tokens(path, text)
        cutter = _Cutter(toks)
        cutter.cut(0, len(toks))
        units = cutter.units
        units[0].end = max(1, text.count("\n") + 1)
        per_unit: list[list] = [[] for _ in units]
        for k, t in enumerate(toks):
            per_unit[cutter.owner[k]].append(t)
        for u, ts in zip(units, per_unit):
            u.masked = [t[0] for t in ts]
            u.raw = [t[1] for t in ts]
            u.idents, u.struct = _structure(ts)
        units[0].lines = [t[2] for t in per_unit[0]]
        return SourceFile(path=path, text=text, units=[u for u in units if u.masked])
