"""Cleaning, de-duplication, splitting and ASR-style copies of sentence pairs.

A pair is a tuple of two sentences whose languages the caller knows (e.g. ``(english, german)``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from echoformer.data.split import SPLITS, english_split_key, split_of
from echoformer.text_norm import normalize_text, normalize_transcript

Pair = tuple[str, str]

_UNSPOKEN = re.compile(r"[\d/…&%@#$+=*<>{}\[\]|~^_\\]")


@dataclass(frozen=True)
class LengthFilter:
    """Keeps pairs whose sides both have ``min_words``..``max_words`` words and whose longer side
    has at most ``max_ratio`` times the words of the shorter."""

    min_words: int = 1
    max_words: int = 80
    max_ratio: float = 3.0

    def __post_init__(self):
        if not 1 <= self.min_words <= self.max_words or self.max_ratio < 1:
            raise ValueError(
                f"Bad length filter {self}: need 1 ≤ min_words ≤ max_words and max_ratio ≥ 1."
            )

    def keeps(self, pair: Pair) -> bool:
        lengths = [len(side.split()) for side in pair]
        return (
            all(self.min_words <= length <= self.max_words for length in lengths)
            and max(lengths) <= self.max_ratio * min(lengths)
        )


def clean_pairs(pairs: Iterable[Pair], length_filter: LengthFilter) -> tuple[list[Pair], Counter]:
    """Normalised (NFC, tidy spaces), length-filtered, distinct pairs in input order, and counts
    of what was read and dropped (``read``, ``empty``, ``length``, ``duplicate``)."""
    counts: Counter = Counter()
    kept: dict[Pair, None] = {}
    for pair in pairs:
        counts["read"] += 1
        pair = (normalize_text(pair[0]), normalize_text(pair[1]))
        if not (pair[0] and pair[1]):
            counts["empty"] += 1
        elif not length_filter.keeps(pair):
            counts["length"] += 1
        elif pair in kept:
            counts["duplicate"] += 1
        else:
            kept[pair] = None
    return list(kept), counts


def split_by_english(
    pairs: Iterable[Pair], seed: int, valid_fraction: float, test_fraction: float
) -> dict[str, list[Pair]]:
    """Pairs ``(english, other)`` grouped into train/valid/test by a seeded hash of the English.

    The hash key is the ASR-style English, so sentences differing only in case or punctuation
    (and so their ASR-style copies) never fall into two splits.
    """
    splits: dict[str, list[Pair]] = {split: [] for split in SPLITS}
    for english, other in pairs:
        key = english_split_key(english)
        splits[split_of(key, seed, valid_fraction, test_fraction)].append((english, other))
    return splits


def asr_style_copy(english: str) -> str | None:
    """The ASR-style form of ``english`` when it differs and is faithful, else None.

    Not faithful: text with digits, symbols, ``/`` alternatives or ``…`` gaps, which a speaker
    would not say as written.
    """
    if _UNSPOKEN.search(english):
        return None
    copy = normalize_transcript(english)
    return copy if copy and copy != english else None


def with_asr_copies(pairs: Iterable[Pair], english_side: int = 0) -> tuple[list[Pair], int]:
    """``pairs`` with each followed by a copy whose English side is ASR-style (see
    ``asr_style_copy``), duplicates left out; and the number of copies added."""
    assert english_side in (0, 1)
    result: dict[Pair, None] = {}
    added = 0
    for pair in pairs:
        result[pair] = None
        copy = asr_style_copy(pair[english_side])
        if copy is not None:
            copied = (copy, pair[1]) if english_side == 0 else (pair[0], copy)
            if copied not in result:
                result[copied] = None
                added += 1
    return list(result), added
