"""What every training app does with its run folder before training."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import Any

import yaml
from torch import nn

from echoformer.model_dir import initialise_from

RUN_CONFIG_FILE = "run_config.yaml"
CHECKPOINT_DIR = "checkpoints"


def check_resumable(run_dir: Path, run_config: dict[str, Any],
                    identity: dict[str, Callable[[dict], Any]]) -> None:
    """Record the run's config in `run_dir`; refuse to resume a run there that trains another
    model. `identity` maps a name (data, model size, reuse, ...) to a function of a config;
    any that gives another value for the folder's recorded config is an error."""
    path = run_dir / RUN_CONFIG_FILE
    if path.is_file():
        before = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, of in identity.items():
            if of(before) != of(run_config):
                raise ValueError(
                    f"{run_dir} holds a run with a different {key} ({of(before)} there, "
                    f"{of(run_config)} now); pick another hydra.run.dir, or delete the folder "
                    "to start over")
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(run_config, sort_keys=False), encoding="utf-8")


def start_from(model: nn.Module, run_dir: Path, init_from: str | None,
               tokenizer_model: Path) -> dict[str, str] | None:
    """`trainer.init_from`: load that model directory's weights into `model` (checked, see
    `initialise_from`) and return what run_config.yaml and model.yaml record of the run's
    start (`starting_point`); None, and the weights left as they are, without it."""
    if not init_from:
        return None
    meta = initialise_from(model, Path(init_from), tokenizer_model)
    return starting_point(run_dir, init_from, meta["weights_sha256"])


def starting_point(run_dir: Path, init_from: str, weights_sha256: str) -> dict[str, str] | None:
    """What the run records of the weights it began from (`trainer.init_from`): the model
    directory's path and its weights' checksum. A run that resumes (checkpoints exist and
    run_config.yaml says where it began) keeps its first record, None for random weights:
    the folder may hold other weights by now, and the checkpoints, not the folder, carry the
    run on."""
    config_file = run_dir / RUN_CONFIG_FILE
    if config_file.is_file() and has_checkpoints(run_dir):
        before = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        if "initialised_from" in before:  # absent in runs begun before it was recorded
            return before["initialised_from"]
    return {"path": init_from, "weights_sha256": weights_sha256}


def has_checkpoints(run_dir: Path) -> bool:
    """Whether a run in `run_dir` has saved a checkpoint, so that training there resumes."""
    return any((run_dir / CHECKPOINT_DIR).glob("step_*.pt"))


def describe_start(run_dir: Path, record: dict[str, str] | None) -> str:
    """The start-up line's words on the run's first weights (`starting_point`'s record): empty
    for random weights; a resumed run says what it began from, not that it starts from it."""
    if record is None:
        return ""
    verb = "begun from" if has_checkpoints(run_dir) else "starting from"
    return f"; {verb} the weights of {record['path']}"
