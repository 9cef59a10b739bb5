"""The audit as one self-contained HTML page (inline CSS, no scripts, no network).

The page is rendered from the audit JSON alone, so anyone holding the JSON can
re-create it; each verdict lists its evidence with the JSON pointer into that
file, so a reader can check every claim against the machine-readable record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fromscratch.report.templating import environment


def render_html(audit: dict[str, Any]) -> str:
    env = environment("fromscratch.policy")
    return env.get_template("audit.html.jinja").render(a=audit)


def write_html(audit: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(audit), encoding="utf-8")
