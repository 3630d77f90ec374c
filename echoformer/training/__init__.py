"""Task-agnostic training: the loop, checkpoints, schedule, log."""

from echoformer.training.checkpoints import CheckpointStore, CorruptCheckpoint
from echoformer.training.config import TrainerConfig
from echoformer.training.trainer import NonFiniteLossError, Trainer, TrainingSummary

__all__ = ["CheckpointStore", "CorruptCheckpoint", "NonFiniteLossError", "Trainer",
           "TrainerConfig", "TrainingSummary"]
