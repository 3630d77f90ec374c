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
    """CTC prefix state of N running hypotheses (one row each).

    r: (T, 2, N) log-probabilities that the prefix is emitted by frame t, ending in a
    non-blank (0) or a blank (1); log_psi: (N,) prefix scores; last: (N,) last token (-1 for
    none); rows: (N,) utterance of each hypothesis; length: tokens in every prefix.
    """

    r: Tensor
    log_psi: Tensor
    last: Tensor
    rows: Tensor
    length: int = 0


class CTCPrefixScore:
    """Prefix scores log p_ctc(g·c…|x) of hypotheses g extended by candidate tokens c.

    Built once per batch from log_probs (B, T, V) and lengths (B,). Frames past an
    utterance's end emit blank with probability 1, so every row can run to T. The score of
    `eos` is the probability of the whole hypothesis, log p_ctc(g|x).
    """

    def __init__(self, log_probs: Tensor, lengths: Tensor, eos: int, blank: int = BLANK_ID
                 ) -> None:
        self.blank, self.eos = blank, eos
        t_max = log_probs.shape[1]
        padded = torch.arange(t_max, device=log_probs.device)[None] >= lengths[:, None]
        x = log_probs.float().masked_fill(padded[..., None], NEG_INF)
        x[..., blank] = x[..., blank].masked_fill(padded, 0.0)
        self.x = x.transpose(0, 1)  # (T, B, V)
        self.last_frame = (lengths - 1).clamp_min(0)

    def initial_state(self, rows: Tensor) -> CTCPrefixState:
        """State of the empty prefix for hypotheses of utterances `rows` (N,)."""
        blank_path = self.x[:, rows, self.blank].cumsum(0)  # (T, N)
        r = torch.stack([torch.full_like(blank_path, NEG_INF), blank_path], dim=1)
        n = len(rows)
        return CTCPrefixState(r, blank_path.new_zeros(n), rows.new_full((n,), -1), rows, 0)

    def score(self, state: CTCPrefixState, candidates: Tensor) -> tuple[Tensor, Tensor]:
        """Prefix scores of each hypothesis extended by each of its candidates.

        candidates: (N, C) token ids. Returns (log_psi (N, C), r (T, 2, N, C)); the score
        increment over the hypothesis is `log_psi - state.log_psi[:, None]`.
        """
        t_max = self.x.shape[0]
        n, c = candidates.shape
        xs = self.x[:, state.rows[:, None], candidates]  # (T, N, C)
        r_sum = torch.logaddexp(state.r[:, 0], state.r[:, 1])  # (T, N)
        # a repeated token needs a blank in between: only blank-ending paths continue it
        log_phi = torch.where(candidates[None] == state.last[None, :, None],
                              state.r[:, 1, :, None], r_sum[..., None])  # (T, N, C)
        r = xs.new_full((t_max, 2, n, c), NEG_INF)
        if state.length == 0:
            r[0, 0] = xs[0]
        start = max(state.length, 1)
        log_psi = r[start - 1, 0].clone()
        for t in range(start, t_max):
            r[t, 0] = torch.logaddexp(r[t - 1, 0], log_phi[t - 1]) + xs[t]
            r[t, 1] = torch.logaddexp(r[t - 1, 0], r[t - 1, 1]) + self.x[t, state.rows, None,
                                                                           self.blank]
            log_psi = torch.logaddexp(log_psi, log_phi[t - 1] + xs[t])
        whole = r_sum[-1][:, None].expand(n, c)
        log_psi = torch.where(candidates == self.eos, whole, log_psi)
        return log_psi, r

    def select(self, state: CTCPrefixState, log_psi: Tensor, r: Tensor, hyp: Tensor,
               candidate: Tensor, token: Tensor) -> CTCPrefixState:
        """State of the chosen extensions: hypothesis `hyp` (M,) + its candidate number
        `candidate` (M,), which is token `token` (M,); log_psi, r as returned by `score`."""
        return CTCPrefixState(r[:, :, hyp, candidate], log_psi[hyp, candidate], token,
                              state.rows[hyp], state.length + 1)
