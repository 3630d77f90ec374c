"""Strict structured configs: keys that the dataclass schema does not know are errors.

Hydra's struct mode already refuses `key=value` for an unknown key, but `+key=value` forces it
in, and `OmegaConf.to_object` then drops it without a word; `to_dataclass` refuses both.
"""

from __future__ import annotations

from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

T = TypeVar("T")


def unknown_keys(cfg: DictConfig, schema: Any, prefix: str = "") -> list[str]:
    """Dotted paths of keys in `cfg` that the structured config `schema` does not have."""
    reference = OmegaConf.structured(schema) if not isinstance(schema, DictConfig) else schema
    found = []
    for key in cfg:
        path = f"{prefix}{key}"
        if key not in reference:
            found.append(path)
            continue
        value, expected = cfg._get_node(key), reference._get_node(key)
        if isinstance(value, DictConfig) and isinstance(expected, DictConfig) \
                and not expected._is_none():
            found += unknown_keys(value, expected, prefix=f"{path}.")
    return found


def to_dataclass(cfg: DictConfig, schema: type[T]) -> T:
    """`cfg` as an instance of `schema` (validated by its __post_init__); ValueError naming
    any key the schema does not know."""
    extra = unknown_keys(cfg, schema)
    if extra:
        raise ValueError(f"unknown config key(s) {', '.join(extra)}: check the spelling "
                         f"(the schema is {schema.__module__}.{schema.__qualname__})")
    return OmegaConf.to_object(cfg)
