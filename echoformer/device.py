"""Where a model runs: the device a config or command line names, and the CPU set-up."""

from __future__ import annotations

import torch

from echoformer.cpu_memory import keep_freed_memory


def resolve_device(name: str, *, flag: str = "device=") -> torch.device:
    """auto -> cuda when available, else cpu; a CUDA device that is absent is an error.

    `flag` is how the caller's user spells the setting in the message: "device=" (Hydra
    override, the training apps) or "--device " (the command-line tools)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"{flag}{name} asked for, but CUDA is not available here; "
                         f"use {flag}cpu")
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"{flag}{name}: not a device (cpu, cuda, cuda:N or auto)") from error


def prepare_inference(device: str, threads: int) -> torch.device:
    """The common start of asr-transcribe, nmt-translate and st-translate: keep freed memory
    (echoformer.cpu_memory), set the CPU threads (0 = torch's default), resolve `--device`."""
    keep_freed_memory()
    if threads:
        torch.set_num_threads(threads)
    return resolve_device(device, flag="--device ")
