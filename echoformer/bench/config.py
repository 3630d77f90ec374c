"""Structured config (schema) of the `bench` app; an unknown key is an error."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from echoformer.reuse import ReusePatternError
from echoformer.reuse_config import ReuseConfig

SUITES = ("layers", "asr", "nmt")


@dataclass
class AttentionBenchConfig:
    lengths: list[int] = field(default_factory=lambda: [128, 256, 512, 1024, 2048, 4096])
    groups: list[int] = field(default_factory=lambda: [2, 4])
    d_model: int = 256
    heads: int = 4
    batch: int = 1


@dataclass
class OutputLayerBenchConfig:
    vocabs: list[int] = field(default_factory=lambda: [8192, 32768, 262144, 819200])
    dims: list[int] = field(default_factory=lambda: [256, 512, 1024])
    rows: list[int] = field(default_factory=lambda: [1, 5, 64])
    window_fraction: float = 0.125  # W = D/8
    candidates_fraction: float = 0.0625  # N = V/16
    agreement_rows: int = 256
    zipf_bias: bool = True


@dataclass
class NMTBenchConfig:
    """suite=nmt: decoding speed of a trained model directory (`model=DIR`)."""

    sentences: str | None = None  # source text, one sentence a line (default: the test split)
    max_sentences: int = 96  # timed sentences per case
    beams: list[int] = field(default_factory=lambda: [1, 5])
    batches: list[int] = field(default_factory=lambda: [1, 32])
    group_size: int = 4  # encoder reuse rows: this group size against no reuse (same sizes)
    pattern: list[int] | None = None  # or an explicit reuse pattern, e.g. [1,1,2]
    agreement_sentences: int = 200  # teacher-forced states for SVD-softmax agreement
    # large-vocabulary rows: the model's sizes with V = large_vocab words and random weights
    # (speed only), full vs SVD-softmax, every hypothesis forced to large_vocab_tokens tokens
    large_vocab: int = 65536  # 0 = off
    large_vocab_tokens: int = 24


@dataclass
class ASRBenchConfig:
    """suite=asr: encoder latency per input length and real-time factor (`model=DIR`)."""

    seconds: list[float] = field(default_factory=lambda: [5.0, 10.0, 20.0, 30.0, 60.0])
    group_size: int = 4  # encoder reuse rows: this group size against no reuse (same sizes)
    pattern: list[int] | None = None  # or an explicit reuse pattern, e.g. [1,1,2,4]
    methods: list[str] = field(default_factory=lambda: [
        "ctc_greedy", "ctc_prefix_beam", "joint_beam", "attention_rescoring"])
    manifest: str | None = None  # audio for the real-time factor (default: the test set)
    max_utterances: int = 20
    # A language model (asr-lm-train model dir): the methods that can fuse one are timed
    # again with it, at its stored fusion settings ("joint_beam + LM" rows).
    lm: str | None = None


def reuse_rows_pattern(suite: str, node, num_layers: int) -> list[int]:
    """The reuse pattern a model suite times against no reuse: `node.pattern` (e.g. cfg.asr)
    when set, else groups of `node.group_size`; one clear exit naming the key if it does not
    fit the model's `num_layers` encoder layers (checked before any timing)."""
    if node.pattern:
        try:
            return ReuseConfig(pattern=list(node.pattern)).pattern_for(num_layers)
        except ReusePatternError as error:
            sys.exit(f"bench suite={suite}: {suite}.pattern: {error}")
    if node.group_size < 1:
        sys.exit(f"bench suite={suite}: {suite}.group_size={node.group_size}: use 1 (no reuse) "
                 f"or more, or an explicit {suite}.pattern=[...]")
    return ReuseConfig(group_size=node.group_size).pattern_for(num_layers)


@dataclass
class BenchConfig:
    suite: str = "layers"
    quick: bool = False  # a reduced grid, for tests and smoke runs
    device: str = "cpu"
    threads: int = 2  # torch intra-op threads on CPU, fixed and reported (0: torch default)
    warmup: int = 2
    repeats: int = 7
    model: str | None = None  # model directory, for suite=asr|nmt
    attention: AttentionBenchConfig = field(default_factory=AttentionBenchConfig)
    output_layer: OutputLayerBenchConfig = field(default_factory=OutputLayerBenchConfig)
    nmt: NMTBenchConfig = field(default_factory=NMTBenchConfig)
    asr: ASRBenchConfig = field(default_factory=ASRBenchConfig)


QUICK_OVERRIDES = {
    "repeats": 3, "warmup": 1,
    "attention": {"lengths": [128, 512], "groups": [2, 4]},
    "output_layer": {"vocabs": [8192, 32768], "dims": [256], "rows": [1, 5],
                     "agreement_rows": 64},
    "nmt": {"max_sentences": 8, "batches": [1, 8], "agreement_sentences": 16,
            "large_vocab": 16384, "large_vocab_tokens": 8},
    "asr": {"seconds": [5.0, 10.0], "max_utterances": 2},
}


def register() -> None:
    ConfigStore.instance().store(name="bench_schema", node=BenchConfig)
