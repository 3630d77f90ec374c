"""Pre-LN Transformer encoder-decoder for translation.

One sentencepiece vocabulary for both languages and one embedding matrix tied three ways
(encoder input, decoder input, output layer). The encoder's self-attention reuses maps within
groups of layers (`ReuseEncoder`); the output layer's inference softmax is full or SVD-softmax.
Source: tokens + end token. Target in: begin token + tokens; target out: tokens + end token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor, nn

from echoformer.loss import label_smoothed_nll
from echoformer.model_dir import current_model_keys, register_model
from echoformer.output_layer import OutputLayer, SoftmaxConfig
from echoformer.positional import PositionalEncoding
from echoformer.reuse import ReuseEncoder
from echoformer.search import DecoderScorer, EncoderOutput
from echoformer.tokenizer import PAD_ID
from echoformer.transformer import TransformerDecoder, TransformerEncoderLayer


@dataclass
class NMTModelConfig:
    """Size of the model (config group `nmt_model`).

    max_length: most tokens of a sentence, end token included (longer sources are truncated
    at translation time, longer training pairs are left out).
    """

    d_model: int = 256
    heads: int = 4
    ffn_dim: int = 1024
    encoder_layers: int = 6
    decoder_layers: int = 6
    dropout: float = 0.1
    attention_dropout: float = 0.0
    label_smoothing: float = 0.1
    max_length: int = 256


@register_model("transformer_nmt")
class TransformerNMT(nn.Module):
    """Encoder-decoder; `forward` returns summed losses, `encode`/`scorer` serve beam search."""

    def __init__(self, config: NMTModelConfig, vocab_size: int,
                 reuse_pattern: list[int] | None = None,
                 softmax: SoftmaxConfig | None = None) -> None:
        super().__init__()
        c = config
        self.config, self.vocab_size = c, vocab_size
        self.embedding = nn.Embedding(vocab_size, c.d_model)
        nn.init.normal_(self.embedding.weight, std=c.d_model ** -0.5)
        self.source_positions = PositionalEncoding(c.d_model, c.dropout)
        self.encoder = ReuseEncoder(
            lambda role: TransformerEncoderLayer(c.d_model, c.heads, c.ffn_dim, role, c.dropout,
                                                 c.attention_dropout),
            c.encoder_layers, reuse_pattern)
        self.encoder_norm = nn.LayerNorm(c.d_model)
        self.decoder = TransformerDecoder(self.embedding, c.decoder_layers, c.heads, c.ffn_dim,
                                          c.dropout, c.attention_dropout)
        projection = nn.Linear(c.d_model, vocab_size, bias=False)
        projection.weight = self.embedding.weight
        self.output = OutputLayer(projection, softmax)

    # -- the model directory's registry contract ------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this model (see `from_config`)."""
        return {"model": asdict(self.config), "vocab_size": self.vocab_size,
                "reuse_pattern": list(self.encoder.pattern),
                "softmax": asdict(self.output.softmax)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TransformerNMT:
        model = NMTModelConfig(**current_model_keys(config["model"]))
        return cls(model, int(config["vocab_size"]), list(config["reuse_pattern"]),
                   SoftmaxConfig(**config["softmax"]))

    # -- training -------------------------------------------------------------------------
    def forward(self, source: Tensor, target_in: Tensor, target_out: Tensor) -> dict[str, Tensor]:
        """source: (B, S); target_in, target_out: (B, T); padding = PAD_ID.

        Returns sums over real target tokens: `loss` (label-smoothed), `nll`, and `tokens`.
        """
        encoded = self.encode(source)
        hidden = self.decoder(target_in, encoded.memory, encoded.mask)
        loss, nll, tokens = label_smoothed_nll(self.output.logits(hidden), target_out,
                                               self.config.label_smoothing, PAD_ID)
        return {"loss": loss, "nll": nll, "tokens": tokens}

    # -- inference ------------------------------------------------------------------------
    def encode(self, source: Tensor) -> EncoderOutput:
        """source: (B, S) ids, PAD_ID-padded -> memory (B, S, D) and mask (B, S)."""
        mask = source != PAD_ID
        x = self.source_positions(self.embedding(source))
        return EncoderOutput(self.encoder_norm(self.encoder(x, mask)), mask)

    def scorer(self) -> DecoderScorer:
        """The decoder as a beam-search scorer (incremental, with a key/value cache)."""
        return DecoderScorer(self.decoder, self.output)

    def use_softmax(self, softmax: SoftmaxConfig) -> None:
        self.output.use_softmax(softmax)
