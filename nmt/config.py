"""Schema of `nmt-train` (Hydra structured config): an unknown key is an error.

Composed by conf/nmt_train.yaml from the groups `nmt_model` (tiny, demo, small, base), `reuse` (none, g2,
g4) and `softmax` (full, svd).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from echoformer.output_layer import SoftmaxConfig
from echoformer.reuse_config import ReuseConfig
from echoformer.search import DecodingOptions
from echoformer.training import TrainerConfig
from nmt.model import NMTModelConfig


@dataclass
class DataConfig:
    """dir: a folder from `python -m nmt.data.prepare` ({split}.{lang} files). The direction
    is src_lang -> tgt_lang. spm: the sentencepiece model (default dir/spm.model).
    max_tokens: padded tokens per training batch (× trainer.accumulate per update).
    subword_alpha: subword regularisation (Kudo 2018) when > 0: each epoch the training pairs
    are segmented anew at random, sentencepiece sampling with this alpha (unigram models:
    smaller is more varied; with the shipped 8K model 0.3 gives 21% more pieces than the best
    segmentation, 0.1 twice as many; BPE models: the merge dropout rate); 0 = always the best
    segmentation. Validation and decoding always use the best one."""

    dir: str = "data/ding_nmt"
    src_lang: str = "en"
    tgt_lang: str = "de"
    spm: str | None = None
    max_tokens: int = 4096
    valid_max_tokens: int = 8192
    subword_alpha: float = 0.0


@dataclass
class EvalBleuConfig:
    """BLEU during training (fairseq's --eval-bleu): at every validation, translate the first
    `sentences` pairs of the validation split (0 = off) with beam `beam_size`, `batch_size`
    sentences at a time, and log sacreBLEU's `bleu` and `chrf` (detokenised, as `nmt-score`)
    beside the loss in train_log.csv. With `trainer.best_metric=bleu` they steer early stop
    and, with `trainer.average_by=best`, which checkpoints the exported model averages."""

    sentences: int = 0
    beam_size: int = 1
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.sentences < 0:
            raise ValueError(f"eval_bleu.sentences={self.sentences}: must be ≥ 0 (0 = off)")
        for name in ("beam_size", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"eval_bleu.{name}={getattr(self, name)}: must be ≥ 1")


@dataclass
class NMTTrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: NMTModelConfig = field(default_factory=NMTModelConfig)
    reuse: ReuseConfig = field(default_factory=ReuseConfig)
    softmax: SoftmaxConfig = field(default_factory=SoftmaxConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decoding: DecodingOptions = field(default_factory=DecodingOptions)
    eval_bleu: EvalBleuConfig = field(default_factory=EvalBleuConfig)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads (0 = torch's default)


def register() -> None:
    ConfigStore.instance().store(name="nmt_train_schema", node=NMTTrainConfig)
