"""What every training app does with its run folder before training."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import Any

import yaml

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


def starting_point(run_dir: Path, init_from: str, weights_sha256: str) -> dict[str, str] | None:
    """What the run records of the weights it began from (`trainer.init_from`): the model
    directory's path and its weights' checksum. A run that resumes (checkpoints exist and
    run_config.yaml says where it began) keeps its first record, None for random weights:
    the folder may hold other weights by now, and the checkpoints, not the folder, carry the
    run on."""
    config_file = run_dir / RUN_CONFIG_FILE
    if config_file.is_file() and any((run_dir / CHECKPOINT_DIR).glob("step_*.pt")):
        before = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        if "initialised_from" in before:  # absent in runs begun before it was recorded
            return before["initialised_from"]
    return {"path": init_from, "weights_sha256": weights_sha256}
