"""Label-smoothed cross-entropy, summed over the real (non-padding) target positions."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def label_smoothed_nll(logits: Tensor, target: Tensor, smoothing: float, pad_id: int
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """logits: (B, T, V); target: (B, T) ids, `pad_id` where there is no target.

    Returns (loss, nll, tokens): the smoothed loss and the plain negative log-likelihood, both
    summed over real positions, and their count. The smoothed loss puts 1 - ε on the target
    and spreads ε uniformly over the vocabulary (as `F.cross_entropy(label_smoothing=ε)`).
    """
    log_probs = F.log_softmax(logits.float(), dim=-1)
    real = target != pad_id
    nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    uniform = -log_probs.mean(dim=-1)
    loss = (1.0 - smoothing) * nll + smoothing * uniform
    return loss[real].sum(), nll[real].sum(), real.sum()
