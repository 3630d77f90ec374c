"""Reproducible train/valid/test assignment of sentences by a seeded hash."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "valid", "test")
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
