"""Pre-LN Transformer layers: an encoder layer with a reuse role, and a decoder stack with an
incremental cache. Task-agnostic: NMT stacks them; the ASR attention decoder reuses the decoder.

Pre-LN: each sub-layer reads LayerNorm(x) and adds its dropped-out output to x; a stack ends in
a final LayerNorm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from echoformer.attention import MapWorkspace, MultiHeadSelfAttention, Role, SharedMap
from echoformer.decoder_attention import AttentionCache, CausalSelfAttention, CrossAttention
from echoformer.positional import PositionalEncoding


class FeedForward(nn.Module):
    """Linear(D, F) -> ReLU -> dropout -> Linear(F, D); (B, L, D) -> (B, L, D)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(d_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TransformerEncoderLayer(nn.Module):
    """Pre-LN self-attention + feed-forward; its attention has a reuse `role`.

    Called by `echoformer.reuse.ReuseEncoder` as
    ``layer(x, mask, pos_emb=None, shared=None, workspace=None) -> (x, handed_map)``
    with x: (B, L, D), mask: (B, L) bool (True = real position).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, role: Role = Role.PLAIN,
                 dropout: float = 0.1, attention_dropout: float = 0.0,
                 rel_pos: bool = False) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = MultiHeadSelfAttention(d_model, n_heads, role, rel_pos=rel_pos,
                                                dropout=attention_dropout)
        self.ff_norm = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None, pos_emb: Tensor | None = None,
                shared: SharedMap | None = None, workspace: MapWorkspace | None = None
                ) -> tuple[Tensor, SharedMap | None]:
        h, handed = self.attention(self.attention_norm(x), mask, pos_emb=pos_emb,
                                   shared=shared, workspace=workspace)
        x = x + self.dropout(h)
        x = x + self.dropout(self.ff(self.ff_norm(x)))
        return x, handed


class TransformerDecoderLayer(nn.Module):
    """Pre-LN causal self-attention, cross-attention to the encoder output, feed-forward.

    x: (B, T, D); memory: (B, S, D); memory_mask: (B, S) bool. Returns (B, T, D).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 attention_dropout: float = 0.0) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(d_model)
        self.self_attention = CausalSelfAttention(d_model, n_heads, attention_dropout)
        self.cross_norm = nn.LayerNorm(d_model)
        self.cross_attention = CrossAttention(d_model, n_heads, attention_dropout)
        self.ff_norm = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor | None, memory_mask: Tensor | None,
                cache: AttentionCache | None = None) -> Tensor:
        x = x + self.dropout(self.self_attention(self.self_norm(x), cache))
        x = x + self.dropout(self.cross_attention(self.cross_norm(x), memory, memory_mask, cache))
        return x + self.dropout(self.ff(self.ff_norm(x)))


@dataclass
class DecoderCache:
    """Incremental decoding state of a `TransformerDecoder`: one cache per layer.

    length: positions decoded so far. `select(rows)` keeps/reorders hypotheses (beam search).
    """

    layers: list[AttentionCache] = field(default_factory=list)
    length: int = 0

    @classmethod
    def empty(cls, num_layers: int, row_source: Tensor | None = None) -> DecoderCache:
        """row_source: (R,) source sentence of each row (see `AttentionCache`), or None."""
        return cls([AttentionCache(row_source=row_source) for _ in range(num_layers)])

    def select(self, rows: Tensor) -> None:
        """rows: (R',) indices into the current R rows."""
        for layer in self.layers:
            layer.select(rows)


class TransformerDecoder(nn.Module):
    """Token embedding (may be shared/tied) + sinusoidal positions + pre-LN decoder layers.

    tokens: (B, T) ids; memory: (B, S, D); memory_mask: (B, S) bool, True = real.
    Returns hidden states (B, T, D) after the final LayerNorm; the output layer is the
    caller's (it is often tied to the embedding).
    """

    def __init__(self, embedding: nn.Embedding, num_layers: int, n_heads: int, d_ff: int,
                 dropout: float = 0.1, attention_dropout: float = 0.0) -> None:
        super().__init__()
        d_model = embedding.embedding_dim
        self.embedding = embedding
        self.positions = PositionalEncoding(d_model, dropout)
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(d_model, n_heads, d_ff, dropout, attention_dropout)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tokens: Tensor, memory: Tensor | None, memory_mask: Tensor | None,
                cache: DecoderCache | None = None) -> Tensor:
        """With `cache`, `tokens` are the next positions after `cache.length` (usually one);
        once the cache holds the memory's keys and values, memory may be None."""
        offset = 0 if cache is None else cache.length
        x = self.positions(self.embedding(tokens), offset=offset)
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, memory_mask, None if cache is None else cache.layers[i])
        if cache is not None:
            cache.length += tokens.shape[1]
        return self.norm(x)

    def new_cache(self, row_source: Tensor | None = None) -> DecoderCache:
        return DecoderCache.empty(len(self.layers), row_source)

