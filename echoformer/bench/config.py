"""Structured config (schema) of the `bench` app; an unknown key is an error.

The core's own part (`BenchConfig`: suite=layers and the keys every suite reads) gets one node
per task suite (its `echoformer.tasks.BenchSuite.schema`) in `bench_schema`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, make_dataclass

from hydra.core.config_store import ConfigStore

from echoformer.reuse import ReusePatternError
from echoformer.reuse_config import ReuseConfig
from echoformer.tasks import BenchSuite

CORE_SUITE = "layers"


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


def reuse_rows_pattern(suite: str, node, num_layers: int) -> list[int]:
    """The reuse pattern a model suite times against no reuse: `node.pattern` (its config node)
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
    suite: str = CORE_SUITE
    quick: bool = False  # a reduced grid, for tests and smoke runs
    device: str = "cpu"
    threads: int = 2  # torch intra-op threads on CPU, fixed and reported (0: torch default)
    warmup: int = 2
    repeats: int = 7
    model: str | None = None  # model directory, for a task's suite
    attention: AttentionBenchConfig = field(default_factory=AttentionBenchConfig)
    output_layer: OutputLayerBenchConfig = field(default_factory=OutputLayerBenchConfig)


QUICK_OVERRIDES = {
    "repeats": 3, "warmup": 1,
    "attention": {"lengths": [128, 512], "groups": [2, 4]},
    "output_layer": {"vocabs": [8192, 32768], "dims": [256], "rows": [1, 5],
                     "agreement_rows": 64},
}


def bench_schema(suites: Mapping[str, BenchSuite]) -> type:
    """`BenchConfig` with a node per task suite, named after it (its schema's defaults)."""
    taken = {f.name for f in fields(BenchConfig)}
    clashes = sorted(taken & set(suites))
    assert not clashes, f"bench suites named like a core key: {clashes}"
    return make_dataclass("BenchConfig", [
        (name, suite.schema, field(default_factory=suite.schema))
        for name, suite in suites.items()], bases=(BenchConfig,))


def quick_overrides(suites: Mapping[str, BenchSuite]) -> dict:
    """What ``quick=true`` sets: the core's reduced grid and each suite's."""
    return QUICK_OVERRIDES | {name: dict(suite.quick) for name, suite in suites.items()}


def register(suites: Mapping[str, BenchSuite]) -> None:
    """Store the schema as ``bench_schema``, which conf/bench.yaml's defaults list names."""
    ConfigStore.instance().store(name="bench_schema", node=bench_schema(suites))
