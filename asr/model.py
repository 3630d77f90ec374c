"""The speech recogniser: Conformer encoder, CTC head and Transformer attention decoder.

fbank (B, T, 80) → global CMVN → SpecAugment (training only) → `ConformerEncoder` (4×
subsampling) → (B, T', D) → CTC head (B, T', V) and a Transformer decoder over the tokens,
whose output layer can be SVD-softmax at inference. Training minimises
ctc_weight·L_ctc + (1 − ctc_weight)·L_att (label-smoothed cross-entropy); `forward` returns
a dict of losses. Decoding by name lives in `asr.decoding`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from asr.conformer import CONV_NORMS, ConformerEncoder, lengths_to_mask
from asr.ctc import CTCHead
from asr.features import NUM_MEL_BINS, GlobalCMVN, SpecAugment, SpecAugmentConfig
from echoformer.loss import label_smoothed_nll
from echoformer.model_dir import current_model_keys, register_model
from echoformer.output_layer import OutputLayer, SoftmaxConfig
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID
from echoformer.transformer import TransformerDecoder


@dataclass
class ASRModelConfig:
    """Shape and training losses of the recogniser (config group `asr_model`).

    Conformer-M (the paper's shape): encoder_layers=16, d_model=256, heads=4, ffn_dim=1024.
    """

    input_dim: int = NUM_MEL_BINS
    d_model: int = 144
    heads: int = 4
    ffn_dim: int = 576
    encoder_layers: int = 8
    conv_kernel: int = 15
    conv_norm: str = "batch"
    decoder_layers: int = 2
    decoder_ffn_dim: int = 576
    dropout: float = 0.1
    attention_dropout: float = 0.0
    tie_decoder_embedding: bool = True
    ctc_weight: float = 0.3
    label_smoothing: float = 0.1
    specaugment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight={self.ctc_weight} must be in [0, 1]")
        if self.conv_norm not in CONV_NORMS:
            raise ValueError(f"conv_norm={self.conv_norm!r} must be one of {CONV_NORMS}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by "
                             f"heads={self.heads}")


@register_model("conformer_asr")
class ASRModel(nn.Module):
    """Joint CTC/attention Conformer recogniser.

    Args:
        config: `ASRModelConfig`; vocab_size: V of the sentencepiece model (blank = pad = 0);
        reuse_pattern: encoder attention-map reuse groups (sum = encoder_layers; None = no reuse);
        cmvn: global feature statistics (identity when None, e.g. before loading weights).
    """

    def __init__(self, config: ASRModelConfig, vocab_size: int,
                 reuse_pattern: list[int] | None = None, cmvn: GlobalCMVN | None = None
                 ) -> None:
        super().__init__()
        c = self.config = config
        self.vocab_size = vocab_size
        self.cmvn = cmvn or GlobalCMVN(torch.zeros(c.input_dim), torch.ones(c.input_dim))
        self.specaugment = SpecAugment(c.specaugment)
        self.encoder = ConformerEncoder(
            c.input_dim, c.d_model, c.heads, c.ffn_dim, c.encoder_layers, c.conv_kernel,
            c.dropout, c.attention_dropout, reuse_pattern, c.conv_norm)
        self.ctc = CTCHead(c.d_model, vocab_size)
        embedding = nn.Embedding(vocab_size, c.d_model, padding_idx=PAD_ID)
        # the decoder scales embeddings by √D; N(0, 1/D) keeps tied output logits near unit scale
        nn.init.normal_(embedding.weight, std=c.d_model ** -0.5)
        with torch.no_grad():
            embedding.weight[PAD_ID].zero_()
        self.decoder = TransformerDecoder(embedding, c.decoder_layers, c.heads,
                                          c.decoder_ffn_dim, c.dropout, c.attention_dropout)
        projection = nn.Linear(c.d_model, vocab_size)
        if c.tie_decoder_embedding:
            projection.weight = embedding.weight
        self.output = OutputLayer(projection)

    # -- the model directory's registry contract ------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this model (CMVN statistics are in the weights)."""
        return {"model": asdict(self.config), "vocab_size": self.vocab_size,
                "reuse_pattern": list(self.encoder.reuse_pattern),
                "softmax": asdict(self.output.softmax)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ASRModel:
        model = current_model_keys(config["model"])
        model["specaugment"] = SpecAugmentConfig(**model.get("specaugment", {}))
        built = cls(ASRModelConfig(**model), int(config["vocab_size"]),
                    list(config["reuse_pattern"]))
        built.use_softmax(SoftmaxConfig(**(config.get("softmax") or {})))  # older exports: full
        return built

    def use_softmax(self, softmax: SoftmaxConfig) -> None:
        """Inference softmax of the decoder output layer: full or SVD-softmax."""
        self.output.use_softmax(softmax)

    def encode(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """fbank (B, T, F), lengths (B,) -> encoder states (B, T', D), lengths (B,)."""
        x = self.specaugment(self.cmvn(features))
        return self.encoder(x, lengths)

    def forward(self, features: Tensor, feature_lengths: Tensor, targets: Tensor,
                target_lengths: Tensor) -> dict[str, Tensor]:
        """Losses of a batch as sums, for the shared trainer (which divides by `tokens`).

        features: (B, T, F) fbank; feature_lengths: (B,); targets: (B, S) token ids (no
        bos/eos; padding any value); target_lengths: (B,).
        Returns sums over the batch: `loss` = ctc_weight·loss_ctc + (1 − ctc_weight)·loss_att
        (label-smoothed), `loss_ctc`, `loss_att`, `nll` (decoder), `accuracy` (decoder top-1
        hits) and `tokens` (decoder targets, eos included).
        """
        encoded, lengths = self.encode(features, feature_lengths)
        loss_ctc = self.ctc.loss(encoded, lengths, targets, target_lengths)
        loss_att, nll, hits, tokens = self.attention_loss(encoded, lengths, targets,
                                                          target_lengths)
        w = self.config.ctc_weight
        return {"loss": w * loss_ctc + (1 - w) * loss_att, "loss_ctc": loss_ctc.detach(),
                "loss_att": loss_att.detach(), "nll": nll.detach(), "accuracy": hits,
                "tokens": tokens}

    def attention_loss(self, encoded: Tensor, lengths: Tensor, targets: Tensor,
                       target_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Decoder losses of bos·y → y·eos, summed: (label-smoothed, nll, hits, tokens)."""
        decoder_in, decoder_out = add_bos_eos(targets, target_lengths)
        hidden = self.decoder(decoder_in, encoded, lengths_to_mask(lengths, encoded.shape[1]))
        logits = self.output.logits(hidden)
        loss, nll, tokens = label_smoothed_nll(logits, decoder_out, self.config.label_smoothing,
                                               PAD_ID)
        real = decoder_out != PAD_ID
        hits = ((logits.argmax(-1) == decoder_out) & real).sum().detach()
        return loss, nll, hits, tokens

    def attention_scores(self, encoded: Tensor, lengths: Tensor, hyps: list[list[int]],
                         rows: Tensor) -> Tensor:
        """log p_att(y·eos | x) of each hypothesis, teacher-forced in one batch.

        encoded: (B, T', D); lengths: (B,); hyps: N token lists; rows: (N,) utterance of
        each. Returns (N,) float.
        """
        dev = encoded.device
        target_lengths = torch.tensor([len(h) for h in hyps], device=dev)
        targets = torch.zeros(len(hyps), max(1, int(target_lengths.max())), dtype=torch.long,
                              device=dev)
        for i, h in enumerate(hyps):
            targets[i, :len(h)] = torch.tensor(h, dtype=torch.long)
        decoder_in, decoder_out = add_bos_eos(targets, target_lengths)
        memory, memory_lengths = encoded.index_select(0, rows), lengths.index_select(0, rows)
        hidden = self.decoder(decoder_in, memory, lengths_to_mask(memory_lengths,
                                                                   memory.shape[1]))
        log_probs = self.output.log_probs(hidden)  # (N, S+1, V)
        picked = log_probs.gather(-1, decoder_out[..., None]).squeeze(-1)
        return picked.masked_fill(decoder_out == PAD_ID, 0.0).sum(-1)


def add_bos_eos(targets: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """(B, S) targets, (B,) lengths -> decoder input bos·y and output y·eos, (B, S+1) each,
    padded with PAD_ID (never a real target: it is the CTC blank)."""
    b, s = targets.shape
    positions = torch.arange(s + 1, device=targets.device)[None]
    padded = torch.cat([targets, targets.new_zeros(b, 1)], dim=1)
    decoder_out = padded.masked_fill(positions == lengths[:, None], EOS_ID)
    decoder_out = decoder_out.masked_fill(positions > lengths[:, None], PAD_ID)
    decoder_in = torch.cat([targets.new_full((b, 1), BOS_ID), targets], dim=1)
    decoder_in = decoder_in.masked_fill(positions > lengths[:, None], PAD_ID)
    return decoder_in, decoder_out
