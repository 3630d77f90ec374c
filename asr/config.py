"""Schema of `asr-train` (Hydra structured config): an unknown key is an error.

Composed by conf/asr_train.yaml from the groups `asr_model` (tiny, demo, xs, s, m), `reuse`
(none, g2, g4; shared with NMT) and `softmax` (full, svd).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from asr.decoding import ASRDecodingOptions
from asr.model import ASRModelConfig
from echoformer.output_layer import SoftmaxConfig
from echoformer.reuse_config import ReuseConfig
from echoformer.training import TrainerConfig


@dataclass
class ASRDataConfig:
    """dir: a folder from `python -m asr.data.prepare` (SPLIT.jsonl, cmvn.json,
    tokenizer.model). train/valid: manifests, relative to dir. tokenizer/cmvn: other paths
    (default dir/tokenizer.model, dir/cmvn.json). max_batch_seconds: padded audio per
    training batch (× trainer.accumulate per update); max_duration: longer training
    utterances are left out. cache_features: keep fbank features in memory across epochs.
    speed_perturb: speed factors drawn per training utterance and read (e.g. [0.9,1.0,1.1];
    [] = off); batches are planned on unperturbed durations, so a batch can hold up to
    1/min(factor) times max_batch_seconds of audio. vtlp: vocal-tract-length perturbation,
    Kaldi VTLN warp factors drawn per training utterance and read (e.g. [0.9,1.0,1.1]: the
    spectrum moves up to 10% down or up, tempo kept; [] = off)."""

    dir: str = "data/synth_asr"
    train: str = "train.jsonl"
    valid: str = "dev.jsonl"
    tokenizer: str | None = None
    cmvn: str | None = None
    max_batch_seconds: float = 120.0
    valid_max_batch_seconds: float = 240.0
    max_duration: float = 30.0
    max_utterances: int | None = None  # use only the first N training rows (smoke runs)
    dither: float = 0.0
    speed_perturb: list[float] = field(default_factory=list)
    vtlp: list[float] = field(default_factory=list)
    cache_features: bool = True
    num_workers: int = 0


@dataclass
class ASRTrainConfig:
    data: ASRDataConfig = field(default_factory=ASRDataConfig)
    model: ASRModelConfig = field(default_factory=ASRModelConfig)
    reuse: ReuseConfig = field(default_factory=ReuseConfig)
    softmax: SoftmaxConfig = field(default_factory=SoftmaxConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decoding: ASRDecodingOptions = field(default_factory=ASRDecodingOptions)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads (0 = torch's default)


def register() -> None:
    ConfigStore.instance().store(name="asr_train_schema", node=ASRTrainConfig)
