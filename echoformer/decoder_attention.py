"""Decoder attention: causal self-attention with an incremental key/value cache, and
cross-attention whose keys and values are computed once from the encoder output.

Both use PyTorch's fused `scaled_dot_product_attention`. A decoder that translates (or
transcribes) token by token keeps one `AttentionCache` per layer: the self-attention keys and
values grow by one position a step, the cross-attention ones are fixed. Beam search reorders
the rows of every cache with `AttentionCache.select`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class AttentionCache:
    """One decoder layer's cached keys and values, rows = hypotheses.

    self_key, self_value: (R, H, t, dk) for the t positions decoded so far (None before the
    first step). cross_key, cross_value: (R, H, S, dk) from the encoder output (None until the
    first step computes them). row_source: (R,) which source sentence each row translates
    (rows with equal values have equal cross keys/values, e.g. the beams of one sentence); the
    cross keys/values are only copied when a selection changes it, not when beams of a
    sentence are reordered.
    """

    self_key: Tensor | None = None
    self_value: Tensor | None = None
    cross_key: Tensor | None = None
    cross_value: Tensor | None = None
    row_source: Tensor | None = None

    def select(self, rows: Tensor) -> None:
        """Keep rows `rows` (R',) of the old R rows, in that order (repeats allowed)."""
        if self.self_key is not None:
            self.self_key = self.self_key.index_select(0, rows)
            self.self_value = self.self_value.index_select(0, rows)
        if self.cross_key is None:
            return
        new_source = self.row_source.index_select(0, rows)
        if not torch.equal(new_source, self.row_source):
            self.cross_key = self.cross_key.index_select(0, rows)
            self.cross_value = self.cross_value.index_select(0, rows)
        self.row_source = new_source


class _Heads(nn.Module):
    """Splits (B, L, D) into (B, H, L, dk) and merges back."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads

    def split(self, x: Tensor) -> Tensor:
        b, length, _ = x.shape
        return x.view(b, length, self.n_heads, self.d_head).transpose(1, 2)

    def merge(self, x: Tensor) -> Tensor:
        b, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(b, length, self.d_model)


class CausalSelfAttention(_Heads):
    """Masked (causal) multi-head self-attention with an optional incremental cache.

    x: (B, T, D) -> (B, T, D). Without a cache position i attends to 0..i. With a cache the T
    new positions follow the t cached ones and attend to them all plus their own past.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__(d_model, n_heads)
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, cache: AttentionCache | None = None) -> Tensor:
        q, k, v = (self.split(part) for part in self.qkv(x).chunk(3, dim=-1))
        past = 0
        if cache is not None:
            if cache.self_key is not None:
                past = cache.self_key.shape[2]
                k = torch.cat([cache.self_key, k], dim=2)
                v = torch.cat([cache.self_value, v], dim=2)
            cache.self_key, cache.self_value = k, v
        new = x.shape[1]
        mask, causal = None, False
        if past == 0:
            causal = new > 1
        elif new > 1:  # new rows i may see cached keys and new keys up to themselves
            positions = torch.arange(past + new, device=x.device)
            mask = positions[None, :] <= (past + torch.arange(new, device=x.device))[:, None]
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0)
        return self.out(self.merge(context))


class CrossAttention(_Heads):
    """Multi-head attention from decoder positions to the encoder output.

    x: (B, T, D); memory: (B, S, D); memory_mask: (B, S) bool, True for real positions.
    Returns (B, T, D). With a cache the memory's keys and values are projected once; later
    steps may pass memory=None.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__(d_model, n_heads)
        self.dropout = dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, memory: Tensor | None, memory_mask: Tensor | None,
                cache: AttentionCache | None = None) -> Tensor:
        if cache is not None and cache.cross_key is not None:
            k, v = cache.cross_key, cache.cross_value
        else:
            assert memory is not None, "cross-attention needs the memory or a filled cache"
            k, v = (self.split(part) for part in self.key_value(memory).chunk(2, dim=-1))
            if cache is not None:
                cache.cross_key, cache.cross_value = k, v
                if cache.row_source is None:
                    cache.row_source = torch.arange(memory.shape[0], device=memory.device)
        mask = None if memory_mask is None else memory_mask[:, None, None, :]
        context = F.scaled_dot_product_attention(
            self.split(self.query(x)), k, v, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0)
        return self.out(self.merge(context))
