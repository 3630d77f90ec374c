"""CTC prefix scores from scratch, by torch's CTC loss: the reference the tests compare with.

r_t(g) = p(frames 0..t emit exactly g) = exp(−ctc_loss(x[:t+1], g)); the prefix score is
ψ(g·c) = Σ_t φ_{t−1}·x_t(c) with φ_{t−1} = r_{t−1}(g), or r_{t−2}(g)·x_{t−1}(blank) when c
repeats g's last token (a blank must separate them), and r_{−1}(∅) = 1; ψ(g·eos) = r_{L−1}(g).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from echoformer.search import PartialScorer

NEG_INF = float("-inf")


def forward_variables(log_probs, prefix):
    """log r_t(prefix) for t = 0..L−1. log_probs: (L, V) of one utterance."""
    frames = log_probs.shape[0]
    x = log_probs.double()[:, None].expand(frames, frames, -1)
    targets = torch.tensor([list(prefix) or [1]] * frames)
    return -F.ctc_loss(x, targets, torch.arange(1, frames + 1),
                       torch.full((frames,), len(prefix)), reduction="none")


def prefix_scores(log_probs, prefix, tokens, eos, blank=0):
    """log ψ(prefix·token) for each of `tokens` (floats). log_probs: (L, V) of one utterance."""
    r = forward_variables(log_probs, prefix)
    x = log_probs.double()
    start = torch.tensor([0.0 if not prefix else NEG_INF], dtype=torch.float64)
    before = torch.cat([start, r[:-1]])  # r_{t−1}
    before_blank = torch.cat([torch.full((2,), NEG_INF, dtype=torch.float64),
                              r[:-2] + x[1:-1, blank]])[: len(r)]  # r_{t−2}·x_{t−1}(blank)
    scores = []
    for token in tokens:
        phi = before_blank if prefix and token == prefix[-1] else before
        scores.append(float(r[-1]) if token == eos else float((phi + x[:, token]).logsumexp(0)))
    return scores


class ReferencePrefixScorer(PartialScorer):
    """A partial scorer like `asr.ctc_scorer.CTCPrefixScorer` that scores every hypothesis
    from scratch (slow, obviously right)."""

    def __init__(self, eos_id, blank_id=0):
        self.eos_id, self.blank_id = eos_id, blank_id

    def init_state(self, context, beam_size):
        lengths = context.mask.sum(1).tolist()
        per_utterance = [lp[:n] for lp, n in zip(context.ctc_log_probs, lengths)]
        rows = torch.arange(len(lengths)).repeat_interleave(beam_size)
        return per_utterance, rows

    def score_partial(self, tokens, candidates, state):
        per_utterance, rows = state
        scores = []
        for row, hyp, cands in zip(rows.tolist(), tokens[:, 1:].tolist(), candidates.tolist()):
            log_probs = per_utterance[row]
            before = (prefix_scores(log_probs, hyp[:-1], hyp[-1:], self.eos_id, self.blank_id)[0]
                      if hyp else 0.0)
            after = prefix_scores(log_probs, hyp, cands, self.eos_id, self.blank_id)
            scores.append([a - before if before > NEG_INF else NEG_INF for a in after])
        return torch.tensor(scores, dtype=torch.float32), state

    def select_state(self, state, rows):
        return state[0], state[1][rows.cpu()]
