"""The one TOML reader: policies, declarations, reference registries, protocols, round files.

Every TOML file the package reads is untrusted (a team's declaration, a round file
someone mailed in), so it is read here and only here: one size cap
(`MAX_TOML_BYTES`), UTF-8 only, and one error path. A syntax error, bad UTF-8, an
oversized file or nesting deep enough to exhaust Python's recursion limit (the
standard library's parser recurses per ``[`` or ``{``) is an `InputError`: one line
on stderr, exit 2, never a traceback. What the parsed tables must contain is the
caller's business (each validates them with its own pydantic model).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from fromscratch.artifacts._io import read_capped
from fromscratch.errors import InputError

#: No configuration file the package reads comes near this; a larger one is refused unread.
MAX_TOML_BYTES = 1_000_000


def parse_toml(text: str | bytes, source: str | Path | None, *, limit: int = MAX_TOML_BYTES) -> dict[str, Any]:
    """Parse TOML text (or UTF-8 bytes) already in memory; ``source`` names it in errors."""
    if len(text) > limit:
        raise InputError(source, f"TOML larger than {limit} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(source, f"TOML is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML ({exc})") from None
    except RecursionError:
        raise InputError(source, "not valid TOML (arrays or tables nested too deeply)") from None


def load_toml(path: str | Path, *, what: str = "TOML file", limit: int = MAX_TOML_BYTES) -> dict[str, Any]:
    """Read and parse one TOML file; ``what`` names it in the error line ("protocol file", ...)."""
    p = Path(path)
    return parse_toml(read_capped(p, limit, what), p, limit=limit)
