"""Answer normalisation that is fair to Korean.

Korean text arrives in two Unicode shapes (precomposed syllables, NFC, and
decomposed jamo, NFD) that look identical on screen; a model that emits NFD
must not lose points for it. Whitespace differs between tokenizers (leading
spaces, full-width spaces, non-breaking spaces), and lm-evaluation-harness's
default exact match does not strip it (" 서울" != "서울"). Everything compared
here goes through `normalise` first.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+", re.UNICODE)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?")


def normalise(text: str, *, casefold: bool = True, strip_punct: str = ".。!?") -> str:
    """NFC, collapse every run of whitespace (incl. U+3000, U+00A0) to one space,
    strip the ends and trailing sentence punctuation, optionally casefold."""
    text = unicodedata.normalize("NFC", str(text))
    text = _SPACE.sub(" ", text).strip()
    text = text.rstrip(strip_punct).strip()
    return text.casefold() if casefold else text


def parse_number(text: str) -> float | None:
    """The last number in a free-form answer ("답: 1,250원" -> 1250.0), or None.

    The last one, because models tend to restate the question before answering.
    Fractions "3/4" are evaluated; thousands separators are dropped.
    """
    text = unicodedata.normalize("NFKC", str(text))
    found = _NUMBER.findall(text)
    if not found:
        return None
    token = found[-1].replace(",", "")
    try:
        if "/" in token:
            num, den = token.split("/", 1)
            return float(num) / float(den) if float(den) != 0 else None
        return float(token)
    except ValueError:
        return None
