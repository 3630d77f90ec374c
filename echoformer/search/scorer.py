"""The scorer interfaces of beam search, in the shape of ESPnet's `ScorerInterface` and
`PartialScorerInterface`.

A full scorer (`Scorer`) gives every vocabulary entry a score (a log-probability, or any
additive term) as the next token of each of R hypotheses at once; rows are sentences × beam,
row = sentence·K + beam. A partial scorer (`PartialScorer`) scores only given candidates, the
pre-beam that the full scorers rank highest, because scoring all V would cost too much (CTC
prefix scores pass over every encoder frame). Beam search sums the scores of all its scorers,
each with its weight, so adding one (a language model, a CTC prefix scorer, a length bonus) is
configuration, not a new search loop.
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


class PartialScorer(ABC):
    """Scores given candidate next tokens for R hypotheses; its state is opaque to the search."""

    def init_state(self, context: Any, beam_size: int) -> Any:
        """State for batch × beam_size rows, from the encoded input `context`."""
        return None

    @abstractmethod
    def score_partial(self, tokens: Tensor, candidates: Tensor, state: Any
                      ) -> tuple[Tensor, Any]:
        """tokens: (R, t) every hypothesis so far, begin token first; candidates: (R, C)
        token ids. Returns (scores (R, C) of each candidate, the state after this step)."""

    def select_state(self, state: Any, rows: Tensor) -> Any:
        """The state for rows `rows` (R',) of the current R, in that order (repeats allowed)."""
        return state
