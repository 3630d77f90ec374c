"""SVD-softmax (Shim et al., NIPS 2017): a cheaper output layer for large vocabularies.

Offline, once, from a trained output layer A (V×D) with bias b: A = UΣVᵀ, B = UΣ.
Per step, for hidden states h: h̃ = Vᵀh; preview logits z̃ = B[:, :W]·h̃[:W] + b for all V
words; the N words with the largest preview are the candidates (at least N: see
`SVDSoftmax._union`); their exact logits add B[i, W:]·h̃[W:]; one softmax over V uses
exact logits for the candidates, previews for the rest. With W = D and N = V it is the full
softmax.

Several rows (the hypotheses of a beam) share one candidate set, the union U of their
candidates: every row gets exact logits for all U words, from one dense product over the
union's tails (gathered in cache-sized chunks). Those tails are read anyway; it is at least
as exact as per-row candidates, and each step is one pass over R×U or R×V, with no per-row
masks or gathers (a per-row gather moves N·D weights per row). The top-k runs over the R×U
exact logits only.

On CPU (float32) the step runs fused C++ kernels (echoformer/csrc, built at first use; the
pure-torch path above is the reference and the fallback, and the path on CUDA): the preview
streams the head once from 16-word panels for all rows (and writes the stride-16 sample the
threshold is selected from); one pass over the previews gives the union and each row's
exp-sum of the previews outside it; each union word's tail row is read once, in place, for
all rows (no gathered copy); `topk` ranks and normalises over the union's exact logits only
(the rest enters as that one sum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from echoformer.csrc import svd_kernels

_GATHER_BYTES = 1 << 20  # union tails gathered at once: stays in the core's L2 cache
_MIN_SAMPLE_CANDIDATES = 64  # a sampled threshold needs this many candidates in the sample
_MAX_SAMPLE_STRIDE = 16
_SAMPLE_SIGMAS = 2.0  # sampled threshold: this many standard deviations of slack
_PANEL = 16  # words per panel of the head, as the C++ preview kernel reads it


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
    """rotation: (D, D) so that h̃ = h @ rotation; head: (V, W) = B[:, :W], stored
    column-major (`head.T` is contiguous); tail: (V, D-W); bias: (V,)."""

    rotation: Tensor
    head: Tensor
    tail: Tensor
    bias: Tensor

    def __post_init__(self) -> None:
        # The preview h̃[:, :W]·headᵀ streams headᵀ (W, V) row by row: at 5 rows ~1.3× a
        # row-major head's F.linear and up to ~9× its (head·h̃ᵀ)ᵀ (measured, 1 thread, MKL).
        if not self.head.T.is_contiguous():
            self.head = self.head.T.contiguous().T
        self._panels: Tensor | None = None

    def head_panels(self) -> Tensor:
        """The head as (⌈V/16⌉, W, 16) panels, panel p = words 16p..16p+15 (zero-padded), for
        the C++ preview: one sequential stream of V·W weights. Built once (V·W more floats)."""
        if self._panels is None:
            vocab, width = self.head.shape
            count = -(-vocab // _PANEL)
            padded = self.head.new_zeros(count * _PANEL, width)
            padded[:vocab] = self.head
            self._panels = padded.view(count, _PANEL, width).transpose(1, 2).contiguous()
        return self._panels

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


class SVDSoftmax(nn.Module):
    """Log-probabilities over V from a Linear output layer: full in training, SVD at inference.

    Args:
        linear: the trained output layer (V, D), borrowed: not a submodule of this one, its
            parameters stay the model's (e.g. tied to an embedding), so they are not listed,
            saved or moved twice; this module holds no parameters or buffers.
        window: W, preview width (default D/8). candidates: N (default V/16).
        max_rows: calls with more rows than this use the full layer: the candidates of many
            independent rows cover most of the vocabulary, and gathering them costs more
            than the full product (measured by `bench suite=layers`). None: never.
        kernels: use the fused C++ kernels on CPU float32 (None: when they build; False: the
            pure-torch reference path everywhere). The two agree to float rounding.
        always_exact: word ids that are candidates of every row whatever their preview, e.g.
            end-of-sentence: beam search must weigh ending a hypothesis exactly; without it,
            a hypothesis whose EOS preview misses the candidates cannot end (measured on
            the shipped NMT model: outputs 50% longer, BLEU 5.4 instead of 8.0).
    The factors are computed lazily at the first inference call and dropped by `.train()`;
    call `refresh()` after changing the weights by hand.
    """

    def __init__(self, linear: nn.Linear, window: int | None = None,
                 candidates: int | None = None, max_rows: int | None = 16,
                 always_exact: Sequence[int] = (), kernels: bool | None = None) -> None:
        super().__init__()
        vocab, dim = linear.weight.shape
        self._borrowed = (linear,)  # a tuple: nn.Module registers a Module attribute
        self.window = window or max(1, dim // 8)
        self.candidates = candidates or max(1, vocab // 16)
        if not 1 <= self.window <= dim:
            raise ValueError(f"SVD-softmax window W={self.window} must be in 1..D={dim}")
        if not 1 <= self.candidates <= vocab:
            raise ValueError(f"SVD-softmax candidates N={self.candidates} must be in 1..V={vocab}")
        self.max_rows = max_rows
        self.always_exact = torch.tensor(sorted(set(always_exact)), dtype=torch.long)
        if len(self.always_exact) and not 0 <= int(self.always_exact[0]) <= int(
                self.always_exact[-1]) < vocab:
            raise ValueError(f"SVD-softmax always_exact ids {always_exact} must be in 0..V-1")
        self.kernels = kernels
        self._factors: SVDFactors | None = None

    @property
    def linear(self) -> nn.Linear:
        return self._borrowed[0]

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
        """Beam-search fast path: the k best (log-probabilities, word ids), each (..., k).

        The best words of a row are among the union's words (it holds each row's N best
        previews), which all have exact logits: the selection runs over R×U, not R×V.
        """
        shape = h.shape[:-1]
        if self._full_layer_is_cheaper(h):
            log_probs = self._full_logits(h).log_softmax(dim=-1)
            return log_probs.topk(k, dim=-1)
        k = min(k, self.candidates)
        kernels = self._kernels(h)
        if kernels is not None:
            _, union, exact, log_total = self._fused_mixed_logits(h, kernels)
            best = exact.topk(k, dim=-1)
            values = best.values - log_total
            ids = union.take(best.indices)
        else:
            logits, union = self._mixed_logits(h)
            ids = union.take(logits.index_select(1, union).topk(k, dim=-1).indices)
            values = logits.log_softmax(dim=-1).gather(1, ids)
        return values.view(*shape, k), ids.view(*shape, k)

    def logits(self, h: Tensor) -> Tensor:
        """(..., D) -> (..., V): exact logits for the candidates of any row, previews elsewhere."""
        if self._full_layer_is_cheaper(h):
            return self._full_logits(h)
        kernels = self._kernels(h)
        logits = (self._mixed_logits(h) if kernels is None
                  else self._fused_mixed_logits(h, kernels))[0]
        return logits.view(*h.shape[:-1], -1)

    def _full_layer_is_cheaper(self, h: Tensor) -> bool:
        return self.max_rows is not None and h[..., 0].numel() > self.max_rows

    def _kernels(self, h: Tensor):
        """The C++ kernels module when this call runs fused, else None."""
        if self.kernels is False or h.device.type != "cpu" or self.factors.head.dtype != (
                torch.float32):
            return None
        return svd_kernels()

    def _full_logits(self, h: Tensor) -> Tensor:
        return full_logits(self.linear, h)

    def union_size(self, h: Tensor) -> int:
        """How many distinct words are candidates of at least one row of h (..., D)."""
        kernels = self._kernels(h)
        if kernels is not None:
            return len(self._fused_union(*self._fused_preview(h, kernels)[1:], kernels)[1])
        _, preview = self._preview(h)
        return len(self._union(preview))

    def _preview(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Rotated rows h̃ (R, D) and preview logits (R, V)."""
        f = self.factors
        rows = h.reshape(-1, h.shape[-1]).to(f.rotation.dtype) @ f.rotation
        return rows, torch.addmm(f.bias, rows[:, : self.window], f.head.T)

    def _union(self, preview: Tensor) -> Tensor:
        """(U,) ascending ids of the words that are a candidate of at least one row: each
        row's words whose preview reaches the row's threshold, which at least N reach.

        For large N the threshold comes from a strided sample of the row (a selection over
        V/s words instead of V): its rank in the sample is N/s plus `_SAMPLE_SIGMAS`
        standard deviations, so that a row seldom has fewer than N words at or above it
        (about N + 2√(sN) do); such rows, and small N, get the exact N-th largest preview.
        """
        n, vocab = self.candidates, preview.shape[-1]
        if n >= vocab:
            return torch.arange(vocab, device=preview.device)
        stride = min(_MAX_SAMPLE_STRIDE, n // _MIN_SAMPLE_CANDIDATES)
        if stride <= 1:
            return self._with_always_exact(_max_over_rows(preview - _nth_largest(preview, n)))
        sample = preview[:, ::stride]
        expected = n / stride
        rank = min(sample.shape[-1], math.ceil(expected + _SAMPLE_SIGMAS * math.sqrt(expected)))
        threshold = _nth_largest(sample, rank)
        margin = preview - threshold
        # How many reach it, from the signs: the threshold is one of the row's previews, so
        # one sign at least is 0 and #(margin ≥ 0) = (Σ sign + V + #0) / 2 ≥ (Σ sign + V + 1)
        # / 2 (exact but for ties). A bool compare + sum is ~4× slower on CPU.
        signs, least = margin.sign().sum(-1), 2 * n - vocab - 1
        if signs.amin() < least:
            short = signs < least
            threshold[short] = _nth_largest(preview[short], n)
            margin = preview - threshold
        return self._with_always_exact(_max_over_rows(margin))

    def _with_always_exact(self, reach: Tensor) -> Tensor:
        """(U,) ids where reach ≥ 0, plus the always-exact ids (reach may be overwritten)."""
        if len(self.always_exact):
            reach[self.always_exact.to(reach.device)] = 0.0
        return _nonzero(reach)

    def _mixed_logits(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (R, V), exact for the union's words, previews elsewhere; and the union (U,)."""
        rows, logits = self._preview(h)
        union = self._union(logits)
        tail = rows[:, self.window:]
        if tail.shape[-1]:
            logits.index_add_(1, union, self._union_tail_products(tail, union))
        return logits, union

    def _union_tail_products(self, tail: Tensor, union: Tensor) -> Tensor:
        """B[i, W:]·h̃[W:] (R, U) for the words i of the union, gathered in cached chunks."""
        weights = self.factors.tail
        step = max(1, _GATHER_BYTES // (weights.shape[1] * weights.element_size()))
        if len(union) <= step:
            return tail @ weights.index_select(0, union).T
        products = tail.new_empty(tail.shape[0], len(union))
        chunk = weights.new_empty(min(step, len(union)), weights.shape[1])
        for start in range(0, len(union), step):
            ids = union[start:start + step]
            torch.index_select(weights, 0, ids, out=chunk[: len(ids)])
            torch.mm(tail, chunk[: len(ids)].T, out=products[:, start:start + len(ids)])
        return products

    # -- fused CPU path: the same steps through echoformer/csrc/svd_softmax.cpp --------------
    def _fused_preview(self, h: Tensor, kernels) -> tuple[Tensor, Tensor, Tensor]:
        """Rotated rows (R, D), preview logits (R, V) and their sample [:, ::16] (R, ⌈V/16⌉)."""
        f = self.factors
        rows = h.reshape(-1, h.shape[-1]).to(f.rotation.dtype) @ f.rotation
        return rows, *kernels.preview(rows[:, : self.window], f.head_panels(), f.bias)

    def _fused_union(self, preview: Tensor, sample16: Tensor, kernels
                     ) -> tuple[Tensor, Tensor, Tensor]:
        """`_union` with its passes over (R, V) fused into one (`union_ids`): the same
        thresholds (R,), the same sign test for rows that fall short, the same ids (U,); and
        rest (R,) float64 = Σ over the words outside the union of exp(preview − threshold)."""
        n, vocab = self.candidates, preview.shape[-1]
        if n >= vocab:
            return preview.new_zeros(len(preview)), torch.arange(vocab), torch.zeros(
                len(preview), dtype=torch.float64)
        always = self.always_exact
        stride = min(_MAX_SAMPLE_STRIDE, n // _MIN_SAMPLE_CANDIDATES)
        if stride <= 1:
            threshold = kernels.nth_largest(preview, 1, n)
            return (threshold, *kernels.union_ids(preview, threshold, always)[::2])
        expected = n / stride
        rank = min(-(-vocab // stride),
                   math.ceil(expected + _SAMPLE_SIGMAS * math.sqrt(expected)))
        threshold = (kernels.nth_largest(sample16, 1, rank) if stride == _PANEL
                     else kernels.nth_largest(preview, stride, rank))
        union, signs, rest = kernels.union_ids(preview, threshold, always)
        short = signs < 2 * n - vocab - 1
        if bool(short.any()):
            threshold[short] = kernels.nth_largest(preview[short].contiguous(), 1, n)
            union, _, rest = kernels.union_ids(preview, threshold, always)
        return threshold, union, rest

    def _fused_mixed_logits(self, h: Tensor, kernels) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """`_mixed_logits` fused: logits (R, V), the union (U,), its exact logits (R, U), and
        log Σ_V exp(logits) (R, 1) from the union's exact logits and `_fused_union`'s rest:
        the normalisation runs over U words, not V."""
        rows, logits, sample16 = self._fused_preview(h, kernels)
        threshold, union, rest = self._fused_union(logits, sample16, kernels)
        tail = rows[:, self.window:].contiguous()
        exact = (kernels.add_tails(logits, tail, self.factors.tail, union) if tail.shape[-1]
                 else logits.index_select(1, union))
        top = torch.maximum(exact.amax(-1), threshold)[:, None]
        mass = (exact - top).exp().sum(-1, dtype=torch.float64, keepdim=True) + rest[:, None] * (
            threshold[:, None] - top).double().exp()
        return logits, union, exact, top + mass.log().float()


def _nth_largest(rows: Tensor, n: int) -> Tensor:
    """(R, 1): the n-th largest value of each row of (R, C)."""
    return rows.topk(n, dim=-1, sorted=False).values.amin(-1, keepdim=True)


def _max_over_rows(margin: Tensor) -> Tensor:
    """(V,) from (R, V): ≥ 0 where some row reaches its threshold. A float max: a bool
    compare reduced with any(0) is ~10× slower on CPU; one row needs no reduction."""
    return margin[0] if len(margin) == 1 else margin.amax(0)


def _nonzero(reach: Tensor) -> Tensor:
    """(U,) ascending ids where reach ≥ 0 (numpy's selection beats torch.nonzero on CPU)."""
    if reach.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(reach.detach().float().numpy() >= 0))
    return (reach >= 0).nonzero().squeeze(1)
