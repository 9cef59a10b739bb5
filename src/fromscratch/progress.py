"""The one progress display: a rich bar on stderr on a terminal, nothing otherwise.

Long work (fingerprinting, bootstrap resamples, code indexing, benchmark items) reports
through an ``advance(n)`` callback, so library functions never know whether a bar is shown.
Output piped to a file or read by a program stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Advance = Callable[[int], None]


def interactive() -> bool:
    """True when progress should be drawn: stdout and stderr are both a terminal (a result
    piped to another program, or a log captured to a file, gets no bar)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class Bars:
    """Several bars in one display (e.g. one per model fingerprinted in parallel)."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress

    def task(self, label: str, total: int, completed: int = 0) -> Advance:
        """A new bar; returns its ``advance(n)``."""
        task = self._progress.add_task(label, total=total, completed=completed)
        return lambda n=1: self._progress.advance(task, n)


@contextmanager
def progress_bars(enabled: bool | None = None) -> Iterator[Bars | None]:
    """A display for bars, or None when not ``enabled`` (default: `interactive`)."""
    if not (interactive() if enabled is None else enabled):
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(transient=True, console=Console(stderr=True))
    progress.start()
    try:
        yield Bars(progress)
    finally:
        progress.stop()


@contextmanager
def progress_bar(label: str, total: int, *, completed: int = 0,
                 enabled: bool | None = None) -> Iterator[Advance | None]:
    """One bar: yields its ``advance(n)``, or None when no bar is drawn."""
    with progress_bars(enabled) as bars:
        yield None if bars is None else bars.task(label, total, completed)
