"""Decoding options (one plain record shared by every entry point) and finished hypotheses."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DecodingOptions:
    """How to search (in the spirit of CTranslate2's `DecodingOptions`).

    beam_size: hypotheses kept per sentence (1 = greedy). nbest: hypotheses returned per
    sentence (≤ beam_size). length_penalty: α; finished hypotheses are ranked by
    score / length^α (length counts the end token; 0 = raw log-probability).
    The output may have at most min(max_length_a·|source| + max_length_b, max_length)
    tokens (the end token included); min_length: tokens before the end token may come.
    """

    beam_size: int = 5
    nbest: int = 1
    length_penalty: float = 1.0
    max_length_a: float = 1.5
    max_length_b: int = 10
    max_length: int = 256
    min_length: int = 0

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size={self.beam_size}: use 1 (greedy) or more")
        if not 1 <= self.nbest <= self.beam_size:
            raise ValueError(f"nbest={self.nbest} must be in 1..beam_size={self.beam_size}: "
                             "raise the beam size or lower nbest")
        if self.max_length < 1 or self.max_length_a < 0:
            raise ValueError(f"max_length={self.max_length} must be ≥ 1 and "
                             f"max_length_a={self.max_length_a} ≥ 0")
        if self.min_length < 0 or self.length_penalty < 0:
            raise ValueError("min_length and length_penalty must be ≥ 0")

    def length_limit(self, source_length: int) -> int:
        """Most output tokens (end token included) for a source of `source_length` tokens."""
        limit = math.floor(self.max_length_a * source_length) + self.max_length_b
        return max(1, min(limit, self.max_length))


@dataclass(frozen=True)
class Hypothesis:
    """A finished hypothesis: its tokens (no begin/end token), the summed (weighted)
    log-probability including the end token, and the length-normalised score it is ranked by."""

    tokens: tuple[int, ...]
    score: float
    normalized_score: float
