"""The one Jinja environment of every HTML report, with the shared number filters.

Reports are evidence: a value missing from the data must fail the render
(``StrictUndefined``), never print as a blank; every value is HTML-escaped
(``autoescape``), since file names, tokens and code come from submissions. Numbers are
formatted by the same filters everywhere, so a p-value reads the same in every report.
"""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup, escape

DASH = "–"


class Figure(float):
    """A number that remembers where in the JSON it came from (an RFC 6901 pointer)."""

    json_pointer: str


class WholeFigure(int):
    json_pointer: str


def _pointer(parent: str, key: Any) -> str:
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def with_pointers(obj: Any, at: str = "") -> Any:
    """A copy of JSON data whose numbers carry their pointer, so the filters below can mark
    every figure they format with ``data-json`` (the report's numbers are checkable against
    the JSON they came from)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, float):
        fig: Any = Figure(obj)
    elif isinstance(obj, int):
        fig = WholeFigure(obj)
    elif isinstance(obj, dict):
        return {k: with_pointers(v, _pointer(at, k)) for k, v in obj.items()}
    elif isinstance(obj, list):
        return [with_pointers(v, _pointer(at, i)) for i, v in enumerate(obj)]
    else:
        return obj
    fig.json_pointer = at
    return fig


def _marked(fmt: Any) -> Any:
    """Wrap a number filter: a figure with a pointer comes out as a span naming it."""

    def filt(x: Any, *args: Any) -> Any:
        text = fmt(x, *args)
        ptr = getattr(x, "json_pointer", None)
        if ptr is None:
            return text
        spec = ",".join([fmt.__name__, *map(str, args)])
        return Markup('<span data-json="{}" data-fmt="{}">{}</span>').format(escape(ptr), spec, text)

    filt.__name__ = fmt.__name__
    return filt


def num(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; integers as they are, booleans as yes/no, None as a dash."""
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)


def pct(x: Any) -> str:
    """A fraction in [0, 1] as a percentage with one decimal."""
    return DASH if x is None else f"{100 * float(x):.1f}%"


def pval(x: Any) -> str:
    """A p-value: three decimals, two significant digits below 0.001, and the float floor shown as such."""
    if x is None:
        return DASH
    x = float(x)
    return "< 1e-300" if x == 0 else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def p3g(x: Any) -> str:
    """A p-value with three significant digits (the audit report's tables)."""
    if x is None:
        return DASH
    x = float(x)
    return "< 1e-300" if x == 0.0 else f"{x:.3g}"


FILTERS = {"num": num, "pct": pct, "pval": pval, "p": p3g}
#: the same filters, marking figures that carry a JSON pointer (see `with_pointers`)
MARKED_FILTERS = {name: _marked(f) for name, f in FILTERS.items()}


def environment(package: str | None = None, folder: str = "templates", *, trim: bool = True,
                keep_trailing_newline: bool = False) -> jinja2.Environment:
    """The environment for ``package``'s templates folder (or for ``from_string`` when None)."""
    loader = jinja2.PackageLoader(package, folder) if package else None
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=trim, lstrip_blocks=trim, keep_trailing_newline=keep_trailing_newline)
    env.filters.update(MARKED_FILTERS)
    return env
