"""A task-agnostic training loop with checkpoint resume and averaging.

The model's contract: `model(**batch)` returns a dict with `loss` (summed over tokens),
`tokens` (how many) and optionally other sums (`nll`); batches are dicts of tensors. Gradients
are normalised by the tokens of the whole update (all accumulated batches), as in fairseq.
Rerun into the same output folder, training resumes from the newest good checkpoint: model,
optimizer, scheduler, gradient scaler, step, epoch, position in the epoch, early-stop state
and random number generators.

Under torchrun (see `distributed`) the model is wrapped in DistributedDataParallel; every rank
reads the same batch sequence and trains on its own positions of it; an update is
`accumulate` batches on each rank, normalised by the tokens of all of them (all ranks), so it
equals the update one process would make from the same batches. Validation is sharded the
same way and summed over the ranks. Only rank 0 writes checkpoints, the log and the progress
bar; stop decisions are taken together, so no rank waits for another that has stopped.
"""

from __future__ import annotations

import itertools
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from echoformer.training.checkpoints import CheckpointStore
from echoformer.training.config import MAXIMISED_METRICS, TrainerConfig
from echoformer.training.csv_log import CSVLog
from echoformer.training.distributed import World, current
from echoformer.training.evaluation import autocast, evaluation_sums, per_token
from echoformer.training.run_dir import CHECKPOINT_DIR
from echoformer.training.schedule import inverse_sqrt_schedule

Batch = dict[str, Tensor]
T = TypeVar("T")


class NonFiniteLossError(RuntimeError):
    """Too many updates in a row had a non-finite loss or gradient."""


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_valid: float = math.inf  # the best `best_metric` so far, negated when maximised
    bad_validations: int = 0
    skipped_updates: int = 0
    best_metric: str = "nll"  # what best_valid and valid_history hold (older checkpoints: nll)
    valid_history: dict[int, float] = field(default_factory=dict)  # step -> best_metric


@dataclass
class TrainingSummary:
    """How a `fit` ended: the averaged weights and the facts worth reporting."""

    averaged_state: dict[str, Tensor]
    averaged_steps: list[int]
    progress: Progress
    stop_reason: str
    last_valid: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0


