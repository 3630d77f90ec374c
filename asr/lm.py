"""A word-piece language model for shallow fusion in the ASR decoders.

`PieceLM` is an LSTM over the ASR model's sentencepiece pieces, trained on text alone
(`asr-lm-train`, conf/asr_lm_train.yaml; the embedded text: `python -m asr.data.prepare
lm-text`). It adds β·log p_lm to the hypotheses' scores: token by token in `joint_beam`
(`echoformer.search.LMScorer` over its `step`, a full scorer beside the attention decoder:
the two rank the pre-beam that the CTC prefix scores then extend) and per hypothesis in
`attention_rescoring` (`sequence_log_probs`), as ESPnet's and WeNet's LM fusion do. It
shares the ASR model's pieces (the same spm.model), so no conversion between vocabularies is
needed.

Its model directory carries the fusion settings it was tuned with (model.yaml task.decoding,
`LMFusionOptions`: β, α and the beam): asr-transcribe uses them unless --lm-weight /
--length-penalty / --beam-size are given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from echoformer.data.batching import pad
from echoformer.model_dir import (TOKENIZER_FILE, LoadedModel, ModelDirError, file_sha256,
                                  load_model_dir, register_model)
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID

LSTMState = tuple[Tensor, Tensor]
DEFAULT_LM_WEIGHT = 0.5  # β of a new LM until tuned (the shipped pair's dev set: 0.5-0.7 best)


@dataclass
class LMFusionOptions:
    """How a language model joins the ASR decoding (its model.yaml task.decoding):
    lm_weight β of log p_lm; length_penalty α of joint_beam's ranking score / length^α, which
    replaces the ASR model's own while this LM is used (fusion shortens hypotheses);
    beam_size, where not 0, the beam to search with this LM instead of the ASR model's
    (`fusion_overrides`)."""

    lm_weight: float = DEFAULT_LM_WEIGHT
    length_penalty: float = 0.0
    beam_size: int = 0

    def __post_init__(self) -> None:
        if self.lm_weight < 0:
            raise ValueError(f"lm_weight={self.lm_weight} must be ≥ 0")
        if self.beam_size < 0:
            raise ValueError(f"beam_size={self.beam_size}: use 0 (the ASR model's) or more")

    def fusion_overrides(self) -> dict[str, float | int]:
        """The ASR decoding options this LM sets (`ASRDecodingOptions` field names)."""
        overrides = {"lm_weight": self.lm_weight, "length_penalty": self.length_penalty}
        return overrides | ({"beam_size": self.beam_size} if self.beam_size else {})


@dataclass
class PieceLMConfig:
    """hidden_dim: embedding and LSTM width (the output layer is tied to the embedding);
    num_layers: stacked LSTM layers; dropout: on the embeddings, between layers and before the
    output layer."""

    hidden_dim: int = 512
    num_layers: int = 2
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise ValueError(f"model.hidden_dim={self.hidden_dim} and "
                             f"model.num_layers={self.num_layers} must be ≥ 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout={self.dropout} must be in [0, 1)")


@register_model("piece_lm")
class PieceLM(nn.Module):
    """LSTM language model over sentencepiece ids (begin token first, end token last)."""

    def __init__(self, config: PieceLMConfig, vocab_size: int) -> None:
        super().__init__()
        self.config, self.vocab_size = config, vocab_size
        h = config.hidden_dim
        self.embedding = nn.Embedding(vocab_size, h, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(h, h, config.num_layers, batch_first=True,
                            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(h, vocab_size)
        self.output.weight = self.embedding.weight

    # -- the model directory's registry contract ------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return {"model": asdict(self.config), "vocab_size": self.vocab_size}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PieceLM:
        return cls(PieceLMConfig(**config["model"]), int(config["vocab_size"]))

    def logits(self, tokens: Tensor, state: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
        """tokens (R, t) -> next-token logits (R, t, V) and the LSTM state after them."""
        hidden, state = self.lstm(self.dropout(self.embedding(tokens)), state)
        return self.output(self.dropout(hidden)), state

    def forward(self, tokens_in: Tensor, tokens_out: Tensor) -> dict[str, Tensor]:
        """The trainer's contract: summed cross-entropy of `tokens_out` (padding ignored)."""
        logits, _ = self.logits(tokens_in)
        nll = F.cross_entropy(logits.flatten(0, 1).float(), tokens_out.flatten(),
                              ignore_index=PAD_ID, reduction="sum")
        return {"loss": nll, "nll": nll.detach(), "tokens": (tokens_out != PAD_ID).sum()}

    @torch.no_grad()
    def step(self, last: Tensor, state: LSTMState | None) -> tuple[Tensor, LSTMState]:
        """log p(next | history) (R, V) after feeding the newest tokens `last` (R,)."""
        logits, state = self.logits(last[:, None], state)
        return logits[:, -1].float().log_softmax(-1), state

    @staticmethod
    def select_state(state: LSTMState | None, rows: Tensor) -> LSTMState | None:
        """The (h, c) of rows `rows` (R',) of the current R (repeats allowed)."""
        if state is None:
            return None
        return state[0].index_select(1, rows), state[1].index_select(1, rows)

    @torch.no_grad()
    def sequence_log_probs(self, hyps: list[list[int]]) -> Tensor:
        """log p_lm(y · end) of each token sequence `hyps` (no begin token), one batch: (N,)."""
        device = self.embedding.weight.device
        tokens_in = pad([[BOS_ID, *hyp] for hyp in hyps]).to(device)
        tokens_out = pad([[*hyp, EOS_ID] for hyp in hyps]).to(device)
        log_probs = self.logits(tokens_in)[0].float().log_softmax(-1)
        picked = log_probs.gather(2, tokens_out.clamp(min=0)[..., None]).squeeze(2)
        return picked.masked_fill(tokens_out == PAD_ID, 0.0).sum(1)


def load_lm(directory: str | Path, tokenizer_model: Path, device: str | torch.device = "cpu"
            ) -> LoadedModel:
    """The `PieceLM` model directory `directory` for an ASR model whose sentencepiece model is
    `tokenizer_model`; another model type or other pieces are a ModelDirError saying so."""
    loaded = load_model_dir(Path(directory), device)
    if not isinstance(loaded.model, PieceLM):
        raise ModelDirError(f"{directory} holds a {loaded.meta.get('model_type')!r} model, not "
                            "a language model; pass a model/ folder written by asr-lm-train")
    if file_sha256(loaded.path / TOKENIZER_FILE) != file_sha256(tokenizer_model):
        raise ModelDirError(f"{directory}: its spm.model differs from the ASR model's "
                            f"{tokenizer_model}; train the language model with the ASR "
                            "model's sentencepiece model (asr-lm-train data.tokenizer=...)")
    return loaded
