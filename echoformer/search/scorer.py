"""The scorer interface of beam search, in the spirit of ESPnet's `ScorerInterface`.

A scorer gives every vocabulary entry a score (a log-probability, or any additive term) as the
next token of each of R hypotheses at once; rows are sentences × beam, row = sentence·K + beam.
Beam search sums the scores of several scorers with weights, so adding a scorer (a language
model, a CTC prefix scorer, a length bonus) is configuration, not a new search loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor


class Scorer(ABC):
    """Scores next tokens for R hypotheses in parallel; its state is opaque to the search."""

    def init_state(self, context: Any, beam_size: int) -> Any:
        """State for batch × beam_size rows, from the encoded input `context`."""
        return None

    @abstractmethod
    def score(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """tokens: (R, t) every hypothesis so far, begin token first.

        Returns (scores (R, V) of each next token, the state after this step).
        """

    def score_topk(self, tokens: Tensor, state: Any, k: int) -> tuple[Tensor, Tensor, Any]:
        """The k best next tokens: (scores (R, k'), ids (R, k'), state), k' ≤ k.

        Override when the best few are cheaper than all V (SVD-softmax)."""
        scores, state = self.score(tokens, state)
        best = scores.topk(min(k, scores.shape[-1]), dim=-1)
        return best.values, best.indices, state

    def select_state(self, state: Any, rows: Tensor) -> Any:
        """The state for rows `rows` (R',) of the current R, in that order (repeats allowed)."""
        return state


class WeightedSum(Scorer):
    """Several full scorers as one: Σ weight · scores (e.g. decoder + language model, so that
    a pre-beam ranks by both, as ESPnet's does); its state holds each part's."""

    def __init__(self, parts: dict[str, tuple[Scorer, float]]) -> None:
        self.parts = parts

    def init_state(self, context: Any, beam_size: int) -> dict[str, Any]:
        return {name: s.init_state(context, beam_size) for name, (s, _) in self.parts.items()}

    def score(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        total, new_state = None, {}
        for name, (scorer, weight) in self.parts.items():
            scores, new_state[name] = scorer.score(tokens, state[name])
            total = weight * scores if total is None else total + weight * scores
        return total, new_state

    def select_state(self, state: dict[str, Any], rows: Tensor) -> dict[str, Any]:
        return {name: s.select_state(state[name], rows) for name, (s, _) in self.parts.items()}
