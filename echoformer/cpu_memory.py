"""Keep freed memory in the process (glibc): no munmap and page faults for every big tensor.

glibc hands blocks above its mmap threshold (128 KB, adapting up to 32 MB) back to the kernel
when they are freed and faults them in again at the next allocation. PyTorch frees a training
step's large activations and logits every step, so on a CPU much of the time goes to the
kernel: measured here, a tiny NMT run spent 10 of 25 s in system time, 0.7 s with this set.
The price is that the process keeps its peak heap instead of shrinking between steps, and
a heap of blocks of ever-changing sizes (speech batches) can fragment and grow: an ASR run
on the 10-hour synthetic corpus grew past 12 GB, so ASR training leaves it off by default.
ECHOFORMER_KEEP_FREED_MEMORY=0 or =1 in the environment overrides the caller's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(threshold_bytes: int = 1 << 30, *, default: bool = True) -> bool:
    """Raise glibc's mmap and trim thresholds to `threshold_bytes`; True if it took effect
    (False on a C library without `mallopt`, e.g. musl or macOS, or when it is off: the
    environment's ECHOFORMER_KEEP_FREED_MEMORY=0/1, else `default`)."""
    setting = os.environ.get("ECHOFORMER_KEEP_FREED_MEMORY", "")
    if not {"0": False, "1": True}.get(setting, default):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    value = min(threshold_bytes, 2**31 - 1)
    return bool(mallopt(_M_MMAP_THRESHOLD, value)) and bool(mallopt(_M_TRIM_THRESHOLD, value))
