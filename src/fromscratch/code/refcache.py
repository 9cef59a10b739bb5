"""Reference files re-read on demand while one `analyse` call explains its verdicts.

WHY: the index keeps only features and texts; evidence, line-level matches and notices need a reference
file parsed again, and the same few references come up for many candidate files, so each is parsed once.
"""

from __future__ import annotations

from fromscratch.code import attribution as attr
from fromscratch.code.index import Index
from fromscratch.code.lang import PythonLanguage, SourceFile, language_for


class RefCache:
    """Reference files re-parsed on demand (for evidence and line-level matches only)."""

    def __init__(self, specific_share: float) -> None:
        self._specific_share = specific_share
        self._parsed: dict[tuple[int, int], SourceFile] = {}
        self._notices: dict[tuple[int, int], attr.Notices] = {}

    def parsed(self, index: Index, fid: int) -> SourceFile:
        key = (id(index), fid)
        if key not in self._parsed:
            lang = language_for(index.files[fid]) or PythonLanguage()
            self._parsed[key] = lang.parse(index.files[fid], index.texts[fid])
        return self._parsed[key]

    def notices(self, index: Index, fid: int) -> attr.Notices:
        key = (id(index), fid)
        if key not in self._notices:
            self._notices[key] = attr.extract(index.texts[fid])
        return self._notices[key]

    def specific_holders(self, index: Index, fid: int) -> set[str]:
        """The file's copyright holders that few reference files share (`attribution.specific_holders`)."""
        key = (id(index), self._specific_share)
        hit = _HOLDERS.get(key)
        if hit is None or hit[0] is not index.files:
            hit = (index.files, attr.specific_holders(index.texts, self._specific_share))
            _HOLDERS[key] = hit
        return hit[1][fid]


# specific holders per reference file, computed once per index and share (a corpus scan); keyed by id(index) and
# checked against the index's own `files` list, which the entry keeps alive, so a recycled id never
# returns another index's table
_HOLDERS: dict[tuple[int, float], tuple[list[str], list[set[str]]]] = {}
