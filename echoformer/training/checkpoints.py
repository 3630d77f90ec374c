"""Training checkpoints: atomic writes, checksums, resume from the newest good one, averaging.

A checkpoint is a plain dict (state dicts, numbers, RNG states) saved with `torch.save` and
read with `torch.load(weights_only=True)`. Writing goes to a temporary file in the same folder,
is flushed to disk (fsync) and renamed over the final name, so a crash never leaves a partial
`step_*.pt`; a `.sha256` file written the same way afterwards marks it complete and catches
later damage (truncation, bit flips), which `torch.load` alone does not always notice.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from echoformer.atomic_file import atomic_write

_NAME = re.compile(r"step_(\d+)\.pt$")


class CorruptCheckpoint(RuntimeError):
    """A checkpoint file that is incomplete, damaged or unreadable."""


class CheckpointStore:
    """`directory/step_00000100.pt` (+ `.sha256`), keeping the newest `keep` of them (and any
    that `save` is told to protect)."""

    def __init__(self, directory: Path, keep: int = 5) -> None:
        self.directory = Path(directory)
        self.keep = max(1, keep)

    def path(self, step: int) -> Path:
        return self.directory / f"step_{step:08d}.pt"

    def save(self, state: dict[str, Any], step: int, protect: Iterable[int] = ()) -> Path:
        """Write `step`'s checkpoint, then delete all but the newest `keep` and `protect`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(step)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getbuffer()
        atomic_write(path, lambda stream: stream.write(data))
        checksum = hashlib.sha256(data).hexdigest()
        atomic_write(path.with_suffix(".pt.sha256"),
                     lambda stream: stream.write(checksum.encode() + b"\n"))
        protected = set(protect)
        for old in self.steps()[: -self.keep]:
            if old in protected:
                continue
            self.path(old).unlink(missing_ok=True)
            self.path(old).with_suffix(".pt.sha256").unlink(missing_ok=True)
        return path

    def remove_leftovers(self) -> list[Path]:
        """Delete the temporary files of writes that a crash cut short; returns them."""
        if not self.directory.is_dir():
            return []
        leftovers = [path for path in self.directory.glob(".step_*.tmp") if path.is_file()]
        for path in leftovers:
            path.unlink(missing_ok=True)
        return leftovers

    def steps(self) -> list[int]:
        """Steps with a checkpoint file, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir()
                      if (m := _NAME.fullmatch(p.name)))

    def load(self, step: int, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        """The checkpoint of `step`; `CorruptCheckpoint` (saying why) if it cannot be trusted."""
        path = self.path(step)
        checksum = path.with_suffix(".pt.sha256")
        if not checksum.is_file():
            raise CorruptCheckpoint(f"{path} is incomplete (no {checksum.name})")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != checksum.read_text().strip():
            raise CorruptCheckpoint(f"{path} is damaged (its checksum does not match)")
        try:

            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        except Exception as error:  # unpickling errors come in many types
            raise CorruptCheckpoint(f"{path} cannot be read ({error})") from error

    def load_latest(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The newest checkpoint that loads; damaged ones are reported on stderr and skipped."""
        for step in reversed(self.steps()):
            try:
                return self.load(step, map_location)
            except CorruptCheckpoint as error:
                print(f"warning: {error}; trying the previous checkpoint", file=sys.stderr)
        return None

    def average(self, last: int, key: str = "model") -> tuple[dict[str, torch.Tensor], list[int]]:
        """Element-wise mean of `state[key]` over the newest `last` good checkpoints.

        Returns (averaged state dict, the steps averaged). Non-float entries come from the
        newest checkpoint.
        """
        return self.average_of(list(reversed(self.steps())), last, key)

    def average_of(self, steps: Sequence[int], count: int, key: str = "model"
                   ) -> tuple[dict[str, torch.Tensor], list[int]]:
        """`average` over the first `count` good checkpoints of `steps` (in that order of
        preference); non-float entries come from the first one used."""
        total: dict[str, torch.Tensor] | None = None
        used: list[int] = []
        for step in steps:
            if len(used) == count:
                break
            try:
                state = self.load(step)[key]
            except CorruptCheckpoint as error:
                print(f"warning: {error}; left out of the average", file=sys.stderr)
                continue
            used.append(step)
            if total is None:
                total = {name: t.clone().double() if t.is_floating_point() else t.clone()
                         for name, t in state.items()}
            else:
                for name, t in state.items():
                    if t.is_floating_point():
                        total[name] += t.double()
        if total is None:
            raise CorruptCheckpoint(f"no readable checkpoint of steps {list(steps)} in "
                                    f"{self.directory} to average")
        reference = self.load(used[0])[key]
        averaged = {name: (t / len(used)).to(reference[name].dtype) if t.is_floating_point()
                    else t for name, t in total.items()}
        return averaged, sorted(used)

