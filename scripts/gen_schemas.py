"""Write docs/schemas/*.json from the typed result models (fromscratch.schemas).

    python scripts/gen_schemas.py          # rewrite the committed schemas
    python scripts/gen_schemas.py --check  # exit 1 when a committed schema is stale

tests/test_schemas.py runs the check, so a model changed without regenerating fails CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fromscratch.schemas import json_schemas

OUT = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def stale(out: Path = OUT) -> list[str]:
    """Names of schema files that are missing, different or no longer generated."""
    want = json_schemas()
    have = {p.name for p in out.glob("*.json")}
    bad = [n for n, text in want.items() if not (out / n).is_file() or (out / n).read_text(encoding="utf-8") != text]
    return sorted(bad + [n for n in have - set(want)])


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        for name in bad:
            print(f"stale: docs/schemas/{name} (run python scripts/gen_schemas.py)", file=sys.stderr)
        return 1 if bad else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for name, text in json_schemas().items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(json_schemas())} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
