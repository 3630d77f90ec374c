"""CTC: output head and loss, greedy decoding, prefix beam search and a prefix scorer.

The blank is id 0 (the tokenizer's pad id, which never occurs in a transcript). Decoding is
batched over utterances: `ctc_prefix_beam_search` keeps a (B, K) beam of prefixes as tensors
and advances all utterances frame by frame together; `CTCPrefixScore` scores (hypotheses ×
candidate tokens) of a batched attention beam search at once (Watanabe et al., 2017, "Hybrid
CTC/attention"; ESPnet's `CTCPrefixScoreTH` is the model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BLANK_ID = 0
NEG_INF = float("-inf")


class CTCHead(nn.Module):
    """Linear(D, V) + log-softmax over encoder frames, and the CTC loss."""

    def __init__(self, d_model: int, vocab_size: int, dropout: float = 0.0,
                 blank: int = BLANK_ID) -> None:
        super().__init__()
        self.blank = blank
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(d_model, vocab_size)

    def log_probs(self, encoded: Tensor) -> Tensor:
        """(B, T, D) -> (B, T, V) log-probabilities."""
        return F.log_softmax(self.proj(self.dropout(encoded)).float(), dim=-1)

    def loss(self, encoded: Tensor, lengths: Tensor, targets: Tensor, target_lengths: Tensor
             ) -> Tensor:
        """CTC loss summed over the batch (utterances that cannot align count 0).

        encoded: (B, T, D); lengths: (B,); targets: (B, S) padded token ids; target_lengths: (B,).
        """
        log_probs = self.log_probs(encoded).transpose(0, 1)  # (T, B, V)
        return F.ctc_loss(log_probs, targets, lengths, target_lengths, blank=self.blank,
                          reduction="sum", zero_infinity=True)


def ctc_greedy_search(log_probs: Tensor, lengths: Tensor, blank: int = BLANK_ID
                      ) -> list[list[int]]:
    """Best path, repeats collapsed, blanks removed. log_probs: (B, T, V); lengths: (B,)."""
    best = log_probs.argmax(dim=-1)  # (B, T)
    keep = torch.ones_like(best, dtype=torch.bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    keep &= best != blank
    keep &= torch.arange(best.shape[1], device=best.device)[None] < lengths[:, None]
    return [row[k].tolist() for row, k in zip(best, keep)]


@dataclass(frozen=True)
class CTCHypothesis:
    """A prefix and its CTC prefix log-probability log(p_blank + p_nonblank)."""

    tokens: tuple[int, ...]
    score: float


def ctc_prefix_beam_search(log_probs: Tensor, lengths: Tensor, beam_size: int,
                           blank: int = BLANK_ID) -> list[list[CTCHypothesis]]:
    """The `beam_size` most probable label sequences of each utterance, best first.

    log_probs: (B, T, V); lengths: (B,). Each frame extends every prefix by the `beam_size`
    most likely non-blank tokens of that frame; prefixes that meet are merged (their
    probabilities summed), as in Hannun et al. (2014). All utterances advance together.
    """
    b, t_max, vocab = log_probs.shape
    k = beam_size
    c = min(beam_size, vocab - 1)
    dev = log_probs.device
    log_probs = log_probs.float()
    tokens = torch.full((b, k, t_max + 1), -1, dtype=torch.long, device=dev)  # -1: none
    length = torch.zeros(b, k, dtype=torch.long, device=dev)
    p_blank = torch.full((b, k), NEG_INF, device=dev)
    p_blank[:, 0] = 0.0
    p_nonblank = torch.full((b, k), NEG_INF, device=dev)
    batch, beam = torch.arange(b, device=dev)[:, None], torch.arange(k, device=dev)[None]
    no_blank = log_probs.clone()
    no_blank[..., blank] = NEG_INF
    cand_lp, cand_ids = no_blank.topk(c, dim=-1)  # (B, T, C) every frame's candidate tokens
    for t in range(t_max):
        frame = log_probs[:, t]  # (B, V)
        last = tokens.gather(2, (length - 1).clamp_min(0)[..., None]).squeeze(2)  # (B, K)
        total = torch.logaddexp(p_blank, p_nonblank)
        # the prefix itself: ends in blank, or repeats its last token (collapsed)
        stay_blank = total + frame[:, blank, None]
        stay_nonblank = p_nonblank + frame.gather(1, last.clamp_min(0)).masked_fill(last < 0,
                                                                                    NEG_INF)
        # prefix + c; a repeated token needs a blank in between
        ids, lp = cand_ids[:, t, None, :], cand_lp[:, t, None, :]  # (B, 1, C)
        source = torch.where(ids == last[..., None], p_blank[..., None], total[..., None])
        ext_nonblank = (source + lp).reshape(b, k * c)  # (B, K·C)
        ext_nonblank = _merge_into_existing(ext_nonblank, stay_nonblank, tokens, length, ids,
                                            total > NEG_INF)
        scores = torch.cat([torch.logaddexp(stay_blank, stay_nonblank), ext_nonblank], dim=1)
        best = scores.topk(k, dim=1).indices  # (B, K) over K stays + K·C extensions
        is_ext = best >= k
        parent = torch.where(is_ext, (best - k) // c, best)
        ext_index = (best - k).clamp_min(0)
        new_id = ids.expand(b, k, c).reshape(b, k * c).gather(1, ext_index)
        new_tokens, new_length = tokens[batch, parent], length[batch, parent]
        slot = torch.where(is_ext, new_length, t_max)  # column t_max is scratch space
        new_tokens[batch, beam, slot] = torch.where(is_ext, new_id, -1)
        new_length = new_length + is_ext.long()
        new_blank = torch.where(is_ext, NEG_INF, stay_blank.gather(1, parent))
        new_nonblank = torch.where(is_ext, ext_nonblank.gather(1, ext_index),
                                   stay_nonblank.gather(1, parent))
        active = (t < lengths)[:, None]  # (B, 1): finished utterances keep their beam
        tokens = torch.where(active[..., None], new_tokens, tokens)
        length = torch.where(active, new_length, length)
        p_blank = torch.where(active, new_blank, p_blank)
        p_nonblank = torch.where(active, new_nonblank, p_nonblank)
    return _collect(tokens, length, torch.logaddexp(p_blank, p_nonblank))


def _merge_into_existing(ext_nonblank: Tensor, stay_nonblank: Tensor, tokens: Tensor,
                         length: Tensor, ids: Tensor, valid: Tensor) -> Tensor:
    """Add each extension that equals a prefix already in the beam into that prefix's
    non-blank score (in place) and drop it from the extensions.

    ext_nonblank: (B, K·C); stay_nonblank, length, valid: (B, K); tokens: (B, K, T+1);
    ids: (B, 1, C). Extension (j, c) equals prefix i when i is j + [c].
    """
    b, k = length.shape
    c = ids.shape[-1]
    width = int(length.max()) + 1
    toks = tokens[..., :width]
    position = torch.arange(width, device=toks.device)
    parent_part = toks.masked_fill(position == (length - 1).clamp_min(0)[..., None], -1)
    parent_part = parent_part.masked_fill((length == 0)[..., None], -2)  # empty: no parent
    # is_child[b, i, j]: prefix i is prefix j plus one token
    is_child = (parent_part[:, :, None] == toks[:, None]).all(-1)
    is_child &= valid[:, :, None] & valid[:, None, :]
    last = toks.gather(2, (length - 1).clamp_min(0)[..., None]).squeeze(2)  # (B, K)
    # match[b, i, j, c]: extension (j, c) is prefix i
    match = is_child[..., None] & (ids[:, None, :, :] == last[:, :, None, None])
    match = match.reshape(b, k, k * c)
    if not bool(match.any()):
        return ext_nonblank
    merged = torch.where(match, ext_nonblank[:, None, :], NEG_INF).logsumexp(-1)  # (B, K)
    stay_nonblank.copy_(torch.logaddexp(stay_nonblank, merged))
    return ext_nonblank.masked_fill(match.any(1), NEG_INF)


def _collect(tokens: Tensor, length: Tensor, score: Tensor) -> list[list[CTCHypothesis]]:
    order = score.argsort(dim=1, descending=True)
    results = []
    for row_tokens, row_length, row_score, row_order in zip(tokens.tolist(), length.tolist(),
                                                            score.tolist(), order.tolist()):
        hyps = [CTCHypothesis(tuple(row_tokens[i][:row_length[i]]), row_score[i])
                for i in row_order if row_score[i] > NEG_INF]
        results.append(hyps)
    return results


@dataclass
class CTCPrefixState:
    """CTC forward variables of N running hypotheses (one row each), over all T frames.

    r_sum: (N, T) log-probability that frames 0..t emit exactly the prefix; r_blank: (N, T)
    the part of it whose frame t is a blank (−inf before the prefix can be emitted and past
    the utterance's end, except for the empty prefix); log_psi: (N,) prefix scores; last: (N,)
    last token (−1 for none); rows: (N,) utterance of each hypothesis; length: tokens in every
    prefix.
    """

    r_sum: Tensor
    r_blank: Tensor
    log_psi: Tensor
    last: Tensor
    rows: Tensor
    length: int = 0

    def select(self, rows: Tensor) -> CTCPrefixState:
        """The hypotheses `rows` (M,), in that order (repeats allowed)."""
        return CTCPrefixState(self.r_sum[rows], self.r_blank[rows], self.log_psi[rows],
                              self.last[rows], self.rows[rows], self.length)


class CTCPrefixScore:
    """Prefix scores log p_ctc(g·c…|x) of hypotheses g extended by candidate tokens c.

    Built once per batch from log_probs (B, T, V) and lengths (B,). The score of `eos` is the
    probability of the whole hypothesis, log p_ctc(g|x).

    Each hypothesis keeps its forward variables (`CTCPrefixState`). With φ_t = r_t(g), or only
    its blank-ending part when c repeats g's last token, the score of a candidate is one sum
    over frames, ψ(g·c) = Σ_t φ_{t−1}·x_t(c), so `score` rates all (N, C) pairs with a few
    tensor operations. The forward variables of g·c are computed only for the extensions the
    search keeps (`extend`), and without a loop over frames: the recursions
    r_t^n = (r_{t−1}^n + φ_{t−1})·x_t(c) and r_t^b = (r_{t−1}^n + r_{t−1}^b)·x_t(blank) are
    first-order linear, so r_t^n = X_t·Σ_{u≤t} φ_{u−1}/X_{u−1} with X the running product of
    x(c): in log space a cumsum and a logcumsumexp, done in float64 because the large running
    sums must cancel. A prefix of n tokens cannot be emitted before frame n − 1, so only the
    frames from n on are visited. Work per step is O(T·N·C) as in ESPnet's `CTCPrefixScoreTH`.
    """

    FLOOR = -1e10  # a log-probability of −inf inside an utterance: keeps running sums finite

    def __init__(self, log_probs: Tensor, lengths: Tensor, eos: int, blank: int = BLANK_ID
                 ) -> None:
        self.blank, self.eos = blank, eos
        t_max = log_probs.shape[1]
        self.valid = torch.arange(t_max, device=log_probs.device)[None] < lengths[:, None]
        # frames past an utterance's end emit only the blank, with probability 1
        x = log_probs.float().masked_fill(~self.valid[..., None], NEG_INF)
        x[..., blank] = x[..., blank].masked_fill(~self.valid, 0.0)
        self.x = x.transpose(1, 2).contiguous()  # (B, V, T)
        self.last_frame = (lengths - 1).clamp_min(0)

    def initial_state(self, rows: Tensor) -> CTCPrefixState:
        """State of the empty prefix for hypotheses of utterances `rows` (N,)."""
        blank_path = self.x[rows, self.blank].double().clamp_min(self.FLOOR).cumsum(-1).float()
        n = len(rows)
        return CTCPrefixState(blank_path, blank_path, blank_path.new_zeros(n),
                              rows.new_full((n,), -1), rows, 0)

    def score(self, state: CTCPrefixState, candidates: Tensor) -> Tensor:
        """(N, C) prefix scores of each hypothesis extended by each of its candidates (N, C);
        the score increment over the hypothesis is `log_psi - state.log_psi[:, None]`."""
        start, rows = state.length, state.rows
        x = self.x[:, :, start:][rows[:, None], candidates]  # (N, C, T − start)
        log_psi = x.add_(_before(state.r_sum, start)[:, None]).logsumexp(-1)
        # a candidate that repeats the last token follows only the blank-ending paths
        repeat = candidates == state.last[:, None]
        last = self.x[rows, state.last.clamp_min(0), start:]
        log_psi = log_psi.where(~repeat, (_before(state.r_blank, start) + last).logsumexp(-1,
                                                                                 keepdim=True))
        whole = state.r_sum.gather(1, self.last_frame[rows, None])  # (N, 1)
        return log_psi.where(candidates != self.eos, whole)

    def extend(self, state: CTCPrefixState, tokens: Tensor) -> CTCPrefixState:
        """State of each hypothesis extended by its token `tokens` (N,) (not eos)."""
        start, rows = state.length, state.rows
        r = state.r_blank.where(tokens[:, None] == state.last[:, None], state.r_sum)
        phi = _before(r, start).double()  # (N, T − start)
        x = self.x[rows, tokens, start:].double()
        log_psi = (phi + x).logsumexp(-1)
        valid = self.valid[rows, start:]
        cum_x = x.where(valid, 0.0).clamp_min(self.FLOOR).cumsum(-1)
        r_nonblank = cum_x + (phi - _shift(cum_x, 0.0)).logcumsumexp(-1)
        cum_blank = self.x[rows, self.blank, start:].double().clamp_min(self.FLOOR).cumsum(-1)
        r_blank = cum_blank + (_shift(r_nonblank, NEG_INF) - _shift(cum_blank, 0.0)
                               ).logcumsumexp(-1)
        r_sum = torch.logaddexp(r_nonblank, r_blank)
        full = state.r_sum.new_full((2, len(rows), self.x.shape[-1]), NEG_INF)
        full[0, :, start:] = r_sum.masked_fill(~valid, NEG_INF)
        full[1, :, start:] = r_blank.masked_fill(~valid, NEG_INF)
        return CTCPrefixState(full[0], full[1], log_psi.float(), tokens, rows, start + 1)


def _before(r: Tensor, start: int) -> Tensor:
    """r_{t−1} for frames t = start … T−1, r_{−1} being 1 (the empty prefix): (N, T − start)."""
    if start > 0:
        return r[:, start - 1:-1]
    return _shift(r, 0.0)


def _shift(x: Tensor, first: float) -> Tensor:
    """x one frame later along the last dimension: (…, T) -> [first, x_0, …, x_{T−2}]."""
    return torch.cat([x.new_full((*x.shape[:-1], 1), first), x[..., :-1]], dim=-1)
