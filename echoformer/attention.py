"""Multi-head self-attention that computes, hands on, or reuses an attention map.

A layer has one of three roles (see `echoformer.reuse`):

- ``PLAIN``: neither gives nor takes a map; PyTorch's fused ``scaled_dot_product_attention``.
- ``LEADER``: computes softmax(QKᵀ/√d + positional term) and hands it on as a `SharedMap`.
- ``FOLLOWER``: has no query/key projections; applies the leader's map to its own values.

A leader can hand the map on in two ways that give the same outputs (to float rounding):

- ``stored``: it materialises the probabilities (B, H, L, L); a follower does one P·V product.
- ``recompute``: it hands on its scaled query, key and bias; a follower recomputes the same
  map inside the fused kernel with its own values. This saves the follower only the Q/K
  projections, but never materialises the L² map.

Which one is used is an execution strategy chosen per call (`ReuseStrategy`), never a change
of the function. At inference the stored map is written block by block into a reusable
`MapWorkspace`, so the L² buffer is neither re-allocated (page faults) nor thrashed in cache,
on transparent huge pages where the OS offers them.
"""

from __future__ import annotations

import math
import mmap
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Role(str, Enum):
    PLAIN = "plain"
    LEADER = "leader"
    FOLLOWER = "follower"


class ReuseStrategy(str, Enum):
    AUTO = "auto"
    STORED = "stored"
    RECOMPUTE = "recompute"


@dataclass
class SharedMap:
    """What a group leader hands to its followers: `probs` or (`query`, `key`, `bias`).

    probs: (B, H, L, L) attention probabilities (``stored``).
    query, key: (B, H, L, dk) the leader's query (positional bias u already added) and key.
    bias: additive float (B, H, L, L), boolean (B, 1, 1, L) key mask (True = attend), or None.
    """

    probs: Tensor | None = None
    query: Tensor | None = None
    key: Tensor | None = None
    bias: Tensor | None = None
    scale: float = 1.0


