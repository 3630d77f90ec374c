"""SVD-softmax (Shim et al., NIPS 2017): a cheaper output layer for large vocabularies.

Offline, once, from a trained output layer A (V×D) with bias b: A = UΣVᵀ, B = UΣ.
Per step, for hidden states h: h̃ = Vᵀh; preview logits z̃ = B[:, :W]·h̃[:W] + b for all V
words; the N words with the largest preview are the candidates (at least N: see
`SVDSoftmax._candidates`); their exact logits add B[i, W:]·h̃[W:]; one softmax over V uses
exact logits for the candidates, previews for the rest. With W = D and N = V it is the full
softmax.

The exact logits are computed as one dense product over the union of all rows' candidates
(gathered in cache-sized chunks), not by a gather per row: a per-row gather moves N·D weights
per row and loses to the full layer already at a few rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_GATHER_ROWS = 2048  # union rows gathered at once: a few MB of weights, stays in cache
_MIN_SAMPLE_CANDIDATES = 256  # a sampled threshold needs this many candidates in the sample
_MAX_SAMPLE_STRIDE = 16
_SAMPLE_SLACK = 1.1


def full_logits(linear: nn.Linear, h: Tensor) -> Tensor:
    """Exact logits (..., V) of the full layer at inference, in the layout MKL runs fastest
    on CPU for a few rows: (A·hᵀ + b)ᵀ is ~2× `F.linear(h, A, b)` there (measured by
    `bench suite=layers`, which takes the faster of the two as its baseline)."""
    rows, bias = h.reshape(-1, h.shape[-1]), linear.bias
    logits = linear.weight @ rows.T
    if bias is not None:
        logits += bias[:, None]
    return logits.T.contiguous().reshape(*h.shape[:-1], -1)


@dataclass
class SVDFactors:
    """rotation: (D, D) so that h̃ = h @ rotation; head: (V, W) = B[:, :W]; tail: (V, D-W)."""

    rotation: Tensor
    head: Tensor
    tail: Tensor
    bias: Tensor

    @classmethod
    def from_linear(cls, weight: Tensor, bias: Tensor | None, window: int) -> SVDFactors:
        """Factor A = weight (V, D). B = A·V from the eigenvectors of AᵀA: no V×V work."""
        with torch.no_grad():
            a = weight.detach().float()
            gram = (a.T @ a).double()
            eigvals, eigvecs = torch.linalg.eigh(gram)  # ascending
            rotation = eigvecs.flip(-1).to(a.dtype).contiguous()
            bias = torch.zeros(a.shape[0]) if bias is None else bias.detach().float()
            return cls(rotation, a @ rotation[:, :window], a @ rotation[:, window:],
                       bias.contiguous())

    def state_dict(self) -> dict[str, Tensor]:
        return {"rotation": self.rotation, "head": self.head, "tail": self.tail,
                "bias": self.bias}


class SVDSoftmax(nn.Module):
    """Log-probabilities over V from a Linear output layer: full in training, SVD at inference.

    Args:
        linear: the trained output layer (V, D) (its parameters stay shared, e.g. tied).
        window: W, preview width (default D/8). candidates: N (default V/16).
        max_rows: calls with more rows than this use the full layer: the candidates of many
            independent rows cover most of the vocabulary, and gathering them costs more
            than the full product (measured by `bench suite=layers`). None: never.
    The factors are computed lazily at the first inference call and dropped by `.train()`;
    call `refresh()` after changing the weights by hand.
    """

    def __init__(self, linear: nn.Linear, window: int | None = None,
                 candidates: int | None = None, max_rows: int | None = 16) -> None:
        super().__init__()
        vocab, dim = linear.weight.shape
        self.linear = linear
        self.window = window or max(1, dim // 8)
        self.candidates = candidates or max(1, vocab // 16)
        if not 1 <= self.window <= dim:
            raise ValueError(f"SVD-softmax window W={self.window} must be in 1..D={dim}")
        if not 1 <= self.candidates <= vocab:
            raise ValueError(f"SVD-softmax candidates N={self.candidates} must be in 1..V={vocab}")
        self.max_rows = max_rows
        self._factors: SVDFactors | None = None

    @property
    def factors(self) -> SVDFactors:
        if self._factors is None:
            self.refresh()
        return self._factors

    def refresh(self, factors: SVDFactors | None = None) -> None:
        """Recompute the factors from the layer's weights, or install saved ones."""
        self._factors = factors or SVDFactors.from_linear(
            self.linear.weight, self.linear.bias, self.window)

    def train(self, mode: bool = True) -> SVDSoftmax:
        if mode:  # training changes the weights: factor them again at the next inference
            self._factors = None
        return super().train(mode)

    def forward(self, h: Tensor) -> Tensor:
        """h: (..., D) -> log-probabilities (..., V); the full layer while training."""
        if self.training:
            return F.log_softmax(self.linear(h), dim=-1)
        return self.logits(h).log_softmax(dim=-1)

    def topk(self, h: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Beam-search fast path: the k best (log-probabilities, word ids), each (..., k)."""
        if self._full_layer_is_cheaper(h):
            logits = self._full_logits(h)
            values, ids = logits.topk(k, dim=-1)
            return values - logits.logsumexp(dim=-1, keepdim=True), ids
        logits, is_candidate = self._mixed_logits(h)
        k = min(k, self.candidates)  # the best words are candidates, with exact logits
        values, ids = logits.masked_fill(~is_candidate, float("-inf")).topk(k, dim=-1)
        return values - logits.logsumexp(dim=-1, keepdim=True), ids

    def logits(self, h: Tensor) -> Tensor:
        """(..., D) -> (..., V): exact logits for each row's N candidates, previews elsewhere."""
        if self._full_layer_is_cheaper(h):
            return self._full_logits(h)
        return self._mixed_logits(h)[0]

    def _full_layer_is_cheaper(self, h: Tensor) -> bool:
        return self.max_rows is not None and h[..., 0].numel() > self.max_rows

    def _full_logits(self, h: Tensor) -> Tensor:
        return full_logits(self.linear, h)

    def union_size(self, h: Tensor) -> int:
        """How many distinct words are candidates of at least one row of h (..., D)."""
        return int(self._preview(h)[2].any(0).sum())

    def _preview(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rotated rows h̃ (R, D), preview logits (R, V) and each row's candidates (R, V) bool."""
        f = self.factors
        rows = h.reshape(-1, h.shape[-1]).to(f.rotation.dtype) @ f.rotation
        # (head·h̃ᵀ)ᵀ: MKL runs this layout faster than h̃·headᵀ for a few rows.
        preview = torch.addmm(f.bias[:, None], f.head, rows[:, : self.window].T).T.contiguous()
        return rows, preview, self._candidates(preview)

    def _candidates(self, preview: Tensor) -> Tensor:
        """(R, V) bool: the words whose preview reaches the row's N-th largest preview.

        For large N the threshold comes from a strided sample of the row (a selection over
        V/s words instead of V), lowered by `_SAMPLE_SLACK` so that about 10% more than N
        words pass; rows where fewer than N pass get the exact threshold. Either way every
        row keeps at least its N best previews.
        """
        n, vocab = self.candidates, preview.shape[-1]
        if n >= vocab:
            return torch.ones_like(preview, dtype=torch.bool)
        stride = min(_MAX_SAMPLE_STRIDE, n // _MIN_SAMPLE_CANDIDATES)
        if stride > 1:
            sample = preview[:, ::stride]
            rank = min(sample.shape[-1], math.ceil(_SAMPLE_SLACK * n / stride))
            threshold = sample.topk(rank, dim=-1, sorted=False).values.amin(-1, keepdim=True)
            is_candidate = preview >= threshold
            short = is_candidate.sum(-1) < n
            if not short.any():
                return is_candidate
        else:
            is_candidate = preview.new_zeros(preview.shape, dtype=torch.bool)
            short = torch.ones(preview.shape[0], dtype=torch.bool, device=preview.device)
        rows = preview[short]
        threshold = rows.topk(n, dim=-1, sorted=False).values.amin(-1, keepdim=True)
        is_candidate[short] = rows >= threshold
        return is_candidate

    def _mixed_logits(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (..., V), exact for each row's candidates, previews elsewhere; and the
        candidate mask (..., V)."""
        shape = h.shape[:-1]
        rows, logits, is_candidate = self._preview(h)
        tail = rows[:, self.window:]
        if tail.shape[-1]:
            union = is_candidate.any(0).nonzero().squeeze(1)
            products = self._union_tail_products(tail, union)
            logits.index_add_(1, union, products.mul_(is_candidate[:, union]))
        return logits.view(*shape, -1), is_candidate.view(*shape, -1)

    def _union_tail_products(self, tail: Tensor, union: Tensor) -> Tensor:
        """B[i, W:]·h̃[W:] (R, U) for the words i of the union, gathered in cached chunks."""
        weights = self.factors.tail
        products = tail.new_empty(tail.shape[0], len(union))
        chunk = weights.new_empty(min(_GATHER_ROWS, len(union)), weights.shape[1])
        for start in range(0, len(union), _GATHER_ROWS):
            ids = union[start:start + _GATHER_ROWS]
            torch.index_select(weights, 0, ids, out=chunk[: len(ids)])
            torch.mm(tail, chunk[: len(ids)].T, out=products[:, start:start + len(ids)])
        return products
