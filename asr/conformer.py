"""Conformer encoder (Gulati et al., 2020) with attention map reuse across its blocks.

features (B, T, F) --Conv2dSubsampling (4×)--> (B, T', D) --RelPositionalEncoding-->
ConformerBlock × N (a `ReuseEncoder`: a reuse pattern groups consecutive blocks; the first
block of a group computes the self-attention map, the others reuse it) --> (B, T', D).

A block is ½·FFN → relative-position MHSA → convolution module → ½·FFN → LayerNorm, each part
with a residual connection. Padded frames never change the outputs at real frames: attention
masks padded keys, the convolution module zeroes padded frames before its depthwise conv, and
the subsampling convolutions look only at frames inside the utterance.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from echoformer.attention import MapWorkspace, MultiHeadSelfAttention, Role, SharedMap
from echoformer.positional import RelPositionalEncoding
from echoformer.reuse import ReuseEncoder

CONV_NORMS = ("batch", "layer")


def subsampled_lengths(lengths: Tensor) -> Tensor:
    """Frames after two 3×3 stride-2 convolutions: T' = ((T - 1) // 2 - 1) // 2."""
    return torch.div(torch.div(lengths - 1, 2, rounding_mode="floor") - 1, 2,
                     rounding_mode="floor").clamp_min(0)


def lengths_to_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """(B,) lengths -> (B, max_length) bool, True for real frames."""
    max_length = int(lengths.max()) if max_length is None else max_length
    return torch.arange(max_length, device=lengths.device)[None] < lengths[:, None]


