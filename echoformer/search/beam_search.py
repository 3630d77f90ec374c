"""Batched beam search: B sentences × K beams advance together, one token a step.

Each step every live hypothesis proposes its 2K best next tokens (weighted sum of the scorers;
with a single scorer its `score_topk` fast path, e.g. SVD-softmax); per sentence the 2K best
extensions are kept. An end token among the first K of them finishes a hypothesis, the first K
others go on (as in fairseq). A sentence is done when K hypotheses have finished or its length
limit is reached (then only the end token may come); done sentences leave the batch.
Finished hypotheses are ranked by score / length^α. Beam size 1 is greedy search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from echoformer.search.options import DecodingOptions, Hypothesis
from echoformer.search.scorer import Scorer


class BeamSearch:
    """Beam search over weighted scorers.

    scorers: name -> `Scorer`; weights: name -> weight (missing = 1.0).
    bos_id/eos_id: begin and end tokens; forbidden_ids: tokens never produced (e.g. padding).
    """

    def __init__(self, scorers: Mapping[str, Scorer], options: DecodingOptions, bos_id: int,
                 eos_id: int, weights: Mapping[str, float] | None = None,
                 forbidden_ids: Sequence[int] = ()) -> None:
        if not scorers:
            raise ValueError("beam search needs at least one scorer")
        self.scorers = dict(scorers)
        self.weights = {name: (weights or {}).get(name, 1.0) for name in self.scorers}
        self.options = options
        self.bos_id, self.eos_id = bos_id, eos_id
        self.forbidden_ids = sorted(set(forbidden_ids))

    def __call__(self, context: Any, max_lengths: Sequence[int], device: torch.device | str
                 ) -> list[list[Hypothesis]]:
        """Search for B sentences whose encoded input is `context` (given to every scorer).

        max_lengths: (B,) most output tokens per sentence, end token included (see
        `DecodingOptions.length_limit`). Returns per sentence its n-best, best first.
        """
        k = self.options.beam_size
        batch = len(max_lengths)
        states = {name: scorer.init_state(context, k) for name, scorer in self.scorers.items()}
        sentence_ids = torch.arange(batch)
        limits = torch.tensor(list(max_lengths), device=device)
        tokens = torch.full((batch * k, 1), self.bos_id, dtype=torch.long, device=device)
        beam_scores = torch.full((batch, k), float("-inf"), device=device)
        beam_scores[:, 0] = 0.0  # at the start all beams are the same: keep one
        finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        while True:
            step = tokens.shape[1] - 1  # tokens generated so far
            forced = limits <= step + 1  # the next token must be the end token
            scores, ids = self._propose(tokens, states, forced, step)
            width = ids.shape[1]
            total = (beam_scores.reshape(-1, 1) + scores).view(-1, k * width)
            top_scores, top_pos = total.topk(min(2 * k, k * width), dim=1)
            origin = torch.div(top_pos, width, rounding_mode="floor")
            top_tokens = ids.view(-1, k * width).gather(1, top_pos)
            is_end = top_tokens == self.eos_id
            self._finish(finished, sentence_ids, tokens, top_scores, origin, is_end, step)
            done = forced | torch.tensor([len(finished[s]) >= k for s in sentence_ids.tolist()],
                                         device=device)
            if bool(done.all()):
                break
            # the first K extensions that do not end (a stable sort keeps their rank order)
            keep_rank = torch.sort(is_end.to(torch.int8), dim=1, stable=True).indices[:, :k]
            first_row = k * torch.arange(len(origin), device=device)[:, None]
            parents = origin.gather(1, keep_rank) + first_row
            alive = (~done).nonzero().squeeze(1)
            rows = parents[alive].reshape(-1)
            tokens = torch.cat([tokens.index_select(0, rows),
                                top_tokens.gather(1, keep_rank)[alive].reshape(-1, 1)], dim=1)
            beam_scores = top_scores.gather(1, keep_rank)[alive]
            limits = limits[alive]
            sentence_ids = sentence_ids[alive.cpu()]
            states = {name: self.scorers[name].select_state(state, rows)
                      for name, state in states.items()}
        return [sorted(hyps, key=lambda h: -h.normalized_score)[: self.options.nbest]
                for hyps in finished]

    def _propose(self, tokens: Tensor, states: dict[str, Any], forced: Tensor, step: int
                 ) -> tuple[Tensor, Tensor]:
        """Each row's best 2K next tokens: (weighted scores (R, C), ids (R, C)); updates states."""
        k = self.options.beam_size
        any_forced = bool(forced.any())
        end_blocked = step < self.options.min_length
        if len(self.scorers) == 1 and not any_forced:
            blocked = self.forbidden_ids + ([self.eos_id] if end_blocked else [])
            (name, scorer), = self.scorers.items()
            values, ids, states[name] = scorer.score_topk(tokens, states[name],
                                                          2 * k + len(blocked))
            values = values * self.weights[name]
            if blocked:
                is_blocked = (ids[..., None] == ids.new_tensor(blocked)).any(-1)
                values = values.masked_fill(is_blocked, float("-inf"))
            return values, ids
        total = None
        for name, scorer in self.scorers.items():
            scores, states[name] = scorer.score(tokens, states[name])
            weighted = scores * self.weights[name]
            total = weighted if total is None else total + weighted
        total[:, self.forbidden_ids] = float("-inf")
        row_forced = forced.repeat_interleave(k)
        if end_blocked:
            total[~row_forced, self.eos_id] = float("-inf")
        if any_forced:  # rows at their length limit may only end
            end_only = torch.full_like(total, float("-inf"))
            end_only[:, self.eos_id] = total[:, self.eos_id]
            total = torch.where(row_forced[:, None], end_only, total)
        best = total.topk(min(2 * k, total.shape[1]), dim=1)
        return best.values, best.indices

    def _finish(self, finished: list[list[Hypothesis]], sentence_ids: Tensor, tokens: Tensor,
                top_scores: Tensor, origin: Tensor, is_end: Tensor, step: int) -> None:
        """Record the end-token extensions among each sentence's first K (finite scores)."""
        k = self.options.beam_size
        ending = is_end[:, :k] & torch.isfinite(top_scores[:, :k])
        if not bool(ending.any()):
            return
        length = step + 1
        norm = length ** self.options.length_penalty
        picked = ending.nonzero().tolist()
        scores = top_scores[:, :k].cpu()
        origins = origin[:, :k].cpu()
        sentence_list = sentence_ids.tolist()
        for a, j in picked:
            sentence = sentence_list[a]
            if len(finished[sentence]) >= k:
                continue
            row = a * k + int(origins[a, j])
            score = float(scores[a, j])
            finished[sentence].append(Hypothesis(
                tuple(tokens[row, 1:].tolist()), score, score / norm))
