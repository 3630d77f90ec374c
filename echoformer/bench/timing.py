"""One latency harness for CPU and CUDA: fixed threads, warm-up, interleaved repeats, medians.

Baseline and candidate are timed in alternation within the same repeat loop, so slow drifts
of a shared, noisy machine hit both alike; the figures to quote are the medians and their
ratio from the same run.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch


def machine_facts(device: str) -> dict:
    """What to print beside any absolute time."""
    facts = {
        "device": device,
        "cpu": _cpu_name(),
        "cpu_count": torch.multiprocessing.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if device.startswith("cuda"):
        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return facts


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _clock(fn: Callable[[], object], device: str) -> float:
    """Milliseconds of one call."""
    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def compare(fns: dict[str, Callable[[], object]], device: str = "cpu", warmup: int = 2,
            repeats: int = 7) -> dict[str, float]:
    """Median milliseconds of each function, timed in alternation (order flipped each repeat)."""
    names = list(fns)
    with torch.inference_mode():
        for _ in range(warmup):
            for name in names:
                fns[name]()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times: dict[str, list[float]] = {name: [] for name in names}
        for r in range(repeats):
            for name in names if r % 2 == 0 else reversed(names):
                times[name].append(_clock(fns[name], device))
    return {name: statistics.median(ts) for name, ts in times.items()}


def time_share(target: object, methods: tuple[str, ...], fn: Callable[[], object],
               device: str = "cpu", clock: Callable[[], float] = time.perf_counter) -> float:
    """Share of one call of `fn`'s wall time spent inside `target`'s `methods` (one of them
    called from another counts once), e.g. an output layer's share of a decode. Its own pass,
    apart from `compare`'s timed ones: on CUDA every call is synchronised, which slows it."""
    spent, depth = 0.0, 0

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def timed(method: Callable) -> Callable:
        def call(*args, **kwargs):
            nonlocal spent, depth
            if depth:
                return method(*args, **kwargs)
            sync()
            start, depth = clock(), 1
            try:
                return method(*args, **kwargs)
            finally:
                sync()
                spent, depth = spent + clock() - start, 0
        return call

    for name in methods:  # instance attributes shadow the class's methods for this pass
        setattr(target, name, timed(getattr(target, name)))
    try:
        with torch.inference_mode():
            sync()
            start = clock()
            fn()
            sync()
            total = clock() - start
    finally:
        for name in methods:
            delattr(target, name)
    return spent / total if total > 0 else 0.0
