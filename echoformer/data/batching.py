"""Token-based batching (NMT sentence pairs, ASR language-model text): sentences of similar
length together, at most `max_tokens` a batch.

A batch's cost is its padded size, batch size × longest sentence; sorting by length keeps
the padding small. The batch order is shuffled per epoch with a seed, so an epoch's batches
are reproducible (training resume relies on that).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor

from echoformer.tokenizer import PAD_ID


def token_batches(lengths: Sequence[int], max_tokens: int, seed: int | None = None,
                  max_sentences: int | None = None) -> list[list[int]]:
    """Indices of `lengths` grouped so that len(batch) × max length ≤ max_tokens.

    A sentence longer than `max_tokens` gets a batch of its own. With `seed` the ties in
    length are broken and the batches ordered at random (reproducibly); without, the batches
    go from short to long sentences.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens}: must be ≥ 1")
    rng = random.Random(seed)
    ties = [rng.random() for _ in lengths] if seed is not None else list(range(len(lengths)))
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], ties[i]))
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for index in order:
        longer = max(longest, lengths[index])
        full = max_sentences is not None and len(batch) >= max_sentences
        if batch and ((len(batch) + 1) * longer > max_tokens or full):
            batches.append(batch)
            batch, longer = [], lengths[index]
        batch.append(index)
        longest = longer
    if batch:
        batches.append(batch)
    if seed is not None:
        rng.shuffle(batches)
    return batches


def pad(sequences: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> Tensor:
    """Right-padded (B, max length) long tensor."""
    out = torch.full((len(sequences), max(map(len, sequences))), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
    return out
