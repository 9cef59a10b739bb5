"""Typed errors shared by every stage.

The command line turns `InputError` into exit code 2 and one line on stderr, so
every reader and validator raises it (never a bare exception) for anything a
submission or a user got wrong. Anything else escaping a command is a bug (exit 1).
"""

from __future__ import annotations

from pathlib import Path


class FromScratchError(Exception):
    """Base class of the project's own errors."""


class InputError(FromScratchError):
    """Bad input: unreadable, corrupt, malicious, unsupported or missing.

    `path` names the file (or option) at fault so the single stderr line is
    actionable without a traceback.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = " ".join(self.problem.split())
        return f"{self.path}: {text}" if self.path else text


class UnsafeInputError(InputError):
    """The input tried to do something dangerous (code execution, path traversal)."""


class VerificationError(FromScratchError):
    """A sealed or signed artefact no longer matches (exit code 4 for `verify`)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class MissingExtraError(FromScratchError):
    """An optional dependency is needed for this feature but not installed."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"this feature needs the optional package '{module}': "
            f'pip install "fromscratch[{extra}]"'
        )


def require(module: str, extra: str):
    """Import an optional heavy dependency lazily, with an install hint if absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(module, extra) from exc
