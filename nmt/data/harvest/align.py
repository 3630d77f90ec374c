"""Aligning the two sides of a message or a document: paragraphs, sentences, blocks.

Cheap rules only: a unit is split when both sides split into the same number of parts (the
parts are then paired in order); otherwise it is kept whole, on one line.
"""

from __future__ import annotations

import math
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


def align_by_length(english: Sequence[str], german: Sequence[str], band: int = 12,
                    skip_cost: float = 3.0) -> list[Pair]:
    """1:1 pairs of a monotone alignment of two unit sequences whose counts differ a little
    (a translator's credit paragraph, a dropped note), by lengths (in the manner of Gale and
    Church, with only 1:1, 1:0 and 0:1 steps): a 1:1 step costs the distance of the length
    ratio from a typical German/English 1.1, a unit left unpaired costs ``skip_cost``."""
    n, m = len(english), len(german)
    infinity = float("inf")
    cost = [[infinity] * (m + 1) for _ in range(n + 1)]
    step = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(max(0, i - band), min(m, i + band) + 1):
            here = cost[i][j]
            if here == infinity:
                continue
            if i < n and j < m:
                ratio = math.log((len(german[j]) + 10) / (len(english[i]) + 10))
                pair_cost = here + 4 * abs(ratio - math.log(1.1))
                if pair_cost < cost[i + 1][j + 1]:
                    cost[i + 1][j + 1], step[i + 1][j + 1] = pair_cost, (1, 1)
            for di, dj in ((1, 0), (0, 1)):
                if i + di <= n and j + dj <= m and here + skip_cost < cost[i + di][j + dj]:
                    cost[i + di][j + dj], step[i + di][j + dj] = here + skip_cost, (di, dj)
    if cost[n][m] == infinity:
        return []
    pairs, i, j = [], n, m
    while i or j:
        di, dj = step[i][j]
        if (di, dj) == (1, 1):
            pairs.append((english[i - 1], german[j - 1]))
        i, j = i - di, j - dj
    return pairs[::-1]
