"""Validation: the model's summed outputs over batches, and their per-token means."""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import nullcontext

import torch
from torch import Tensor, nn

Batch = dict[str, Tensor]


def evaluate(model: nn.Module, batches: Iterable[Batch], device: str | torch.device,
             amp_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Per-token means of the model's summed outputs over `batches` (eval mode, no grad);
    `ppl` = exp(nll) when the model reports `nll`."""
    return per_token(evaluation_sums(model, batches, device, amp_dtype))


def evaluation_sums(model: nn.Module, batches: Iterable[Batch], device: str | torch.device,
                    amp_dtype: torch.dtype | None = None) -> dict[str, float]:
    """The model's summed outputs (loss, tokens, ...) over `batches`, eval mode, no grad."""
    device = torch.device(device)
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            with autocast(device, amp_dtype):
                out = model(**batch)
            for name, value in out.items():
                sums[name] = sums.get(name, 0.0) + float(value)
    return sums


def per_token(sums: dict[str, float]) -> dict[str, float]:
    """Sums divided by their `tokens`; `ppl` = exp(nll) when there is an `nll`."""
    sums = dict(sums)
    tokens = max(sums.pop("tokens", 1.0), 1.0)
    result = {name: value / tokens for name, value in sums.items()}
    if "nll" in result:
        result["ppl"] = math.exp(min(result["nll"], 50.0))
    return result


def autocast(device: torch.device, dtype: torch.dtype | None):
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
