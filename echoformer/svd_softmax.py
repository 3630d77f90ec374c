"""SVD-softmax (Shim et al., NIPS 2017): a cheaper output layer for large vocabularies.

Offline, once, from a trained output layer A (V×D) with bias b: A = UΣVᵀ, B = UΣ.
Per step, for hidden states h: h̃ = Vᵀh; preview logits z̃ = B[:, :W]·h̃[:W] + b for all V
words; the N words with the largest preview are the candidates; their exact logits add
B[i, W:]·h̃[W:]; one softmax over V uses exact logits for the candidates, previews for the rest.
With W = D and N = V it is the full softmax.

The exact logits are computed as one dense product over the union of all rows' candidates
(gathered in cache-sized chunks), not by a gather per row: a per-row gather moves N·D weights
per row and loses to the full layer already at a few rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_GATHER_ROWS = 2048  # union rows gathered at once: a few MB of weights, stays in cache


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
        logits, exact, candidates = self._mixed_logits(h)
        values, picked = exact.topk(min(k, exact.shape[-1]), dim=-1)
        normaliser = logits.logsumexp(dim=-1, keepdim=True)
        return values - normaliser, candidates.gather(-1, picked)

    def logits(self, h: Tensor) -> Tensor:
        """(..., D) -> (..., V): exact logits for each row's N candidates, previews elsewhere."""
        if self._full_layer_is_cheaper(h):
            return self._full_logits(h)
        return self._mixed_logits(h)[0]

    def _full_layer_is_cheaper(self, h: Tensor) -> bool:
        return self.max_rows is not None and h[..., 0].numel() > self.max_rows

    def _full_logits(self, h: Tensor) -> Tensor:
        """Exact logits (..., V); (A·hᵀ + b)ᵀ is the faster layout for MKL on CPU."""
        rows, bias = h.reshape(-1, h.shape[-1]), self.linear.bias
        logits = self.linear.weight @ rows.T
        if bias is not None:
            logits += bias[:, None]
        return logits.T.contiguous().reshape(*h.shape[:-1], -1)

    def union_size(self, h: Tensor) -> int:
        """How many distinct words are candidates of at least one row of h (..., D)."""
        _, preview, candidates = self._preview(h)
        return int(torch.zeros(preview.shape[-1], dtype=torch.bool, device=h.device)
                   .index_fill_(0, candidates.reshape(-1), True).sum())

    def _preview(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rotated rows h̃ (R, D), preview logits (R, V) and each row's candidates (R, N)."""
        f = self.factors
        rows = h.reshape(-1, h.shape[-1]).to(f.rotation.dtype) @ f.rotation
        # (head·h̃ᵀ)ᵀ: MKL runs this layout faster than h̃·headᵀ for a few rows.
        preview = torch.addmm(f.bias[:, None], f.head, rows[:, : self.window].T).T.contiguous()
        return rows, preview, preview.topk(self.candidates, dim=-1, sorted=False).indices

    def _mixed_logits(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mixed logits (R, V), the candidates' exact logits (R, N) and their ids (R, N)."""
        shape = h.shape[:-1]
        rows, preview, candidates = self._preview(h)
        tail = rows[:, self.window:]
        exact = preview.gather(-1, candidates)
        if tail.shape[-1]:
            exact += self._union_tail_logits(tail, candidates, preview.shape[-1])
        logits = preview.scatter_(-1, candidates, exact)
        return (logits.view(*shape, -1), exact.view(*shape, -1),
                candidates.view(*shape, -1))

    def _union_tail_logits(self, tail: Tensor, candidates: Tensor, vocab: int) -> Tensor:
        """B[i, W:]·h̃[W:] for each row's candidates i, via one product over their union."""
        in_union = torch.zeros(vocab, dtype=torch.bool, device=tail.device)
        in_union.index_fill_(0, candidates.reshape(-1), True)
        union = in_union.nonzero().squeeze(1)
        position = torch.cumsum(in_union, 0) - 1
        weights = self.factors.tail
        products = tail.new_empty(tail.shape[0], len(union))
        chunk = weights.new_empty(min(_GATHER_ROWS, len(union)), weights.shape[1])
        for start in range(0, len(union), _GATHER_ROWS):
            ids = union[start:start + _GATHER_ROWS]
            torch.index_select(weights, 0, ids, out=chunk[: len(ids)])
            torch.mm(tail, chunk[: len(ids)].T, out=products[:, start:start + len(ids)])
        return products.gather(-1, position[candidates])
