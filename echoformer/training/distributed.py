"""Several training processes under `torchrun`: the process group and what ranks share.

`torchrun --nproc-per-node N asr-train ...` starts N copies of the command with RANK,
WORLD_SIZE, LOCAL_RANK (and the rendezvous address) in the environment. `process_group`
joins them (NCCL on CUDA, gloo on CPU); without those variables, or with WORLD_SIZE=1, it is
a no-op and training is a single process as before. `World` is the handle the trainer and
the training apps use: who is rank 0 (the only one that writes files), collectives on small
values, and which batches are this rank's: batch position `i` of an epoch belongs to rank
`i % size`, so every rank reads the same batch sequence and trains on its own share of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

# Overrides for the Hydra apps on ranks other than 0: no .hydra/ folder, no log file and no
# run folder of their own (rank 0's run folder is broadcast to them in `train`).
HYDRA_OVERRIDES_OF_OTHER_RANKS = ("hydra.run.dir=.", "hydra.output_subdir=null",
                                  "hydra/job_logging=none", "hydra/hydra_logging=none")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 when not distributed).

    device: where collectives put their tensors (this rank's GPU for NCCL, else the CPU).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs, model directories."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    def owns(self, position: int) -> bool:
        """Whether batch `position` of an epoch is this rank's to train or validate on."""
        return position % self.size == self.rank

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()

    def from_main(self, value: T) -> T:
        """Rank 0's `value` on every rank (any picklable object)."""
        if not self.is_distributed:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.is_distributed:
            return [value]
        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value)
        return values

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over the ranks (float64)."""
        if not self.is_distributed:
            return list(values)
        tensor = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def sum_dict(self, sums: dict[str, float]) -> dict[str, float]:
        """Key-wise sums over the ranks; a key missing on a rank counts as 0 there."""
        if not self.is_distributed:
            return sums
        names = sorted(set().union(*self.gather(sorted(sums))))
        return dict(zip(names, self.sum([sums.get(name, 0.0) for name in names])))

    def any(self, flag: bool) -> bool:
        """True on every rank when `flag` is true on at least one."""
        return bool(self.sum([float(flag)])[0]) if self.is_distributed else flag

    def on_main(self, action: Callable[[], T]) -> T | None:
        """Run `action` on rank 0 only; when it raises there, the other ranks stop too
        (SystemExit) instead of waiting for rank 0 in the next collective."""
        if not self.is_distributed:
            return action()
        result, error = None, None
        if self.is_main:
            try:
                result = action()
            except Exception as caught:  # re-raised below, after telling the others
                error = caught
        if self.from_main(error is not None):
            if error is not None:
                raise error
            raise SystemExit(f"rank {self.rank}: stopping because rank 0 failed (see its "
                             "message)")
        return result


def current() -> World:
    """The world of the initialised process group, or the single-process world."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    device = torch.device("cpu")
    if dist.get_backend() == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    return World(dist.get_rank(), dist.get_world_size(),
                 int(os.environ.get("LOCAL_RANK", 0)), device)


def launched_size() -> int:
    """WORLD_SIZE set by torchrun (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched_rank() -> int:
    """RANK set by torchrun (0 when not launched by it)."""
    return int(os.environ.get("RANK", "0"))


def hydra_overrides() -> list[str]:
    """What a Hydra training app appends to its command line on this rank."""
    return list(HYDRA_OVERRIDES_OF_OTHER_RANKS) if launched_rank() != 0 else []


@contextmanager
def process_group(device: torch.device) -> Iterator[tuple[World, torch.device]]:
    """Join the torchrun processes for the duration of the block; yields (world, device).

    On CUDA each rank takes GPU LOCAL_RANK (the index in `device` is ignored) and the NCCL
    backend; on CPU the gloo backend. A process group that is already initialised (a test
    that set one up) is used as it is and left open.
    """
    if dist.is_available() and dist.is_initialized():
        yield current(), _rank_device(device)
        return
    if launched_size() <= 1:
        yield World(), device
        return
    device = _rank_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend)
    try:
        yield current(), device
        # Leave together: rank 0 still averages and validates after the last update, and a
        # rank that tears its group down meanwhile has been seen to abort at exit (gloo).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def train_on_ranks(body: Callable[[Path, torch.device, World], T], run_dir: Path,
                   device: torch.device, threads: int = 0) -> T:
    """What a training app's `train(config, run_dir)` does: set the CPU threads (0: torch's
    choice), join the torchrun processes, and call `body(run_dir, device, world)` with rank
    0's `run_dir` on every rank and this rank's device."""
    if threads:
        torch.set_num_threads(threads)
    with process_group(device) as (world, rank_device):
        return body(Path(world.from_main(str(run_dir))), rank_device, world)


def _rank_device(device: torch.device) -> torch.device:
    if device.type != "cuda":
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPUs "
                         "here: start at most that many processes per node (--nproc-per-node)")
    return torch.device("cuda", local_rank)


def load_own(batches: Iterable[T], load: Callable[[list[T]], Iterable[Any]], world: World
             ) -> Iterator[Any]:
    """Position by position over `batches` (e.g. index lists of a sampler): the loaded batch
    at this rank's positions, None at the others' — which are never loaded. `load` gets this
    rank's batches in order (e.g. to build a DataLoader with them as its batch sampler)."""
    order = list(batches)
    loaded = iter(load([b for i, b in enumerate(order) if world.owns(i)]))
    for position in range(len(order)):
        yield next(loaded) if world.owns(position) else None