class MapWorkspace:
    """A growable flat buffer reused for the stored map at inference.

    One per encoder stack: groups run one after another, so each leader can overwrite the
    previous group's map once that group's followers are done. On a Linux CPU the buffer
    lives on transparent huge pages (`huge_page_buffer`): every follower streams the whole
    L² map, and with 4 KiB pages that walk misses the TLB on nearly every row (huge pages:
    1.14x for one follower's P·V at L = 4096, one thread, on the project's 2-core EPYC).
    """

    def __init__(self) -> None:
        self._buffer = torch.empty(0)

    def take(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        numel = math.prod(shape)
        buf = self._buffer
        if buf.numel() < numel or buf.dtype != like.dtype or buf.device != like.device:
            buf = None
            if like.device.type == "cpu" and numel * like.element_size() >= _HUGE_PAGE:
                buf = huge_page_buffer(numel, like.dtype)
            if buf is None:
                buf = torch.empty(numel, dtype=like.dtype, device=like.device)
            self._buffer = buf
        return buf[:numel].view(shape)


_HUGE_PAGE = 2 << 20


def huge_page_buffer(numel: int, dtype: torch.dtype) -> Tensor | None:
    """An uninitialised flat CPU tensor on memory advised for transparent huge pages.

    Anonymous memory from `mmap`, aligned to 2 MiB and advised MADV_HUGEPAGE (the kernel's
    THP mode is often ``madvise``, so PyTorch's own allocations stay on 4 KiB pages). None
    where the platform has no such advice; the tensor keeps the mapping alive.
    """
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is None:
        return None
    nbytes = numel * torch.empty(0, dtype=dtype).element_size()
    area = mmap.mmap(-1, nbytes + _HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        area.madvise(advice)
    except OSError:
        return None
    raw = torch.frombuffer(area, dtype=torch.uint8)
    start = -raw.data_ptr() % _HUGE_PAGE
    return raw[start:start + nbytes].view(dtype)


def rel_shift(scores: Tensor) -> Tensor:
    """Transformer-XL relative shift: (B, H, L, 2L-1) position scores -> (B, H, L, L).

    Column c of `scores` holds relative position L-1-c; entry (i, j) of the result takes
    relative position i - j, i.e. column L-1-i+j. A strided view: no copy.
    """
    scores = scores.contiguous()
    b, h, length, n = scores.shape
    return scores.as_strided((b, h, length, length), (h * length * n, length * n, n - 1, 1),
                             scores.storage_offset() + length - 1)


# The blocked inference leader computes this many score elements at once (16 MB in float32):
# small enough for the block to stay in the last-level cache through scores -> softmax -> P·V,
# large enough for fast products. Measured on the project's 2-core EPYC (32 MB L3): 2^22 gave
# 1.5-1.6x for a group of 4 at L = 1024-2048 where 2^20 gave 1.43-1.48x.
_BLOCK_ELEMENTS = 1 << 22


def materialised_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, scale: float,
                           out_map: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """softmax(q kᵀ·scale + bias) and its product with v.

    q, k, v: (B, H, L, dk); bias: additive float (B, H, L, L), a boolean key mask
    (B, 1, 1, L) with True = attend, or None. Returns (context (B, H, L, dk), probs
    (B, H, L, L)). With `out_map` (a contiguous (B, H, L, L) buffer; inference only) the map
    is written there instead of into a fresh, page-faulting allocation; on CPU, when the map
    exceeds `_BLOCK_ELEMENTS`, block by block (per head, `rows` query rows at a time) so each
    block stays in cache from the score product through the softmax to P·V.
    """
    if out_map is None:
        scores = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)
        scores = _add_bias(scores, bias)
        probs = torch.softmax(scores, dim=-1)
        return torch.matmul(probs, v), probs
    b, h, length, dk = q.shape
    q = q * scale
    if b * h * length * length <= _BLOCK_ELEMENTS or q.device.type != "cpu":
        torch.matmul(q, k.transpose(-1, -2), out=out_map)
        torch.softmax(_add_bias(out_map, bias, inplace=True), dim=-1, out=out_map)
        return torch.matmul(out_map, v), out_map
    rows = max(16, min(length, _BLOCK_ELEMENTS // length))
    flat = (b * h, length)
    qf, kf, vf = q.reshape(*flat, dk), k.reshape(*flat, dk), v.reshape(*flat, dk)
    scores, context = out_map.view(*flat, length), q.new_empty(*flat, dk)
    if bias is not None and bias.dtype == torch.bool:  # key mask -> additive row (B, L)
        bias = torch.zeros(bias.shape[0], length, dtype=q.dtype, device=q.device).masked_fill_(
            ~bias.view(bias.shape[0], length), float("-inf"))
    elif bias is not None:
        bias = bias.reshape(*flat, length)
    for i in range(b * h):
        k_t = kf[i].t()
        for r0 in range(0, length, rows):
            r1 = min(length, r0 + rows)
            block = scores[i, r0:r1]
            if bias is None:
                torch.mm(qf[i, r0:r1], k_t, out=block)
            else:
                rows_bias = bias[i // h] if bias.dim() == 2 else bias[i, r0:r1]
                torch.addmm(rows_bias, qf[i, r0:r1], k_t, out=block)
            torch.softmax(block, dim=-1, out=block)
            torch.mm(block, vf[i], out=context[i, r0:r1])
    return context.view(b, h, length, dk), out_map


def _add_bias(scores: Tensor, bias: Tensor | None, inplace: bool = False) -> Tensor:
    if bias is None:
        return scores
    if bias.dtype == torch.bool:
        return scores.masked_fill_(~bias, float("-inf")) if inplace else scores.masked_fill(
            ~bias, float("-inf"))
    return scores.add_(bias) if inplace else scores + bias


class MultiHeadSelfAttention(nn.Module):
    """Self-attention with an optional relative-position term and attention map reuse.

    Args:
        d_model: model width D; n_heads: H (D divisible by H).
        role: PLAIN, LEADER or FOLLOWER. A follower has only value and output projections.
        rel_pos: add the Transformer-XL / Conformer relative-position term (needs `pos_emb`).
        dropout: dropout on attention probabilities (training only).
        strategy: how a leader hands on its map (`ReuseStrategy`).
        map_budget_bytes: with AUTO, the largest stored map; longer inputs recompute.
    """

    def __init__(self, d_model: int, n_heads: int, role: Role = Role.PLAIN, rel_pos: bool = False,
                 dropout: float = 0.0, strategy: ReuseStrategy = ReuseStrategy.AUTO,
                 map_budget_bytes: int = 1 << 30) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.role, self.rel_pos = Role(role), rel_pos
        self.dropout = dropout
        self.strategy = ReuseStrategy(strategy)
        self.map_budget_bytes = map_budget_bytes
        self.scale = 1.0 / math.sqrt(self.d_head)
        if self.role is Role.FOLLOWER:
            self.value = nn.Linear(d_model, d_model)
        else:
            self.qkv = nn.Linear(d_model, 3 * d_model)
            if rel_pos:
                self.pos_proj = nn.Linear(d_model, d_model, bias=False)
                self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, self.d_head))
                self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, self.d_head))
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, mask: Tensor | None = None, pos_emb: Tensor | None = None,
                shared: SharedMap | None = None, workspace: MapWorkspace | None = None
                ) -> tuple[Tensor, SharedMap | None]:
        """x: (B, L, D); mask: (B, L) bool, True for real frames; pos_emb: (1|B, 2L-1, D).

        Returns (output (B, L, D), the map a leader hands on or None).
        """
        if self.role is Role.FOLLOWER:
            assert shared is not None, "a follower needs its leader's SharedMap"
            return self.out(self._merge(self._follow(x, shared))), None
        q, k, v = self._split(self.qkv(x)).unbind(0)
        bias = self._bias(q, mask, pos_emb)
        if self.rel_pos:
            q = q + self.pos_bias_u[:, None]
        if self.role is Role.PLAIN:
            context = self._fused(q, k, v, bias)
            return self.out(self._merge(context)), None
        if self._stores_map(x):
            out_map = None
            if workspace is not None and not torch.is_grad_enabled():
                out_map = workspace.take((x.shape[0], self.n_heads, x.shape[1], x.shape[1]), x)
            context, probs = materialised_attention(q, k, v, bias, self.scale, out_map)
            handed = SharedMap(probs=probs)
            if self.training and self.dropout > 0:  # the undropped map is handed on
                context = torch.matmul(F.dropout(probs, self.dropout), v)
        else:
            context = self._fused(q, k, v, bias)
            handed = SharedMap(query=q, key=k, bias=bias, scale=self.scale)
        return self.out(self._merge(context)), handed

    def _follow(self, x: Tensor, shared: SharedMap) -> Tensor:
        v = self.value(x).view(x.shape[0], x.shape[1], self.n_heads, self.d_head).transpose(1, 2)
        if shared.probs is not None:
            probs = shared.probs
            if self.training and self.dropout > 0:
                probs = F.dropout(probs, self.dropout)
            if probs.device.type == "cpu" and not torch.is_grad_enabled():
                # P·V as (Vᵀ·Pᵀ)ᵀ: MKL streams the L² map faster as the wide right-hand
                # operand (1.15x for this product at L = 4096, one thread, 2-core EPYC).
                return torch.matmul(v.transpose(-1, -2), probs.transpose(-1, -2)).transpose(
                    -1, -2)
            return torch.matmul(probs, v)
        return F.scaled_dot_product_attention(
            shared.query, shared.key, v, attn_mask=shared.bias,
            dropout_p=self.dropout if self.training else 0.0, scale=shared.scale)

    def _stores_map(self, x: Tensor) -> bool:
        if self.strategy is not ReuseStrategy.AUTO:
            return self.strategy is ReuseStrategy.STORED
        if self.rel_pos:  # the positional bias is an L² tensor anyway: storing costs no memory
            return True
        map_bytes = x.shape[0] * self.n_heads * x.shape[1] ** 2 * x.element_size()
        return map_bytes <= self.map_budget_bytes

    def _fused(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0,
            scale=self.scale)

    def _bias(self, q: Tensor, mask: Tensor | None, pos_emb: Tensor | None) -> Tensor | None:
        """Boolean key mask (B, 1, 1, L), or additive float (B, H, L, L) with rel_pos."""
        key_mask = None if mask is None else mask[:, None, None, :]
        if not self.rel_pos:
            return key_mask
        if pos_emb is None:
            raise ValueError("relative-position attention needs pos_emb (1, 2L-1, D)")
        p = self.pos_proj(pos_emb).view(pos_emb.shape[0], -1, self.n_heads, self.d_head)
        q_v = (q + self.pos_bias_v[:, None]) * self.scale
        bias = rel_shift(torch.matmul(q_v, p.permute(0, 2, 3, 1)))
        if key_mask is None:
            return bias.contiguous()
        return bias.masked_fill(~key_mask, float("-inf"))

    def _split(self, qkv: Tensor) -> Tensor:
        """(B, L, 3D) -> (3, B, H, L, dk)."""
        b, length, _ = qkv.shape
        return qkv.view(b, length, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)

    def _merge(self, context: Tensor) -> Tensor:
        """(B, H, L, dk) -> (B, L, D)."""
        b, _, length, _ = context.shape
        return context.transpose(1, 2).reshape(b, length, self.d_model)
