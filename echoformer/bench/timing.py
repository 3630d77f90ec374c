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
