"""Public API of the decision engine (interface 6 of the working agreement).

    from fromscratch.decide.api import decide, seal, verify_decision_bundle
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.decide.engine import decide_from_files
from fromscratch.decide.protocol import seal
from fromscratch.decide.verify import verify_decision_bundle

__all__ = ["decide", "seal", "verify_decision_bundle", "render_html"]


def decide(
    protocol_path: str | Path,
    results_path: str | Path,
    human_path: str | Path | None = None,
    *,
    resamples: int | None = None,
    seal_path: str | Path | None = None,
    verdicts_path: str | Path | None = None,
    progress=None,
) -> dict[str, Any]:
    """The `fromscratch.decision/1` object for a protocol and its result tables.

    `resamples` defaults to the protocol's `resamples` (10,000). With `seal_path`, a
    protocol whose canonical hash differs from the seal is refused (InputError).
    `verdicts_path`: JSON object team -> policy verdict (or audit object with 'verdict'),
    overriding the protocol's [originality.verdicts].
    """
    return decide_from_files(protocol_path, results_path, human_path, resamples=resamples,
                             seal_path=seal_path, verdicts_path=verdicts_path, progress=progress)


def render_html(decision: dict[str, Any]) -> str:
    """The self-contained HTML report of a decision dict (numbers only from the dict)."""
    from fromscratch.decide.report import render

    return render(decision)
