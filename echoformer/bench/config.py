"""Structured config (schema) of the `bench` app; an unknown key is an error."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

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
class BenchConfig:
    suite: str = "layers"
    quick: bool = False  # a reduced grid, for tests and smoke runs
    device: str = "cpu"
    threads: int = 2  # torch intra-op threads on CPU, fixed and reported
    warmup: int = 2
    repeats: int = 7
    model: str | None = None  # model directory, for suite=asr|nmt
    attention: AttentionBenchConfig = field(default_factory=AttentionBenchConfig)
    output_layer: OutputLayerBenchConfig = field(default_factory=OutputLayerBenchConfig)


QUICK_OVERRIDES = {
    "repeats": 3, "warmup": 1,
    "attention": {"lengths": [128, 512], "groups": [2, 4]},
    "output_layer": {"vocabs": [8192, 32768], "dims": [256], "rows": [1, 5],
                     "agreement_rows": 64},
}


def register() -> None:
    ConfigStore.instance().store(name="bench_schema", node=BenchConfig)
