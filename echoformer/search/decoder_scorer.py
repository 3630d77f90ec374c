"""A Transformer decoder + output layer as a beam-search scorer, decoding incrementally."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from echoformer.output_layer import OutputLayer
from echoformer.search.scorer import Scorer
from echoformer.transformer import DecoderCache, TransformerDecoder


@dataclass
class EncoderOutput:
    """memory: (B, S, D) encoder states; mask: (B, S) bool, True for real positions."""

    memory: Tensor
    mask: Tensor


@dataclass
class DecoderState:
    """memory: (R, S, D), needed only at the first step (then the cache holds its keys and
    values); mask: (R, S); cache: the decoder's key/value cache for the R rows."""

    memory: Tensor | None
    mask: Tensor
    cache: DecoderCache


class DecoderScorer(Scorer):
    """log p(next token | hypothesis, source) from a `TransformerDecoder` and its output layer.

    Each step feeds only the newest token and reuses the cached keys and values.
    """

    def __init__(self, decoder: TransformerDecoder, output: OutputLayer) -> None:
        self.decoder, self.output = decoder, output

    def init_state(self, context: EncoderOutput, beam_size: int) -> DecoderState:
        batch = context.memory.shape[0]
        sentence = torch.arange(batch, device=context.memory.device)
        return DecoderState(context.memory.repeat_interleave(beam_size, dim=0),
                            context.mask.repeat_interleave(beam_size, dim=0),
                            self.decoder.new_cache(sentence.repeat_interleave(beam_size)))

    def _hidden(self, tokens: Tensor, state: DecoderState) -> Tensor:
        """The newest position's hidden state (R, D); advances the cache by one step."""
        hidden = self.decoder(tokens[:, -1:], state.memory, state.mask, state.cache)
        state.memory = None  # from now on the cache holds the memory's keys and values
        return hidden[:, -1]

    def score(self, tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        return self.output.log_probs(self._hidden(tokens, state)), state

    def score_topk(self, tokens: Tensor, state: DecoderState, k: int
                   ) -> tuple[Tensor, Tensor, DecoderState]:
        values, ids = self.output.topk(self._hidden(tokens, state), k)
        return values, ids, state

    def select_state(self, state: DecoderState, rows: Tensor) -> DecoderState:
        assert state.memory is None, "select rows after the first step"
        state.cache.select(rows)
        return DecoderState(None, state.mask.index_select(0, rows), state.cache)
