"""Schema of the trainer's settings (the `trainer` node of a training config)."""

from __future__ import annotations

from dataclasses import dataclass, field


AVERAGE_BY = ("last", "best")
MAXIMISED_METRICS = frozenset({"accuracy", "bleu", "chrf"})  # the rest are minimised


@dataclass
class TrainerConfig:
    """How to train; steps are optimizer updates (each of `accumulate` batches).

    lr: peak learning rate, reached after `warmup_steps`, then ∝ 1/√step (inverse-sqrt).
    clip_norm: gradient-norm clipping (0 = off). amp: mixed precision on CUDA (`amp_dtype`
    bfloat16 or float16; float16 uses a gradient scaler); ignored on CPU.
    Stops at `max_steps`, after `max_epochs` or `max_minutes` (this run's wall time), or when
    the validation's `best_metric` has not improved for `patience` validations (0 = never).
    Validates every `valid_every` steps, checkpoints every `save_every` steps and at the end,
    keeps the newest `keep_checkpoints`, and exports the mean of `average_last` checkpoints:
    the newest ones (`average_by: last`), or those with the best `best_metric` among the
    validated ones (`average_by: best`, which also checkpoints every validated step and keeps
    the best `average_last` besides the newest; fairseq's best-checkpoint and ESPnet's n-best
    averaging). best_metric: a column of the validation rows of train_log.csv: `nll`
    (default; `loss` where a model reports no `nll`), `loss`, `accuracy` (asr-train), `bleu`
    or `chrf` (nmt-train with `eval_bleu.sentences`); `accuracy`, `bleu` and `chrf` are
    maximised, the others minimised. A run resumed with another best_metric starts its
    early-stop count and best-checkpoint history afresh (the old values do not compare).
    find_unused_parameters: under torchrun, DistributedDataParallel's option of that name, for
    a model whose loss leaves some parameters out of the graph (none of ours does).
    init_from: a model directory (a run's model/, or a shipped model such as models/asr-en)
    whose weights start the run, to fine-tune it: same model size, reuse pattern and
    sentencepiece model. Only the weights are taken (steps, warm-up and optimizer start
    afresh). A run that resumes continues from its own checkpoint, which replaces these
    weights (the directory is still read and checked). run_config.yaml and model.yaml record
    `initialised_from`: the path and the checksum of the weights the run began from (a
    resumed run keeps the record of its first start, even if the directory changed since).
    """

    lr: float = 5e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = 0.0001
    warmup_steps: int = 4000
    max_steps: int = 100_000
    max_epochs: int | None = None
    max_minutes: float | None = None
    accumulate: int = 1
    clip_norm: float = 1.0
    amp: bool = True
    amp_dtype: str = "bfloat16"
    valid_every: int = 1000
    save_every: int = 1000
    keep_checkpoints: int = 5
    average_last: int = 5
    patience: int = 10
    best_metric: str = "nll"
    average_by: str = "last"
    log_every: int = 100
    progress: bool = True
    seed: int = 1
    max_skipped_in_a_row: int = 100
    find_unused_parameters: bool = False
    init_from: str | None = None

    def __post_init__(self) -> None:
        problems = [name for name in ("warmup_steps", "max_steps", "accumulate", "valid_every",
                                      "save_every", "average_last", "log_every")
                    if getattr(self, name) < 1]
        if problems:
            raise ValueError(f"trainer.{problems[0]}={getattr(self, problems[0])}: must be ≥ 1")
        if self.average_by not in AVERAGE_BY:
            raise ValueError(f"trainer.average_by={self.average_by!r}: use "
                             + " or ".join(AVERAGE_BY))
        if self.amp_dtype not in ("bfloat16", "float16"):
            raise ValueError(f"trainer.amp_dtype={self.amp_dtype!r}: use bfloat16 or float16")
