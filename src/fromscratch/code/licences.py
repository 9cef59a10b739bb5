"""Licence identification (SPDX ids) and whether an origin's licence may be carried into a project.

WHY separate from attribution: keeping an origin's notice (attribution) and being
allowed to ship its code under the project's licence (compatibility) are
different findings. Apache-2.0 code kept with its notice inside a project released
under MIT only is attributed but still a licence finding: the Apache terms (patent
clause, NOTICE) do not fit in an MIT-only release.

The table is deliberately small and conservative: an origin licence may go into a
project whose licence is the same or one of the licences listed for it (the usual
one-way compatibilities: permissive into copyleft, Apache-2.0 into GPL-3.0,
LGPL into GPL, MPL-2.0 into the GPL family through its secondary-licence clause).
Licences it does not know give `compatible: null` (stated, not guessed).
"""

from __future__ import annotations

import re
from pathlib import Path

# licence names as they appear in headers -> SPDX identifiers (first match wins, so versions come first)
LICENCE_NAMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Apache License\W{0,3}\s*Version 2\.0|Apache-2\.0|Apache 2\.0 License|apache\.org/licenses/LICENSE-2\.0", re.I), "Apache-2.0"),
    (re.compile(r"\bMIT License\b|Permission is hereby granted, free of charge|opensource\.org/licenses/MIT\b", re.I), "MIT"),
    (re.compile(r"GNU Affero General Public License[^.]{0,80}?version 3", re.I | re.S), "AGPL-3.0"),
    (re.compile(r"GNU (?:Lesser|Library) General Public License[^.]{0,80}?version 3", re.I | re.S), "LGPL-3.0"),
    (re.compile(r"GNU (?:Lesser|Library) General Public License[^.]{0,80}?version 2\.1", re.I | re.S), "LGPL-2.1"),
    (re.compile(r"GNU General Public License[^.]{0,80}?version 3", re.I | re.S), "GPL-3.0"),
    (re.compile(r"GNU General Public License[^.]{0,80}?version 2", re.I | re.S), "GPL-2.0"),
    (re.compile(r"BSD 3-Clause|Neither the name of", re.I), "BSD-3-Clause"),
    (re.compile(r"BSD 2-Clause|Redistribution and use in source and binary forms", re.I), "BSD-2-Clause"),
    (re.compile(r"Mozilla Public License,?\s+(?:v\.?\s*|Version\s+)?2\.0", re.I), "MPL-2.0"),
    (re.compile(r"LLAMA 2 COMMUNITY LICENSE", re.I), "LicenseRef-Llama-2"),
    (re.compile(r"LLAMA 3(?:\.\d)? COMMUNITY LICENSE", re.I), "LicenseRef-Llama-3"),
    (re.compile(r"Creative Commons Attribution[^.]{0,40}?4\.0", re.I | re.S), "CC-BY-4.0"),
]

_PERMISSIVE = ("MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Apache-2.0", "MPL-2.0", "LGPL-2.1", "LGPL-3.0",
               "GPL-2.0", "GPL-3.0", "AGPL-3.0")
# origin licence -> project licences that may carry it (besides itself)
COMPATIBLE_INTO: dict[str, tuple[str, ...]] = {
    "MIT": _PERMISSIVE, "ISC": _PERMISSIVE, "BSD-2-Clause": _PERMISSIVE, "BSD-3-Clause": _PERMISSIVE,
    "Apache-2.0": ("Apache-2.0", "MPL-2.0", "LGPL-3.0", "GPL-3.0", "AGPL-3.0"),
    "MPL-2.0": ("MPL-2.0", "LGPL-2.1", "LGPL-3.0", "GPL-2.0", "GPL-3.0", "AGPL-3.0"),
    "LGPL-2.1": ("LGPL-2.1", "LGPL-3.0", "GPL-2.0", "GPL-3.0", "AGPL-3.0"),
    "LGPL-3.0": ("LGPL-3.0", "GPL-3.0", "AGPL-3.0"),
    "GPL-2.0": ("GPL-2.0",),
    "GPL-3.0": ("GPL-3.0", "AGPL-3.0"),
    "AGPL-3.0": ("AGPL-3.0",),
}
_SPDX_ALIASES = {"gpl-2.0-only": "GPL-2.0", "gpl-2.0-or-later": "GPL-2.0", "gpl-3.0-only": "GPL-3.0",
                 "gpl-3.0-or-later": "GPL-3.0", "lgpl-2.1-only": "LGPL-2.1", "lgpl-2.1-or-later": "LGPL-2.1",
                 "lgpl-3.0-only": "LGPL-3.0", "lgpl-3.0-or-later": "LGPL-3.0", "agpl-3.0-only": "AGPL-3.0",
                 "agpl-3.0-or-later": "AGPL-3.0", "bsd-3": "BSD-3-Clause", "apache 2.0": "Apache-2.0"}


def normalise(spdx: str) -> str:
    """A licence id in the table's spelling (case and -only/-or-later suffixes folded)."""
    s = spdx.strip()
    low = s.lower()
    if low in _SPDX_ALIASES:
        return _SPDX_ALIASES[low]
    for known in COMPATIBLE_INTO:
        if low == known.lower():
            return known
    return s


def names_in(text: str) -> list[str]:
    """SPDX ids of the licences a text names in prose (headers, LICENSE files)."""
    out: list[str] = []
    for pat, ident in LICENCE_NAMES:
        if pat.search(text) and ident not in out:
            out.append(ident)
    return out


def compatible(origin: str | None, project: str | None) -> bool | None:
    """May code under `origin` be shipped inside a project under `project`? None when either is unknown."""
    if origin is None or project is None:
        return None
    o, p = normalise(origin), normalise(project)
    if o == p:
        return True
    if o not in COMPATIBLE_INTO:
        return None
    return p in COMPATIBLE_INTO[o]


_LICENCE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "COPYING", "COPYING.txt")
_MAX_LICENCE_BYTES = 1 << 20


def project_licence(root: Path) -> tuple[str | None, str | None]:
    """(SPDX id, file name) of the licence file at the candidate's root; (None, None) without one."""
    if not root.is_dir():
        return None, None
    for name in _LICENCE_FILES:
        p = root / name
        if p.is_file() and not p.is_symlink() and p.stat().st_size <= _MAX_LICENCE_BYTES:
            found = names_in(p.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found[0], name
    return None, None


def check(project: tuple[str | None, str | None], file_licence: str | None,
          origins: list[tuple[str, str | None]]) -> dict:
    """Whether each origin's licence (reference file, SPDX id) may ship under the project's licence, which is the
    one found for the project or else the file's own header; kept apart from attribution, which asks whether
    the notices were kept, not whether the licences agree."""
    proj, source = project
    if proj is None and file_licence is not None:
        proj, source = file_licence, "file header"
    rows = [{"reference_file": name, "licence": lic, "compatible": compatible(lic, proj)} for name, lic in origins]
    return {"project_licence": proj, "project_licence_source": source, "origins": rows,
            "finding": any(r["compatible"] is False for r in rows)}
