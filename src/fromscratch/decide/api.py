"""Public API of the decision engine.

    from fromscratch.decide.api import decide, seal, verify_decision_bundle
"""

from __future__ import annotations

from typing import Any

from fromscratch.decide.engine import decide_from_files as decide
from fromscratch.decide.protocol import seal
from fromscratch.decide.verify import verify_decision_bundle

__all__ = ["decide", "seal", "verify_decision_bundle", "render_html"]


def render_html(decision: dict[str, Any]) -> str:
    """The self-contained HTML report of a decision dict (numbers only from the dict)."""
    from fromscratch.decide.report import render

    return render(decision)