class Trainer:
    """Trains `model` on `device`, writing `out_dir/checkpoints/` and `out_dir/train_log.csv`.

    world: the training processes (default: the initialised process group, if any); every
    rank constructs its Trainer with the same `out_dir`, only rank 0 writes there.
    """

    def __init__(self, model: nn.Module, config: TrainerConfig, out_dir: Path,
                 device: str | torch.device = "cpu", world: World | None = None) -> None:
        self.config, self.device = config, torch.device(device)
        self.world = world or current()
        self.model = model.to(self.device)
        self._network: nn.Module = self.model  # what a training step calls
        if self.world.is_distributed:
            gpu = self.device.index if self.device.index is not None else (
                torch.cuda.current_device() if self.device.type == "cuda" else None)
            self._network = DistributedDataParallel(
                self.model, device_ids=None if gpu is None else [gpu],
                find_unused_parameters=config.find_unused_parameters)
        self.out_dir = Path(out_dir)
        if self.world.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.store = CheckpointStore(self.out_dir / CHECKPOINT_DIR,
                                     max(config.keep_checkpoints, config.average_last))
        self.log = CSVLog(self.out_dir / "train_log.csv") if self.world.is_main else None
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, betas=tuple(config.betas),
                                           weight_decay=config.weight_decay)
        self.scheduler = inverse_sqrt_schedule(self.optimizer, config.warmup_steps)
        cuda = self.device.type == "cuda"
        self.amp_dtype = getattr(torch, config.amp_dtype) if (config.amp and cuda) else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)
        self.progress = Progress()
        self._skipped_in_a_row = 0
        self._started, self._window, self._last_valid = time.perf_counter(), _Window(), {}
        self._bar: tqdm | None = None
        self._interrupt = _StopOnInterrupt(self)
        self._valid_metrics: Callable[[nn.Module], dict[str, float]] | None = None

    # -- the loop -------------------------------------------------------------------------
    def fit(self, train_batches: Callable[[int], Iterable[Batch]],
            valid_batches: Callable[[], Iterable[Batch]] | None = None,
            valid_metrics: Callable[[nn.Module], dict[str, float]] | None = None
            ) -> TrainingSummary:
        """Train until a stop condition. `train_batches(epoch)` must give the same batches in
        the same order for the same epoch (resume skips the ones already used).
        `valid_metrics(model)`: more validation figures (e.g. BLEU of translations), computed
        on rank 0 after the loss, logged beside it and usable as `best_metric`.

        Ctrl-C (SIGINT) finishes the current update, saves a checkpoint and stops with
        stop_reason "interrupted" (rerun to resume); a second Ctrl-C aborts at once.
        """
        with _StopOnInterrupt(self) as interrupt:
            self._interrupt, self._valid_metrics = interrupt, valid_metrics
            return self._fit(train_batches, valid_batches)

    def _fit(self, train_batches: Callable[[int], Iterable[Batch]],
             valid_batches: Callable[[], Iterable[Batch]] | None) -> TrainingSummary:
        c, world = self.config, self.world
        torch.manual_seed(c.seed + world.rank)
        random.seed(c.seed + world.rank)
        resumed = self.resume()
        p = self.progress
        self._started, self._window, self._last_valid = time.perf_counter(), _Window(), {}
        # with a time budget the bar counts steps and shows the minutes left, not an ETA
        # to max_steps (which a budgeted run usually never reaches)
        self._bar = tqdm(total=c.max_steps if c.max_minutes is None else None, initial=p.step,
                         disable=not (c.progress and world.is_main),
                         unit="step", dynamic_ncols=True, file=sys.stderr,
                         mininterval=0.5 if sys.stderr.isatty() else 60)  # log file: 1/min
        if resumed and world.is_main:
            self._bar.write(f"resumed from step {p.step} (epoch {p.epoch})", file=sys.stderr)
        self._watch_best_metric(valid_batches is not None)
        stop_reason = "max_steps" if p.step >= c.max_steps else ""
        while not stop_reason:
            if c.max_epochs is not None and p.epoch >= c.max_epochs:
                stop_reason = "max_epochs"
                break
            start = p.batches_in_epoch
            batches = enumerate(itertools.islice(iter(train_batches(p.epoch)), start, None),
                                start)
            updates_tried = 0
            for group in _groups(batches, c.accumulate * world.size):
                p.batches_in_epoch += len(group)
                if len(group) < world.size:
                    continue  # an epoch's last few batches, too few for every rank: left out
                updates_tried += 1
                metrics = self._update([batch for i, batch in group if world.owns(i)])
                if metrics is not None:
                    stop_reason = self._after_update(metrics, valid_batches)
                    if stop_reason:
                        break
            else:
                if updates_tried == 0 and start == 0:
                    raise ValueError(
                        f"epoch {p.epoch} has no training batches"
                        + (f" for each of the {world.size} processes" if world.is_distributed
                           else "") + ": check the training data and the batch size settings")
                p.epoch += 1
                p.batches_in_epoch = 0
        self._bar.close()
        if valid_batches is not None and not self._last_valid and p.step > 0:
            self._last_valid = self._validate(valid_batches)
        if world.from_main(world.is_main and p.step not in self.store.steps()):
            self.save()
        averaged, steps = {}, []  # only rank 0 reads the checkpoints back
        if world.is_main:
            saved = set(self.store.steps())
            best = [step for step in self._best_steps() if step in saved]
            averaged, steps = (self.store.average_of(best, c.average_last) if best
                               else self.store.average(c.average_last))
        return TrainingSummary(averaged, steps, p, stop_reason, self._last_valid,
                               time.perf_counter() - self._started)

    def _after_update(self, metrics: dict[str, float],
                      valid_batches: Callable[[], Iterable[Batch]] | None) -> str:
        """Log, validate and save when due; the reason to stop, or ''."""
        c, p = self.config, self.progress
        self._window.add(metrics)
        self._bar.update(1)
        if p.step % c.log_every == 0 or p.step == 1:
            row = self._window.row(p, self.scheduler.get_last_lr()[0], self._started)
            if self.log is not None:
                self.log.write(row)
            self._bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}",
                                  **self._budget_left())
            self._window = _Window()
        stop_reason = ""
        validated = valid_batches is not None and p.step % c.valid_every == 0
        if validated:
            self._last_valid = self._validate(valid_batches)
            if c.patience and p.bad_validations >= c.patience:
                stop_reason = "early_stop"
        if p.step % c.save_every == 0 or (validated and c.average_by == "best"):
            self.save()
        if p.step >= c.max_steps:
            stop_reason = stop_reason or "max_steps"
        elapsed = time.perf_counter() - self._started
        out_of_time = c.max_minutes is not None and elapsed > 60 * c.max_minutes
        interrupted = self._interrupt.requested
        if self.world.is_distributed:  # one decision for all: Ctrl-C on any, rank 0's clock
            interrupted, out_of_time = (bool(flag) for flag in self.world.sum(
                [float(interrupted), float(out_of_time and self.world.is_main)]))
        if interrupted:
            stop_reason = stop_reason or "interrupted"
        if out_of_time:
            stop_reason = stop_reason or "max_minutes"
        return stop_reason

    def _budget_left(self) -> dict[str, str]:
        """{"left": "M:SS"} of `max_minutes` for the progress bar; {} without a budget."""
        if self.config.max_minutes is None:
            return {}
        left = max(0.0, 60 * self.config.max_minutes - (time.perf_counter() - self._started))
        return {"left": f"{int(left // 60)}:{int(left % 60):02d}"}

    def _update(self, group: list[Batch]) -> dict[str, float] | None:
        """One optimizer update over `group` (this rank's batches of it); None (and counted)
        if it had to be skipped."""
        self._network.train()
        sums: dict[str, float] = {}
        non_finite = False
        for number, batch in enumerate(group):
            assert batch is not None, "a batch of another rank reached this one"
            batch = {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                     for k, v in batch.items()}
            last = number == len(group) - 1
            with self._gradient_sync(last):
                with self._autocast():
                    out = self._network(**batch)
                if not torch.isfinite(out["loss"]):
                    if not self.world.is_distributed:
                        return self._skip("loss")
                    non_finite = True  # the other ranks still expect this backward
                self.scaler.scale(out["loss"]).backward()
            for name, value in out.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
        if self.world.is_distributed:
            names = list(sums)
            totals = self.world.sum([sums[name] for name in names] + [float(non_finite)])
            sums = dict(zip(names, totals))
            if totals[-1]:
                return self._skip("loss")
        self.scaler.unscale_(self.optimizer)
        tokens = max(sums["tokens"], 1.0)
        # DDP has averaged the ranks' gradient sums; ×size/tokens = their sum / all tokens
        per_token = tokens / self.world.size if self.world.is_distributed else tokens
        params = [q for group_ in self.optimizer.param_groups for q in group_["params"]]
        for param in params:
            if param.grad is not None:
                param.grad.div_(per_token)
        norm = torch.nn.utils.clip_grad_norm_(params, self.config.clip_norm or math.inf)
        if not torch.isfinite(norm):
            if self.scaler.is_enabled():
                self.scaler.step(self.optimizer)  # sees the inf and skips; update() backs off
                self.scaler.update()
            return self._skip("gradient")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.progress.step += 1
        self._skipped_in_a_row = 0
        return sums

    def _skip(self, what: str) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.progress.skipped_updates += 1
        self._skipped_in_a_row += 1
        if self._skipped_in_a_row >= self.config.max_skipped_in_a_row:
            raise NonFiniteLossError(
                f"{self._skipped_in_a_row} updates in a row had a non-finite {what} (at step "
                f"{self.progress.step}); lower trainer.lr, raise trainer.warmup_steps, or "
                "set trainer.amp=false")
        return None

    def _validate(self, valid_batches: Callable[[], Iterable[Batch]]) -> dict[str, float]:
        """Mean loss/nll per token on the validation batches (each rank its share, summed
        over the ranks) and `valid_metrics`; updates the early-stop state and the history
        of `best_metric`."""
        world = self.world
        mine = (batch for i, batch in enumerate(valid_batches()) if world.owns(i))
        sums = world.sum_dict(evaluation_sums(self.model, mine, self.device, self.amp_dtype))
        result = per_token(sums)
        if self._valid_metrics is not None:
            result.update(self._main_valid_metrics())
        p = self.progress
        value = self._best_metric(result)
        p.valid_history[p.step] = value
        watched = -value if self.config.best_metric in MAXIMISED_METRICS else value
        if watched < p.best_valid - 1e-4:
            p.best_valid, p.bad_validations = watched, 0
        else:
            p.bad_validations += 1
        row = {"step": p.step, "epoch": p.epoch, "split": "valid", **result,
               "elapsed_s": time.perf_counter() - self._started}
        if self.log is not None:
            self.log.write(row)
        return result

    def _watch_best_metric(self, validates: bool) -> None:
        """Start the early-stop state and history afresh when a resumed run is told to watch
        another `best_metric` than its checkpoint's (their values would not compare)."""
        c, p, main = self.config, self.progress, self.world.is_main
        if p.best_metric != c.best_metric:
            if main and (p.valid_history or p.bad_validations):
                self._bar.write(f"trainer.best_metric is now {c.best_metric} (was "
                                f"{p.best_metric}): early stop and average_by=best start "
                                "counting afresh", file=sys.stderr)
            p.best_metric, p.best_valid, p.bad_validations = c.best_metric, math.inf, 0
            p.valid_history = {}
        if c.average_by == "best" and not validates and main:
            self._bar.write("warning: trainer.average_by=best without validation data: the "
                            "newest checkpoints are averaged", file=sys.stderr)

    def _main_valid_metrics(self) -> dict[str, float]:
        """`valid_metrics` computed on rank 0 (the others wait: keep it to seconds) and sent
        to every rank; an error there is raised on every rank, so none waits forever."""
        world = self.world
        if not world.is_distributed:
            return self._valid_metrics(self.model)
        extra, error = None, None
        if world.is_main:
            try:
                extra = self._valid_metrics(self.model)
            except Exception as caught:  # re-raised below, on every rank
                error = f"{type(caught).__name__}: {caught}"
        extra, error = world.from_main((extra, error))
        if error is not None:
            raise RuntimeError(f"validation metrics failed on rank 0: {error}")
        return extra

    def _best_metric(self, result: dict[str, float]) -> float:
        name = self.config.best_metric
        if name == "nll" and "nll" not in result:
            name = "loss"
        if name not in result:
            raise ValueError(f"trainer.best_metric={self.config.best_metric!r}: the validation "
                             f"reports {', '.join(sorted(result))}; pick one of those (bleu and "
                             "chrf need nmt-train's eval_bleu.sentences)")
        return float(result[name])

    def _best_steps(self) -> list[int]:
        """With `average_by: best`, the validated steps best first (ties: the newer first);
        otherwise []."""
        if self.config.average_by != "best":
            return []
        sign = -1.0 if self.config.best_metric in MAXIMISED_METRICS else 1.0
        history = self.progress.valid_history
        return sorted(history, key=lambda step: (sign * history[step], -step))

    def _autocast(self):
        return autocast(self.device, self.amp_dtype)

    def _gradient_sync(self, now: bool):
        """DDP: exchange gradients only in the backward pass of an update's last batch."""
        if isinstance(self._network, DistributedDataParallel) and not now:
            return self._network.no_sync()
        return nullcontext()

    # -- checkpoints ----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The checkpoint's content. Distributed: with every rank's RNG states (`rng_by_rank`);
        all ranks must call it together."""
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                 "progress": vars(self.progress).copy(), "rng": rng}
        if self.world.is_distributed:
            state["rng_by_rank"] = self.world.gather(rng)
        return state

    def save(self) -> Path:
        """Checkpoint the current step (rank 0 writes; all ranks must call it together)."""
        state = self.state()
        if not self.world.is_main:
            return self.store.path(self.progress.step)
        saved = set(self.store.steps()) | {self.progress.step}
        best = [step for step in self._best_steps() if step in saved]
        return self.store.save(state, self.progress.step,
                               protect=best[: self.config.average_last])

    def resume(self) -> bool:
        """Load the newest good checkpoint of `out_dir`, if any; True when one was loaded.
        Distributed: rank 0 reads it and sends it to the others (all must call this)."""
        if self.world.is_main:
            self.store.remove_leftovers()
        if self.world.is_distributed:
            state = self.world.from_main(self.store.load_latest(map_location="cpu")
                                         if self.world.is_main else None)
        else:
            state = self.store.load_latest(map_location=self.device)
        if self.log is not None:  # rows logged after that checkpoint, before a crash
            self.log.drop_after(state["progress"]["step"] if state is not None else 0)
        if state is None:
            return False
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.progress = Progress(**state["progress"])
        rng = state["rng"]
        if self.world.is_distributed:
            by_rank = state.get("rng_by_rank", [])
            if len(by_rank) == self.world.size:
                rng = by_rank[self.world.rank]
            elif not self.world.is_main:  # another number of processes: fresh, distinct RNGs
                torch.manual_seed(self.config.seed + 1000 * self.world.rank + self.progress.step)
                random.seed(self.config.seed + 1000 * self.world.rank + self.progress.step)
                return True
        torch.set_rng_state(rng["torch"].cpu())
        random.setstate(rng["python"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        return True


def _groups(batches: Iterator[T], size: int) -> Iterator[list[T]]:
    while group := list(itertools.islice(batches, size)):
        yield group


class _Window:
    """Sums over the updates since the last log row."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.started = time.perf_counter()

    def add(self, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0.0) + value

    def row(self, p: Progress, lr: float, run_started: float) -> dict[str, Any]:
        tokens = max(self.sums.get("tokens", 0.0), 1.0)
        seconds = max(time.perf_counter() - self.started, 1e-9)
        row = {"step": p.step, "epoch": p.epoch, "split": "train", "lr": lr,
               "tokens_per_s": self.sums.get("tokens", 0.0) / seconds,
               "elapsed_s": time.perf_counter() - run_started,
               "skipped_updates": p.skipped_updates}
        for name, value in self.sums.items():
            if name != "tokens":
                row[name] = value / tokens
        if "nll" in row:
            row["ppl"] = math.exp(min(row["nll"], 50.0))
        return row


class _StopOnInterrupt:
    """While training, the first SIGINT only asks the loop to stop after the current update
    (the loop then saves a checkpoint); the second raises KeyboardInterrupt as usual."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer, self.requested, self._previous = trainer, False, None

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: saving a checkpoint after this update (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)
