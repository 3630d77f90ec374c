"""Learning-rate schedule: linear warm-up, then inverse square root (Vaswani et al., 2017)."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def inverse_sqrt_factor(warmup_steps: int):
    """Factor of the peak rate for update `done + 1` after `done` updates:
    (done+1)/warmup during warm-up, then √(warmup/(done+1)); 1 exactly at the peak."""

    def factor(done: int) -> float:
        step = done + 1
        return min(step / warmup_steps, math.sqrt(warmup_steps / step))

    return factor


def inverse_sqrt_schedule(optimizer: Optimizer, warmup_steps: int) -> LambdaLR:
    return LambdaLR(optimizer, inverse_sqrt_factor(warmup_steps))
