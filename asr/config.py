"""Schemas of `asr-train` and `asr-lm-train` (Hydra structured configs): an unknown key is an
error.

`asr-train`: conf/asr_train.yaml, composed from the groups `asr_model` (tiny, demo, xs, s, m),
`reuse` (none, g2, g4; shared with NMT) and `softmax` (full, svd). `asr-lm-train`:
conf/asr_lm_train.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from asr.decoding import ASRDecodingOptions
from asr.lm import PieceLMConfig
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


@dataclass
class LMDataConfig:
    """train/valid: text files, one sentence or phrase a line, read in the ASR model's
    transcript form (`python -m asr.data.prepare lm-text` writes lm_train.txt and lm_valid.txt);
    tokenizer: the ASR model's sentencepiece model (its model/spm.model), whose pieces the LM
    predicts; max_tokens: padded tokens per training batch (× trainer.accumulate per update);
    max_length: longer lines (in pieces, with the end token) are left out."""

    train: str = "data/synth_asr/lm_train.txt"
    valid: str = "data/synth_asr/lm_valid.txt"
    tokenizer: str = "data/synth_asr/tokenizer.model"
    max_tokens: int = 4000
    valid_max_tokens: int = 8000
    max_length: int = 100


@dataclass
class LMTrainConfig:
    data: LMDataConfig = field(default_factory=LMDataConfig)
    model: PieceLMConfig = field(default_factory=PieceLMConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads (0 = torch's default)


def register() -> None:
    ConfigStore.instance().store(name="asr_train_schema", node=ASRTrainConfig)
    ConfigStore.instance().store(name="asr_lm_train_schema", node=LMTrainConfig)
