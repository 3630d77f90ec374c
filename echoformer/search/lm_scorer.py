"""A language model as a full scorer of beam search (shallow fusion), over any model that
decodes incrementally."""

from __future__ import annotations

from typing import Any, Protocol

from torch import Tensor

from echoformer.search.scorer import Scorer


class IncrementalLM(Protocol):
    """A language model that extends R histories by one token a call; its state is its own
    (None before the first token)."""

    def step(self, last: Tensor, state: Any) -> tuple[Tensor, Any]:
        """log p(next | history) (R, V) after feeding the newest tokens `last` (R,)."""

    def select_state(self, state: Any, rows: Tensor) -> Any:
        """The state for rows `rows` (R',) of the current R (repeats allowed)."""


class LMScorer(Scorer):
    """log p_lm of every next token, one step of `lm` per search step."""

    def __init__(self, lm: IncrementalLM) -> None:
        self.lm = lm

    def score(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self.lm.step(tokens[:, -1], state)

    def select_state(self, state: Any, rows: Tensor) -> Any:
        return self.lm.select_state(state, rows)
