"""Sinusoidal position encodings: absolute (Transformer) and relative (Transformer-XL)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoids(positions: Tensor, dim: int) -> Tensor:
    """(N,) positions -> (N, dim) interleaved sin/cos encodings."""
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    angles = positions.float()[:, None] * freq[None]
    table = torch.zeros(len(positions), dim)
    table[:, 0::2], table[:, 1::2] = torch.sin(angles), torch.cos(angles)
    return table


class PositionalEncoding(nn.Module):
    """x·√D + absolute sinusoidal position; x: (B, L, D) -> (B, L, D)."""

    def __init__(self, d_model: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model, self.dropout = d_model, nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        pe = sinusoids(positions, self.d_model).to(x.device, x.dtype)
        return self.dropout(x * math.sqrt(self.d_model) + pe)


class RelPositionalEncoding(nn.Module):
    """x·√D and the relative-position table for L-1 … -(L-1).

    x: (B, L, D) -> (x (B, L, D), pos_emb (1, 2L-1, D)); see `attention.rel_shift`.
    """

    def __init__(self, d_model: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model, self.dropout = d_model, nn.Dropout(dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        length = x.shape[1]
        positions = torch.arange(length - 1, -length, -1, device=x.device)
        pos_emb = sinusoids(positions, self.d_model).to(x.device, x.dtype)[None]
        return self.dropout(x * math.sqrt(self.d_model)), self.dropout(pos_emb)
