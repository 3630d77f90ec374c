"""Reuse patterns and the encoder stack that shares attention maps within groups.

A pattern is a list of group sizes over consecutive layers, e.g. ``[1, 1, 2, 4]`` for eight
layers: two layers on their own, a group of two, a group of four. The first layer of a group
of two or more computes the map (LEADER), the others reuse it (FOLLOWER); a group of one is
PLAIN and uses the fused kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from echoformer.attention import MapWorkspace, Role


class ReusePatternError(ValueError):
    """A reuse pattern that does not fit the encoder."""


def validate_pattern(pattern: Sequence[int] | None, num_layers: int) -> list[int]:
    """The pattern as a list, or all ones when `pattern` is None/empty; clear error otherwise."""
    if not pattern:
        return [1] * num_layers
    groups = list(pattern)
    if any(not isinstance(g, int) or isinstance(g, bool) or g < 1 for g in groups):
        raise ReusePatternError(
            f"reuse pattern {groups}: every group size must be a positive integer")
    if sum(groups) != num_layers:
        raise ReusePatternError(
            f"reuse pattern {groups} covers {sum(groups)} layers but the encoder has "
            f"{num_layers}: make the group sizes sum to {num_layers} (e.g. "
            f"{_example(num_layers)})")
    return groups


def _example(num_layers: int) -> list[int]:
    return [4] * (num_layers // 4) + [1] * (num_layers % 4)


def layer_roles(pattern: Sequence[int]) -> list[Role]:
    """Role of each layer: [1, 3] -> [PLAIN, LEADER, FOLLOWER, FOLLOWER]."""
    roles: list[Role] = []
    for size in pattern:
        roles += [Role.PLAIN] if size == 1 else [Role.LEADER] + [Role.FOLLOWER] * (size - 1)
    return roles


class ReuseEncoder(nn.Module):
    """A stack of layers that pass attention maps from each group's leader to its followers.

    `make_layer(role)` builds one layer; a layer is called as
    ``layer(x, mask, pos_emb=..., shared=..., workspace=...) -> (x, shared_map_or_None)``.
    """

    def __init__(self, make_layer: Callable[[Role], nn.Module], num_layers: int,
                 pattern: Sequence[int] | None = None) -> None:
        super().__init__()
        self.pattern = validate_pattern(pattern, num_layers)
        self.roles = layer_roles(self.pattern)
        self.layers = nn.ModuleList(make_layer(role) for role in self.roles)
        self.workspace = MapWorkspace()

    def forward(self, x: Tensor, mask: Tensor | None = None, pos_emb: Tensor | None = None
                ) -> Tensor:
        """x: (B, L, D); mask: (B, L) bool, True for real frames. Returns (B, L, D)."""
        shared = None
        for layer, role in zip(self.layers, self.roles):
            x, handed = layer(x, mask, pos_emb=pos_emb,
                              shared=shared if role is Role.FOLLOWER else None,
                              workspace=self.workspace)
            if role is not Role.FOLLOWER:
                shared = handed
        return x
