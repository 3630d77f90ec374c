"""How many parameters a model has: the one count that training logs and model.yaml record."""

from __future__ import annotations

from torch import nn


def parameter_count(model: nn.Module) -> int:
    """Distinct parameters of `model`: a tensor shared by several modules (an embedding tied
    to the output layer) counts once, as `nn.Module.parameters` lists it once."""
    return sum(p.numel() for p in model.parameters())
