"""A decoder's output layer whose inference softmax is full or SVD-softmax, chosen at run time.

Training always uses the full layer (`logits`); at inference `log_probs` / `topk` use the kind
set by `use_softmax`. The SVD factors can be installed from a cache (see `install_factors`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from echoformer.svd_softmax import SVDFactors, SVDSoftmax, full_logits
from echoformer.tokenizer import EOS_ID

SOFTMAX_KINDS = ("full", "svd")


@dataclass
class SoftmaxConfig:
    """Inference softmax of an output layer (config group `softmax`).

    kind: full | svd. window: W (None = D/8). candidates: N (None = V/16).
    """

    kind: str = "full"
    window: int | None = None
    candidates: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOFTMAX_KINDS:
            raise ValueError(f"softmax kind {self.kind!r} is not one of {SOFTMAX_KINDS}: "
                             "use full or svd")


def stored_softmax(meta: dict) -> dict:
    """The inference softmax a model directory's model.yaml (`meta`) names, {} for none."""
    return (meta.get("architecture") or {}).get("softmax") or {}


def requested_softmax(kind: str | None, window: int | None, candidates: int | None,
                      stored: dict) -> SoftmaxConfig | None:
    """The inference softmax a command's --softmax / --svd-window / --svd-candidates ask for
    over `stored` (the model's, from model.yaml); None when none was given (keep the model's).
    --svd-window or --svd-candidates alone imply --softmax svd."""
    if kind is None and window is None and candidates is None:
        return None
    return SoftmaxConfig(kind or "svd", window or stored.get("window"),
                         candidates or stored.get("candidates"))


class OutputLayer(nn.Module):
    """Hidden states (..., D) -> log-probabilities over V (full or SVD-softmax at inference).

    linear: the (V, D) projection, possibly tied to an embedding.
    """

    def __init__(self, linear: nn.Linear, softmax: SoftmaxConfig | None = None) -> None:
        super().__init__()
        self.linear = linear
        self.softmax = SoftmaxConfig()
        self.svd: SVDSoftmax | None = None
        self.use_softmax(softmax or SoftmaxConfig())

    def use_softmax(self, softmax: SoftmaxConfig) -> None:
        """Switch the inference softmax (e.g. `--softmax svd --svd-window 32`)."""
        softmax = SoftmaxConfig(softmax.kind, softmax.window, softmax.candidates)
        self.softmax = softmax
        self.svd = None
        if softmax.kind == "svd":
            # ending a hypothesis is always weighed with an exact logit
            self.svd = SVDSoftmax(self.linear, softmax.window, softmax.candidates,
                                  always_exact=[EOS_ID])
            self.svd.train(self.training)  # a submodule follows its layer's mode from here on

    def install_factors(self, factors: SVDFactors) -> None:
        """Use precomputed SVD factors (e.g. loaded from a cache) instead of factoring again."""
        assert self.svd is not None, "install_factors needs softmax kind svd"
        self.svd.refresh(factors)

    def logits(self, h: Tensor) -> Tensor:
        """(..., D) -> full logits (..., V) (training, scoring)."""
        return self.linear(h)

    def log_probs(self, h: Tensor) -> Tensor:
        """(..., D) -> log-probabilities (..., V); SVD-softmax in eval mode when chosen."""
        if self.training:
            return F.log_softmax(self.linear(h).float(), dim=-1)
        if self.svd is None:
            return F.log_softmax(full_logits(self.linear, h).float(), dim=-1)
        return self.svd(h)

    def topk(self, h: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """(..., D) -> the k' = min(k, V) best (log-probabilities, ids), each (..., k')
        (SVD-softmax: at most its N candidates)."""
        k = min(k, self.linear.out_features)
        if self.svd is None or self.training:
            return self.log_probs(h).topk(k, dim=-1)
        return self.svd.topk(h, k)
