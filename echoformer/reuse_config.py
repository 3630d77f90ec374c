"""The reuse pattern as configuration (config group `reuse`), shared by ASR and NMT encoders."""

from __future__ import annotations

from dataclasses import dataclass

from echoformer.reuse import validate_pattern


@dataclass
class ReuseConfig:
    """Attention map reuse over an encoder's layers.

    group_size: groups of this many consecutive layers share one map (1 = no reuse). When the
    layers do not divide evenly the first group is the smaller one (lower layers' maps differ
    more): 6 layers, group_size 4 -> [2, 4].
    pattern: an explicit list of group sizes (e.g. [1, 1, 2, 2]); overrides group_size.
    """

    group_size: int = 1
    pattern: list[int] | None = None

    def pattern_for(self, num_layers: int) -> list[int]:
        """The group sizes for an encoder of `num_layers` layers; clear error if they don't fit."""
        if self.pattern:
            return validate_pattern(list(self.pattern), num_layers)
        if self.group_size < 1:
            raise ValueError(f"reuse.group_size={self.group_size}: use 1 (no reuse) or more")
        size = min(self.group_size, num_layers)
        groups = [size] * (num_layers // size)
        if num_layers % size:
            groups.insert(0, num_layers % size)
        return validate_pattern(groups, num_layers)
