"""SVD-softmax factors computed once per model and cached in its model directory.

The factorisation does not depend on the window W or the candidate count N (W only splits
B = UΣ into head and tail columns), so one file, `svd_factors.pt`, serves every (W, N). It
records the checksum of the weights it was computed from and is recomputed when they change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

from echoformer.atomic_file import atomic_write
from echoformer.svd_softmax import SVDFactors

CACHE_FILE = "svd_factors.pt"


def cached_svd_factors(linear: nn.Linear, window: int, cache_dir: Path, weights_sha256: str
                       ) -> SVDFactors:
    """Factors of `linear` (V, D) split at `window`, from `cache_dir/svd_factors.pt` when it
    matches `weights_sha256`, otherwise computed and (if the folder is writable) cached."""
    path = Path(cache_dir) / CACHE_FILE
    device = linear.weight.device
    full = None
    if path.is_file():
        try:
            saved = torch.load(path, map_location=device, weights_only=True)
            if saved.get("weights_sha256") == weights_sha256:
                full = saved
        except (RuntimeError, OSError, EOFError) as error:
            print(f"warning: ignoring unreadable SVD cache {path} ({error})", file=sys.stderr)
    if full is None:
        factors = SVDFactors.from_linear(linear.weight, linear.bias, linear.weight.shape[1])
        full = {"rotation": factors.rotation, "b": factors.head, "bias": factors.bias,
                "weights_sha256": weights_sha256}
        _try_write(path, full)
    b = full["b"]
    return SVDFactors(full["rotation"].to(device), b[:, :window].contiguous().to(device),
                      b[:, window:].contiguous().to(device), full["bias"].to(device))


def _try_write(path: Path, state: dict) -> None:
    """A read-only model directory only costs recomputation next time."""
    try:
        atomic_write(path, lambda stream: torch.save(
            {k: v.cpu() if torch.is_tensor(v) else v for k, v in state.items()}, stream))
    except OSError as error:
        print(f"warning: could not cache SVD factors in {path} ({error}); they will be "
              "computed again next time", file=sys.stderr)
