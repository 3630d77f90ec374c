"""The NMT model's batches of sentence pairs (token batching: `echoformer.data.batching`)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from echoformer.data.batching import pad
from echoformer.tokenizer import BOS_ID, EOS_ID


def collate(sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
            ) -> dict[str, Tensor]:
    """Token ids (no special tokens) -> the model's batch.

    source: tokens + end (B, S); target_in: begin + tokens (B, T); target_out: tokens + end.
    """
    return {"source": pad([list(s) + [EOS_ID] for s in sources]),
            "target_in": pad([[BOS_ID] + list(t) for t in targets]),
            "target_out": pad([list(t) + [EOS_ID] for t in targets])}