class Conv2dSubsampling(nn.Module):
    """Two 3×3 stride-2 Conv2d + ReLU, then a linear map to D: 4× fewer frames.

    Args:
        input_dim: feature bins F (80 for fbank); d_model: D; channels: conv channels (D).
    """

    MIN_FRAMES = 7  # the shortest input that gives one output frame

    def __init__(self, input_dim: int, d_model: int, channels: int | None = None) -> None:
        super().__init__()
        channels = channels or d_model
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, 2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 2), nn.ReLU())
        freq = ((input_dim - 1) // 2 - 1) // 2
        self.proj = nn.Linear(channels * freq, d_model)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, T, F), lengths: (B,) -> ((B, T', D), (B,) lengths T')."""
        y = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = y.shape
        return self.proj(y.transpose(1, 2).reshape(b, t, c * f)), subsampled_lengths(lengths)


class FeedForward(nn.Module):
    """LayerNorm → Linear(D, ffn) → Swish → Dropout → Linear(ffn, D) → Dropout; (B, L, D)."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, ffn_dim), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(ffn_dim, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvolutionModule(nn.Module):
    """LayerNorm → pointwise conv (2D) + GLU → depthwise conv → Batch/LayerNorm → Swish →
    pointwise conv → Dropout.

    Args:
        kernel_size: odd depthwise kernel (31 in the paper, 15 for small models).
        norm: "batch" (the paper) or "layer" (independent of batch composition).
    """

    def __init__(self, d_model: int, kernel_size: int, dropout: float, norm: str = "batch"
                 ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"conv_kernel={kernel_size} must be odd (e.g. 15 or 31)")
        if norm not in CONV_NORMS:
            raise ValueError(f"conv_norm={norm!r} must be one of {CONV_NORMS}")
        self.layer_norm = nn.LayerNorm(d_model)
        self.pointwise_in = nn.Conv1d(d_model, 2 * d_model, 1)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2,
                                   groups=d_model)
        self.norm_kind = norm
        self.norm = nn.BatchNorm1d(d_model) if norm == "batch" else nn.LayerNorm(d_model)
        self.pointwise_out = nn.Conv1d(d_model, d_model, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x: (B, L, D); mask: (B, L) bool, True for real frames. Returns (B, L, D)."""
        y = nn.functional.glu(self.pointwise_in(self.layer_norm(x).transpose(1, 2)), dim=1)
        if mask is not None:  # padded frames must not leak into real ones through the kernel
            y = y.masked_fill(~mask[:, None, :], 0.0)
        y = self.depthwise(y)  # (B, D, L)
        if self.norm_kind == "batch":
            y = self.norm(y)
        else:
            y = self.norm(y.transpose(1, 2)).transpose(1, 2)
        y = self.pointwise_out(nn.functional.silu(y))
        return self.dropout(y.transpose(1, 2))


class ConformerBlock(nn.Module):
    """One Conformer block; its self-attention has a reuse `role` (see `echoformer.reuse`).

    Args:
        d_model: D; n_heads: H; ffn_dim: FFN width (4·D); conv_kernel: depthwise kernel;
        dropout: residual/FFN dropout; attention_dropout: on attention probabilities;
        role: PLAIN, LEADER or FOLLOWER; conv_norm: "batch" or "layer".
    """

    def __init__(self, d_model: int, n_heads: int, ffn_dim: int, conv_kernel: int,
                 dropout: float = 0.1, attention_dropout: float = 0.0,
                 role: Role = Role.PLAIN, conv_norm: str = "batch") -> None:
        super().__init__()
        self.ffn1 = FeedForward(d_model, ffn_dim, dropout)
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = MultiHeadSelfAttention(d_model, n_heads, role=role, rel_pos=True,
                                                dropout=attention_dropout)
        self.attention_dropout = nn.Dropout(dropout)
        self.conv = ConvolutionModule(d_model, conv_kernel, dropout, conv_norm)
        self.ffn2 = FeedForward(d_model, ffn_dim, dropout)
        self.final_norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, mask: Tensor | None = None, pos_emb: Tensor | None = None,
                shared: SharedMap | None = None, workspace: MapWorkspace | None = None
                ) -> tuple[Tensor, SharedMap | None]:
        """x: (B, L, D); mask: (B, L) bool; pos_emb: (1, 2L-1, D).

        Returns (x (B, L, D), the attention map this block hands on, or None).
        """
        x = x + 0.5 * self.ffn1(x)
        attended, handed = self.attention(self.attention_norm(x), mask, pos_emb=pos_emb,
                                          shared=shared, workspace=workspace)
        x = x + self.attention_dropout(attended)
        x = x + self.conv(x, mask)
        x = x + 0.5 * self.ffn2(x)
        return self.final_norm(x), handed


class ConformerEncoder(nn.Module):
    """Subsampling, relative positions and N Conformer blocks grouped by a reuse pattern.

    Args:
        input_dim: feature bins F; d_model: D; n_heads: H; ffn_dim: FFN width;
        num_layers: N blocks; conv_kernel: depthwise kernel; dropout, attention_dropout;
        reuse_pattern: group sizes summing to N (None: no reuse); conv_norm: "batch"/"layer".
    """

    def __init__(self, input_dim: int, d_model: int, n_heads: int, ffn_dim: int,
                 num_layers: int, conv_kernel: int = 15, dropout: float = 0.1,
                 attention_dropout: float = 0.0, reuse_pattern: list[int] | None = None,
                 conv_norm: str = "batch") -> None:
        super().__init__()
        self.subsampling = Conv2dSubsampling(input_dim, d_model)
        self.positions = RelPositionalEncoding(d_model, dropout)
        # make_layer(role) -> ConformerBlock: the layer factory `ReuseEncoder` calls per role
        self.make_layer = partial(ConformerBlock, d_model, n_heads, ffn_dim, conv_kernel,
                                  dropout, attention_dropout, conv_norm=conv_norm)
        self.blocks = ReuseEncoder(self.make_layer, num_layers, reuse_pattern)

    @property
    def reuse_pattern(self) -> list[int]:
        return self.blocks.pattern

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """features: (B, T, F), lengths: (B,) frames -> ((B, T', D), (B,) lengths T').

        Inputs shorter than `Conv2dSubsampling.MIN_FRAMES` frames are padded to it.
        """
        short = Conv2dSubsampling.MIN_FRAMES - features.shape[1]
        if short > 0:
            features = nn.functional.pad(features, (0, 0, 0, short))
        lengths = lengths.clamp_min(Conv2dSubsampling.MIN_FRAMES)
        x, lengths = self.subsampling(features, lengths)
        x, pos_emb = self.positions(x)
        mask = lengths_to_mask(lengths, x.shape[1])
        return self.blocks(x, mask, pos_emb), lengths
