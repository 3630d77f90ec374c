"""CTC prefix scores as a partial scorer of the shared beam search (joint CTC/attention).

A partial scorer scores only a few candidate next tokens per hypothesis (those the full
scorers, here the attention decoder, rank highest: the pre-beam), because a CTC prefix score
costs a pass over all encoder frames. `PreBeamScorer` puts a full scorer and weighted partial
scorers together behind the `Scorer` interface of `echoformer.search`, so
`BeamSearch({"joint": PreBeamScorer(decoder, {"ctc": (ctc, λ)}, 1 - λ)}, ...)` is
ESPnet-style joint decoding: score = (1 − λ)·log p_att + λ·log p_ctc-prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from asr.ctc import CTCPrefixScore, CTCPrefixState
from echoformer.search.decoder_scorer import EncoderOutput
from echoformer.search.scorer import Scorer

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


class CTCPrefixScorer:
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


class PreBeamScorer(Scorer):
    """A full scorer plus weighted partial scorers on its `pre_beam` best tokens (+ eos).

    Tokens outside the pre-beam score −inf. full_weight multiplies the full scorer's scores;
    partials: name -> (partial scorer, weight).
    """

    def __init__(self, full: Scorer, partials: dict[str, tuple[Any, float]],
                 full_weight: float, pre_beam: int, eos_id: int) -> None:
        self.full, self.partials = full, partials
        self.full_weight, self.pre_beam, self.eos_id = full_weight, pre_beam, eos_id

    def init_state(self, context: Any, beam_size: int) -> dict[str, Any]:
        states = {name: p.init_state(context, beam_size) for name, (p, _) in self.partials.items()}
        return {"full": self.full.init_state(context, beam_size), **states}

    def score(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        values, ids, state = self._scored_candidates(tokens, state, self.pre_beam)
        total = values.new_full((values.shape[0], self._vocab), NEG_INF)
        return total.scatter_(1, ids, values), state

    def score_topk(self, tokens: Tensor, state: dict[str, Any], k: int
                   ) -> tuple[Tensor, Tensor, dict[str, Any]]:
        values, ids, state = self._scored_candidates(tokens, state, max(k, self.pre_beam))
        best = values.topk(min(k, values.shape[1]), dim=1)
        return best.values, ids.gather(1, best.indices), state

    def select_state(self, state: dict[str, Any], rows: Tensor) -> dict[str, Any]:
        selected = {"full": self.full.select_state(state["full"], rows)}
        for name, (partial, _) in self.partials.items():
            selected[name] = partial.select_state(state[name], rows)
        return selected

    def _scored_candidates(self, tokens: Tensor, state: dict[str, Any], width: int
                           ) -> tuple[Tensor, Tensor, dict[str, Any]]:
        """(weighted scores (R, C), ids (R, C), state) for the pre-beam and eos of each row."""
        full_scores, full_state = self.full.score(tokens, state["full"])
        self._vocab = full_scores.shape[1]
        with_eos = full_scores.clone()
        with_eos[:, self.eos_id] = float("inf")  # always a candidate: the search may force it
        ids = with_eos.topk(min(width + 1, self._vocab), dim=1).indices
        total = self.full_weight * full_scores.gather(1, ids)
        new_state = {"full": full_state}
        for name, (partial, weight) in self.partials.items():
            scores, new_state[name] = partial.score_partial(tokens, ids, state[name])
            total = total + weight * scores
        return total, ids, new_state
