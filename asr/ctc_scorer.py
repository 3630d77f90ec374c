"""CTC prefix scores as a partial scorer of the shared beam search (joint CTC/attention).

A partial scorer scores only a few candidate next tokens per hypothesis (those the full
scorers, here the attention decoder, rank highest: the pre-beam), because a CTC prefix score
costs a pass over all encoder frames. With the weights {"decoder": 1 − λ, "ctc": λ},

    BeamSearch({"decoder": decoder, "ctc": CTCPrefixScorer(EOS_ID)}, options, ..., weights)

is ESPnet-style joint decoding: score = (1 − λ)·log p_att + λ·log p_ctc-prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
import torch
from torch import Tensor

from asr.ctc import CTCPrefixScore, CTCPrefixState
from echoformer.search.decoder_scorer import EncoderOutput
from echoformer.search.scorer import PartialScorer

NEG_INF = float("-inf")


@dataclass
class ASREncoderOutput(EncoderOutput):
    """What the ASR scorers read: memory (B, T', D), mask (B, T'), CTC log_probs (B, T', V)."""

    ctc_log_probs: Tensor | None = None


@dataclass
class _CTCScorerState:
    score: CTCPrefixScore
    # the rows' hypotheses as last scored; the next step extends them by the token the search
    # chose, so forward variables are computed only for the extensions it keeps
    prefix: CTCPrefixState


class CTCPrefixScorer(PartialScorer):
    """Partial scorer: Δ log p_ctc-prefix of each hypothesis extended by each candidate."""

    def __init__(self, eos_id: int, blank_id: int = 0) -> None:
        self.eos_id, self.blank_id = eos_id, blank_id

    def init_state(self, context: ASREncoderOutput, beam_size: int) -> _CTCScorerState:
        lengths = context.mask.sum(1)
        score = CTCPrefixScore(context.ctc_log_probs, lengths, self.eos_id, self.blank_id)
        rows = torch.arange(len(lengths), device=lengths.device).repeat_interleave(beam_size)
        return _CTCScorerState(score, score.initial_state(rows))

    def score_partial(self, tokens: Tensor, candidates: Tensor, state: _CTCScorerState
                      ) -> tuple[Tensor, _CTCScorerState]:
        """tokens: (R, t) hypotheses so far, begin token first; candidates: (R, C).
        Returns ((R, C) scores, state).

        A hypothesis that is already impossible (−inf) scores −inf for every candidate.
        """
        prefix = state.prefix
        if prefix.length < tokens.shape[1] - 1:
            assert prefix.length == tokens.shape[1] - 2, "one token a step"
            prefix = state.score.extend(prefix, tokens[:, -1])
        log_psi = state.score.score(prefix, candidates)
        before = prefix.log_psi[:, None]
        delta = torch.where(torch.isfinite(before), log_psi - before, NEG_INF)
        return delta, _CTCScorerState(state.score, prefix)

    def select_state(self, state: _CTCScorerState, rows: Tensor) -> _CTCScorerState:
        return _CTCScorerState(state.score, state.prefix.select(rows))
