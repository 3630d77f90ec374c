"""Batched beam search: B sentences × K beams advance together, one token a step.

Each step every live hypothesis proposes its 2K best next tokens by the weighted sum of its
scorers: the full scorers' (with a single one its `score_topk` fast path, e.g. SVD-softmax)
plus, on their pre-beam, the partial scorers' (CTC prefix scores); per sentence the 2K best
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
from echoformer.search.scorer import PartialScorer, Scorer


class BeamSearch:
    """Beam search over weighted full and partial scorers (ESPnet's shape).

    scorers: name -> a `Scorer` (full: scores every token) or a `PartialScorer` (scores the
    pre-beam only); weights: name -> weight (missing = 1.0). A hypothesis scores
    Σ weight · score over all scorers. pre_beam: the full scorers' best tokens per row that the
    partial scorers score, ranked by the full scorers' weighted sum (by the one full scorer's
    own scores when there is one, so that a weight of 0 still ranks), plus the end token;
    a step that proposes more tokens per row widens it to as many. Default ⌊1.5·K⌋, at least
    2 (ESPnet's pre-beam ratio); unused without partial scorers.
    bos_id/eos_id: begin and end tokens; forbidden_ids: tokens never produced (e.g. padding).
    """

    def __init__(self, scorers: Mapping[str, Scorer | PartialScorer], options: DecodingOptions,
                 bos_id: int, eos_id: int, weights: Mapping[str, float] | None = None,
                 forbidden_ids: Sequence[int] = (), pre_beam: int | None = None) -> None:
        self.scorers = dict(scorers)
        self.full = {n: s for n, s in self.scorers.items() if not isinstance(s, PartialScorer)}
        self.partial = {n: s for n, s in self.scorers.items() if isinstance(s, PartialScorer)}
        if not self.full:
            raise ValueError("beam search needs at least one full scorer (partial scorers "
                             "score only the full scorers' best tokens)")
        unknown = sorted(set(weights or {}) - set(self.scorers))
        assert not unknown, f"weights for scorers that are not there: {unknown}"
        self.weights = {name: (weights or {}).get(name, 1.0) for name in self.scorers}
        self.options = options
        self.pre_beam = pre_beam or max(2, int(1.5 * options.beam_size))
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
        """Each row's best next tokens: (weighted scores (R, C), ids (R, C)); updates states.

        With no row at its length limit, each row proposes its 2K + |blocked| best tokens and
        the blocked ones (forbidden; the end token before min_length) score −inf. Otherwise
        every token is ranked (−inf outside the pre-beam): blocked tokens and, in rows at
        their limit, all but the end token score −inf, and each row's 2K best are kept.
        """
        k = self.options.beam_size
        end_blocked = step < self.options.min_length
        if bool(forced.any()):
            total = self._score_all(tokens, states)
            total[:, self.forbidden_ids] = float("-inf")
            row_forced = forced.repeat_interleave(k)
            if end_blocked:
                total[~row_forced, self.eos_id] = float("-inf")
            end_only = torch.full_like(total, float("-inf"))  # rows at their limit may only end
            end_only[:, self.eos_id] = total[:, self.eos_id]
            total = torch.where(row_forced[:, None], end_only, total)
            best = total.topk(min(2 * k, total.shape[1]), dim=1)
            return best.values, best.indices
        blocked = self.forbidden_ids + ([self.eos_id] if end_blocked else [])
        values, ids = self._score_best(tokens, states, 2 * k + len(blocked))
        if blocked:
            is_blocked = (ids[..., None] == ids.new_tensor(blocked)).any(-1)
            values = values.masked_fill(is_blocked, float("-inf"))
        return values, ids

    def _score_best(self, tokens: Tensor, states: dict[str, Any], n: int
                    ) -> tuple[Tensor, Tensor]:
        """The n best next tokens of each row: (weighted scores (R, n'), ids (R, n')), n' ≤ n;
        a lone full scorer's `score_topk` (e.g. SVD-softmax) when there is nothing to add."""
        if self.partial:
            full, ranking = self._score_full(tokens, states)
            values, ids = self._score_pre_beam(tokens, states, full, ranking,
                                               max(self.pre_beam, n))
            best = values.topk(min(n, values.shape[1]), dim=1)
            return best.values, ids.gather(1, best.indices)
        if len(self.full) == 1:
            (name, scorer), = self.full.items()
            values, ids, states[name] = scorer.score_topk(tokens, states[name], n)
            return values * self.weights[name], ids
        full, _ = self._score_full(tokens, states)
        best = full.topk(min(n, full.shape[1]), dim=1)
        return best.values, best.indices

    def _score_all(self, tokens: Tensor, states: dict[str, Any]) -> Tensor:
        """Weighted scores of every next token (R, V), −inf outside the pre-beam."""
        full, ranking = self._score_full(tokens, states)
        if not self.partial:
            return full
        values, ids = self._score_pre_beam(tokens, states, full, ranking, self.pre_beam)
        return full.new_full(full.shape, float("-inf")).scatter_(1, ids, values)

    def _score_full(self, tokens: Tensor, states: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """(Σ weight · scores of the full scorers (R, V), what ranks the pre-beam (R, V))."""
        total = scores = None
        for name, scorer in self.full.items():
            scores, states[name] = scorer.score(tokens, states[name])
            weighted = self.weights[name] * scores
            total = weighted if total is None else total + weighted
        return total, (scores if len(self.full) == 1 else total)

    def _score_pre_beam(self, tokens: Tensor, states: dict[str, Any], full: Tensor,
                        ranking: Tensor, width: int) -> tuple[Tensor, Tensor]:
        """Each row's `width` best tokens by `ranking` and the end token (always a candidate:
        the search may force it), scored: (full + Σ weight · partial scores (R, C), ids)."""
        with_end = ranking.clone()
        with_end[:, self.eos_id] = float("inf")
        ids = with_end.topk(min(width + 1, with_end.shape[1]), dim=1).indices
        values = full.gather(1, ids)
        for name, scorer in self.partial.items():
            scores, states[name] = scorer.score_partial(tokens, ids, states[name])
            values = values + self.weights[name] * scores
        return values, ids

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
