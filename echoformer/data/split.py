"""Reproducible train/valid/test assignment of sentences by a seeded hash."""

from __future__ import annotations

import hashlib

from echoformer.text_norm import normalize_text, normalize_transcript

SPLITS = ("train", "valid", "test")

# The embedded corpora (NMT pairs and synthetic ASR speech) both split the Ding English
# sentences with these settings and `english_split_key`, so a sentence of the ASR test sets is
# never in the NMT training data: the speech-translation cascade is evaluated on them.
DING_SPLIT_SEED = 1234
DING_VALID_FRACTION = 0.06
DING_TEST_FRACTION = 0.06
_BUCKETS = 1_000_000


def split_of(key: str, seed: int, valid_fraction: float, test_fraction: float) -> str:
    """``"test"``, ``"valid"`` or ``"train"`` for ``key``, from a hash of ``seed`` and ``key``.

    Depends on nothing but its arguments, so the same sentence lands in the same split in every
    corpus and every run; about ``test_fraction`` of distinct keys go to test.
    """
    if not (0 <= valid_fraction and 0 <= test_fraction and valid_fraction + test_fraction < 1):
        raise ValueError(
            f"valid_fraction={valid_fraction} and test_fraction={test_fraction} must be ≥ 0 "
            "and sum to less than 1."
        )
    digest = hashlib.sha256(f"{seed}\x00{key}".encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") % _BUCKETS / _BUCKETS
    if position < test_fraction:
        return "test"
    if position < test_fraction + valid_fraction:
        return "valid"
    return "train"


def english_split_key(english: str) -> str:
    """The key an English sentence is split by: its ASR form (so variants in case and
    punctuation, and ASR-form copies, share a split), or its lower-cased text."""
    return normalize_transcript(english) or normalize_text(english).lower()


def ding_split(english: str) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` for an English sentence of the embedded corpora."""
    return split_of(english_split_key(english), DING_SPLIT_SEED, DING_VALID_FRACTION,
                    DING_TEST_FRACTION)
