"""Aligning the two sides of a message or a document: paragraphs, sentences, blocks.

Cheap rules only: a unit is split when both sides split into the same number of parts (the
parts are then paired in order); otherwise it is kept whole, on one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from nmt.data.corpus import Pair

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? (optionally closed by a quote or bracket) before a space and an
# upper-case letter or digit; common abbreviations (e.g., z. B., usw.) do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'»«“”)\]]?\s+(?=[\"'»«„“(\[]?[A-ZÄÖÜ0-9])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|cf|approx|Mr|Mrs|Dr|Prof|No|Nr|ca|bzw|usw|vgl|ggf|evtl|inkl|"
    r"z\.\s?B|d\.\s?h|u\.\s?a|s\.\s?u|o\.\s?ä|Abb|Bsp|bspw|min|max|Jh|St)|\b[^\W\d_]|\d)\.$")


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs of ``text``, each on one line."""
    return [" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(text.strip())
            if part.strip()]


def sentences(text: str) -> list[str]:
    """``text`` split into sentences (see ``_SENTENCE_END``), abbreviations kept inside."""
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.start()].strip()
        if candidate and not _ABBREVIATION.search(candidate.split()[-1]):
            parts.append(candidate)
            start = match.end()
    tail = text[start:].strip()
    return parts + [tail] if tail else parts


def align_in_order(english: Sequence[str], german: Sequence[str]) -> list[Pair] | None:
    """Units paired in order when both sides have the same number of them, else None."""
    return list(zip(english, german)) if len(english) == len(german) else None


def split_message(english: str, german: str, counts: dict | None = None) -> Iterator[Pair]:
    """A message's pairs: by paragraph, then by sentence, where both sides have the same
    number of parts; a unit whose parts do not match is one pair (newlines become spaces).

    ``counts`` (when given) gets ``split_paragraphs`` and ``split_sentences``: the extra pairs
    those splits made.
    """
    counts = {} if counts is None else counts
    units = align_in_order(paragraphs(english), paragraphs(german))
    if units is None:
        units = [(" ".join(english.split()), " ".join(german.split()))]
    elif len(units) > 1:
        counts["split_paragraphs"] = counts.get("split_paragraphs", 0) + len(units) - 1
    for en, de in units:
        parts = align_in_order(sentences(en), sentences(de))
        if parts and len(parts) > 1:
            counts["split_sentences"] = counts.get("split_sentences", 0) + len(parts) - 1
            yield from parts
        else:
            yield en, de
