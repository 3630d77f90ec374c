"""Joining the transcripts of overlapping chunks of a long recording.

Consecutive chunks share `overlap` seconds, so the words spoken there appear at the end of one
chunk's transcript and at the start of the next (a word cut by a chunk edge may appear
damaged or not at all on one side). `ChunkStitcher` aligns the tail of the text so far with
the head of the new chunk's words, each limited to the words the overlap can hold, and joins
them at their longest common run of words. With no common word it keeps the earlier chunk's
words and drops from the new chunk the share of words its overlap is expected to hold.
"""

from __future__ import annotations

import math
from difflib import SequenceMatcher

SLACK_WORDS = 2  # words beyond the overlap's expected share that the alignment looks at


class ChunkStitcher:
    """Accumulates chunk transcripts (in order) into one word list.

    overlap_seconds: the audio consecutive chunks share.
    """

    def __init__(self, overlap_seconds: float) -> None:
        self.overlap = overlap_seconds
        self.words: list[str] = []
        self._last_share = 0  # words the previous chunk's overlap is expected to hold

    def add(self, words: list[str], chunk_seconds: float) -> None:
        """words: the transcript of the next chunk; chunk_seconds: its duration."""
        share = self._share(len(words), chunk_seconds)
        self.words = join_overlapping(self.words, words, self._last_share + SLACK_WORDS,
                                      share + SLACK_WORDS, share)
        self._last_share = share

    def text(self) -> str:
        return " ".join(self.words)

    def _share(self, words: int, seconds: float) -> int:
        if seconds <= 0:
            return 0
        return math.ceil(words * min(1.0, self.overlap / seconds))


def join_overlapping(before: list[str], after: list[str], tail: int, head: int,
                     fallback_drop: int) -> list[str]:
    """Join `before` and `after` whose last/first words may repeat.

    tail/head: how many of before's last and after's first words can be in the overlap;
    fallback_drop: after's words dropped when the two share no word there.
    """
    if not before:
        return list(after)
    tail_words = before[len(before) - min(tail, len(before)):]
    head_words = after[:head]
    match = SequenceMatcher(None, tail_words, head_words, autojunk=False).find_longest_match(
        0, len(tail_words), 0, len(head_words))
    if match.size == 0:
        return before + after[min(fallback_drop, len(after)):]
    cut = len(before) - len(tail_words) + match.a
    return before[:cut] + after[match.b:]
