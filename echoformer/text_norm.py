"""Text normalisation shared by both tasks.

`normalize_text`: Unicode NFC and tidy whitespace, for any text.

`normalize_transcript`: English in the form the ASR emits: lower-case letters a-z,
apostrophes inside words, single spaces. Numbers and spoken symbols (`3`, `%`, `&`, `$`, `@`,
`+`, `=`, `#`, `/`...) and non-Latin letters are NOT spelled out: it returns None and the caller
drops the sentence (the synthetic corpus) or keeps no ASR-form copy (the NMT corpus).
Silent punctuation (`. , ; : ! ? " ( )` and dashes) becomes a space or disappears, accents are
stripped (`café` -> `cafe`), hyphenated words split (`well-known` -> `well known`), and
apostrophes at word edges are dropped (quotes; `students'` -> `students`).
"""

from __future__ import annotations

import re
import unicodedata


def normalize_text(text: str) -> str:
    """Unicode NFC, whitespace runs (tabs, no-break spaces…) collapsed to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


ALPHABET = "abcdefghijklmnopqrstuvwxyz'"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_SILENT = re.compile(r"[.,;:!?\"()\[\]{}\u201c\u201d\u00ab\u00bb\u2026\-\u2010-\u2015_*]")
_SPOKEN_OR_UNKNOWN = re.compile(r"[^a-z' ]")
_EDGE_APOSTROPHES = re.compile(r"(?<![a-z])'+|'+(?![a-z])")


def normalize_transcript(text: str) -> str | None:
    """`"Don't panic -- it's 'fine'!"` -> `"don't panic it's fine"`; None when the text holds
    digits, spoken symbols or non-Latin letters (see module doc); `""` for silent-only text."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _SILENT.sub(" ", text)
    text = " ".join(text.split())
    if _SPOKEN_OR_UNKNOWN.search(text):
        return None
    text = _EDGE_APOSTROPHES.sub(" ", text)
    return " ".join(text.split())
