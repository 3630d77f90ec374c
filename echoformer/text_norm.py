"""Text normalisation shared by both tasks: parallel text, and English as the ASR emits it."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_NOT_LETTER_OR_APOSTROPHE = re.compile(r"[^\w']|[\d_]")
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize_text(text: str) -> str:
    """Unicode NFC, whitespace runs (tabs, no-break spaces…) collapsed to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def asr_style_english(text: str) -> str:
    """English the way the ASR writes it: lower case, letters and apostrophes, single spaces.

    ``"Don’t e-mail me, Tom!"`` → ``"don't e mail me tom"``. Digits are dropped like any other
    non-letter, so callers wanting faithful copies should skip text with digits.
    """
    text = normalize_text(text).lower().translate(_APOSTROPHES)
    text = _NOT_LETTER_OR_APOSTROPHE.sub(" ", text)
    return " ".join(_LOOSE_APOSTROPHE.sub(" ", text).split())
