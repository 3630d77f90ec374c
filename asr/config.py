"""Schemas of `asr-train` and `asr-lm-train` (Hydra structured configs): an unknown key is an
error.

`asr-train`: conf/asr_train.yaml, composed from the groups `asr_model` (tiny, demo, xs, s, m),
`reuse` (none, g2, g4; shared with NMT), `softmax` (full, svd) and `asr_augment` (none, rooms:
the `augment.*` keys, `AugmentConfig`, carried out by asr/augment.py). `asr-lm-train`:
conf/asr_lm_train.yaml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from hydra.core.config_store import ConfigStore

from asr.decoding import ASRDecodingOptions
from asr.lm import PieceLMConfig
from asr.model import ASRModelConfig
from echoformer.output_layer import SoftmaxConfig
from echoformer.reuse_config import ReuseConfig
from echoformer.training import TrainerConfig

NOISE_COLOURS = ("white", "pink", "brown")
CODEC_NAMES = ("mp3", "vorbis", "opus", "gsm")


def _pair(value: list[float], name: str, low: float = -math.inf, high: float = math.inf) -> None:
    if len(value) == 2 and low <= value[0] <= value[1] <= high:
        return
    bounds = " and ".join(b for b in (f"min >= {low}" * (low > -math.inf),
                                      f"max <= {high}" * (high < math.inf)) if b)
    raise ValueError(f"{name}={list(value)}: give [min, max] with min <= max"
                     + (f", {bounds}" if bounds else ""))


def _probability(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}.p={p}: a probability, between 0 and 1")


@dataclass
class ReverbConfig:
    """rooms: impulse responses in the bank; rt60: seconds (decay by 60 dB); room_min,
    room_max: length, width, height in metres (source and microphone ≥ 0.5 m from walls);
    max_seconds: responses are cut at min(rt60, max_seconds)."""

    p: float = 0.0
    rooms: int = 32
    rt60: list[float] = field(default_factory=lambda: [0.15, 0.7])
    room_min: list[float] = field(default_factory=lambda: [3.0, 3.0, 2.4])
    room_max: list[float] = field(default_factory=lambda: [10.0, 8.0, 4.0])
    max_seconds: float = 0.5

    def __post_init__(self) -> None:
        _probability(self.p, "augment.reverb")
        _pair(self.rt60, "augment.reverb.rt60", 0.01)
        if len(self.room_min) != 3 or len(self.room_max) != 3 or not all(
                1.0 < lo <= hi for lo, hi in zip(self.room_min, self.room_max)):
            raise ValueError(f"augment.reverb.room_min={list(self.room_min)}, room_max="
                             f"{list(self.room_max)}: three sizes in metres each, 1 < min <= max")
        if self.rooms < 1 or self.max_seconds <= 0:
            raise ValueError("augment.reverb.rooms must be >= 1 and max_seconds > 0")


@dataclass
class BabbleConfig:
    """speakers: [min, max] other utterances mixed in; bank: training utterances loaded at
    start-up to draw them from; snr_db: speech-to-babble ratio."""

    p: float = 0.0
    speakers: list[int] = field(default_factory=lambda: [3, 6])
    snr_db: list[float] = field(default_factory=lambda: [5.0, 20.0])
    bank: int = 32

    def __post_init__(self) -> None:
        _probability(self.p, "augment.babble")
        _pair(self.speakers, "augment.babble.speakers", 1)
        _pair(self.snr_db, "augment.babble.snr_db")
        if self.bank < 1:
            raise ValueError(f"augment.babble.bank={self.bank}: must be >= 1")


@dataclass
class NoiseConfig:
    """colours: drawn from white, pink, brown; snr_db: speech-to-noise ratio."""

    p: float = 0.0
    colours: list[str] = field(default_factory=lambda: ["white", "pink", "brown"])
    snr_db: list[float] = field(default_factory=lambda: [5.0, 30.0])

    def __post_init__(self) -> None:
        _probability(self.p, "augment.noise")
        _pair(self.snr_db, "augment.noise.snr_db")
        if not self.colours or set(self.colours) - set(NOISE_COLOURS):
            raise ValueError(f"augment.noise.colours={list(self.colours)}: choose from "
                             f"{list(NOISE_COLOURS)}")


@dataclass
class GainConfig:
    p: float = 0.0
    db: list[float] = field(default_factory=lambda: [-12.0, 6.0])

    def __post_init__(self) -> None:
        _probability(self.p, "augment.gain")
        _pair(self.db, "augment.gain.db")


@dataclass
class ClippingConfig:
    """fraction: [min, max] share of the samples clipped (the level is the matching
    quantile of |x|)."""

    p: float = 0.0
    fraction: list[float] = field(default_factory=lambda: [0.001, 0.02])

    def __post_init__(self) -> None:
        _probability(self.p, "augment.clipping")
        _pair(self.fraction, "augment.clipping.fraction", 0.0, 0.5)


@dataclass
class TelephoneConfig:
    """low_hz: high-pass edge (0 = none); the top edge is 4 kHz (8 kHz sampling)."""

    p: float = 0.0
    low_hz: float = 300.0

    def __post_init__(self) -> None:
        _probability(self.p, "augment.telephone")


@dataclass
class MuLawConfig:
    p: float = 0.0
    channels: int = 256

    def __post_init__(self) -> None:
        _probability(self.p, "augment.mulaw")
        if self.channels < 2:
            raise ValueError(f"augment.mulaw.channels={self.channels}: must be >= 2")


@dataclass
class CodecConfig:
    """codecs: drawn from mp3, vorbis, opus, gsm; compression: libsndfile's compression level
    [min, max] within [0, 0.99] (MP3 refuses 1), higher = fewer bits: on 16 kHz speech 0.8
    gives MP3 ~32, Vorbis ~33, Opus ~58 kbit/s and 0.99 ~23, ~27, ~9 kbit/s; gsm has one
    bitrate (13 kbit/s at 8 kHz)."""

    p: float = 0.0
    codecs: list[str] = field(default_factory=lambda: ["mp3", "vorbis", "opus", "gsm"])
    compression: list[float] = field(default_factory=lambda: [0.8, 0.99])

    def __post_init__(self) -> None:
        _probability(self.p, "augment.codec")
        if not self.codecs or set(self.codecs) - set(CODEC_NAMES):
            raise ValueError(f"augment.codec.codecs={list(self.codecs)}: choose from "
                             f"{list(CODEC_NAMES)}")
        _pair(self.compression, "augment.codec.compression", 0.0, 0.99)


@dataclass
class AugmentConfig:
    """The chain's steps in their order; all off (p = 0) by default."""

    reverb: ReverbConfig = field(default_factory=ReverbConfig)
    babble: BabbleConfig = field(default_factory=BabbleConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    gain: GainConfig = field(default_factory=GainConfig)
    clipping: ClippingConfig = field(default_factory=ClippingConfig)
    telephone: TelephoneConfig = field(default_factory=TelephoneConfig)
    mulaw: MuLawConfig = field(default_factory=MuLawConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name).p > 0 for f in fields(self))


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
    augment: AugmentConfig = field(default_factory=AugmentConfig)
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
