"""`python -m asr.grow`: a deeper Conformer that starts from a trained shallower one.

Training a 16-layer encoder from random weights on two CPU cores spends hours on the CTC
plateau; starting it from a trained 8-layer model of the same width skips that. Each source
layer becomes a run of target layers (16 from 8: two each; `source_layers`). The first of a
run is the source layer; the others are copies of it whose residual branches start switched
off (their output projections zero), so they pass their input through, and the last of the
run takes over the source layer's final LayerNorm scale and shift (the earlier ones'
are the identity, and a LayerNorm of already normalised features is that same input). A
wider depthwise kernel starts as the old one with zeros at both ends. Subsampling, CMVN, CTC
head and decoder are copied as they are. The grown model thus computes what the source did
wherever the reuse groups line up (every [2, 2, 2, 2] map lands on the leader of a [4, 4, 4,
4] group, for instance); a layer that computes a map where its source layer reused one takes
the query/key/position weights of the source group's leader, and every layer keeps its
source's value projection.

The result is a model directory for `asr-train trainer.init_from=DIR` with the same
`asr_model`, `reuse` and tokenizer; training then puts the new layers to work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from asr.model import ASRModel
from echoformer.attention import Role
from echoformer.model_dir import (TOKENIZER_FILE, ModelDirError, current_model_keys,
                                  load_model_dir, save_model_dir)
from echoformer.paths import CONF_DIR
from echoformer.reuse import layer_roles
from echoformer.reuse_config import ReuseConfig

LAYERS = "encoder.blocks.layers"
MAP_WEIGHTS = ("pos_bias_u", "pos_bias_v", "pos_proj.weight")  # a map's own, besides Q/K
BRANCH_OUTPUTS = ("ffn1.net.4.", "attention.out.", "conv.pointwise_out.", "ffn2.net.4.")
FINAL_NORM = "final_norm."


def source_layers(num_source: int, num_target: int) -> list[int]:
    """Which source layer each target layer copies: the one at the same relative depth."""
    if num_target < num_source:
        raise ValueError(f"growing {num_source} layers into {num_target}: the target must "
                         "have at least as many layers as the source")
    return [i * num_source // num_target for i in range(num_target)]


def grow_state_dict(source: dict[str, torch.Tensor], source_pattern: list[int],
                    target: dict[str, torch.Tensor], target_pattern: list[int]
                    ) -> dict[str, torch.Tensor]:
    """`target` (a deeper model's state dict, for its keys and shapes) filled from `source`."""
    source_roles, target_roles = layer_roles(source_pattern), layer_roles(target_pattern)
    leader = []  # each source layer's map owner: itself, or its group's leader
    for i, role in enumerate(source_roles):
        leader.append(leader[-1] if role is Role.FOLLOWER else i)
    copies = source_layers(len(source_roles), len(target_roles))
    grown = {}
    for key, like in target.items():
        if not key.startswith(LAYERS + "."):
            grown[key] = _fit(_own(source, key), like, key)
            continue
        index, rest = key[len(LAYERS) + 1:].split(".", 1)
        layer = int(index)
        src = copies[layer]
        first, last = copies.index(src), len(copies) - 1 - copies[::-1].index(src)
        weight = _fit(_layer_weight(source, src, leader[src], rest), like, key)
        if layer != first and rest.startswith(BRANCH_OUTPUTS):
            weight = torch.zeros_like(weight)  # a pass-through copy: branch off
        elif layer != last and rest.startswith(FINAL_NORM):  # identity: the last one scales
            identity = torch.ones_like if rest.endswith("weight") else torch.zeros_like
            weight = identity(weight)
        grown[key] = weight
    return grown


def _layer_weight(source: dict[str, torch.Tensor], layer: int, map_owner: int, rest: str
                  ) -> torch.Tensor:
    """Source layer `layer`'s tensor for the target's parameter `rest` (within a layer)."""
    own = f"{LAYERS}.{layer}.{rest}"
    if own in source or not rest.startswith("attention."):
        return _own(source, own)
    kind = rest.split(".")[-1]  # weight / bias
    if rest.startswith("attention.value."):  # target follower, source computes its map
        return source[f"{LAYERS}.{layer}.attention.qkv.{kind}"].chunk(3)[2]
    if rest.startswith("attention.qkv."):  # target computes a map, source reuses one
        query_key = source[f"{LAYERS}.{map_owner}.attention.qkv.{kind}"].chunk(3)[:2]
        value = source[f"{LAYERS}.{layer}.attention.value.{kind}"]
        return torch.cat([*query_key, value])
    if rest.removeprefix("attention.") in MAP_WEIGHTS:
        return source[f"{LAYERS}.{map_owner}.{rest}"]
    return _own(source, own)


def _own(source: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in source:
        raise ModelDirError(f"{key}: the source model has no such weights; its architecture "
                            "differs beyond depth and kernel (e.g. conv_norm), which cannot grow")
    return source[key]


def _fit(weight: torch.Tensor, like: torch.Tensor, key: str) -> torch.Tensor:
    """`weight` as `like`'s dtype and shape; a shorter depthwise kernel is zero-padded."""
    weight = weight.to(like.dtype)
    if weight.shape == like.shape:
        return weight.clone()
    if key.endswith("conv.depthwise.weight") and weight.shape[:2] == like.shape[:2]:
        pad = like.shape[2] - weight.shape[2]
        if pad > 0 and pad % 2 == 0:
            return torch.nn.functional.pad(weight, (pad // 2, pad // 2))
    raise ModelDirError(f"{key}: shape {tuple(weight.shape)} cannot grow into "
                        f"{tuple(like.shape)}; only depth and the conv kernel may grow, not "
                        "the width (d_model, heads, FFN) or the vocabulary")


def grow(source_dir: Path, model_name: str, reuse_name: str, out: Path) -> Path:
    """Write a model directory of size `model_name` (conf/asr_model) with reuse `reuse_name`
    (conf/reuse) into `out`, its weights grown from the model directory `source_dir`."""
    loaded = load_model_dir(source_dir)
    source = loaded.model
    if not isinstance(source, ASRModel):
        raise ModelDirError(f"{source_dir}: not a speech-recognition model")
    architecture = loaded.meta["architecture"]
    model = OmegaConf.merge(current_model_keys(architecture["model"]),
                            _conf("asr_model", model_name))
    if model.conv_norm != source.config.conv_norm:  # same shapes, another function
        raise ModelDirError(f"asr_model={model_name} has conv_norm={model.conv_norm}, the source "
                            f"{source.config.conv_norm}: only depth and the conv kernel can grow")
    reuse = ReuseConfig(**OmegaConf.to_container(_conf("reuse", reuse_name)))
    config = {"model": OmegaConf.to_container(model), "vocab_size": architecture["vocab_size"],
              "reuse_pattern": reuse.pattern_for(int(model.encoder_layers))}
    target = ASRModel.from_config(config)
    target.load_state_dict(grow_state_dict(source.state_dict(), source.encoder.reuse_pattern,
                                           target.state_dict(), target.encoder.reuse_pattern))
    task = {"task": "speech_recognition", "grown_from": {
        "path": str(source_dir), "weights_sha256": loaded.meta["weights_sha256"],
        "layers": source_layers(source.config.encoder_layers, target.config.encoder_layers)}}
    return save_model_dir(out, target, target.state_dict(), source_dir / TOKENIZER_FILE, task)


def _conf(group: str, name: str) -> DictConfig:
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise ModelDirError(f"{group}={name}: there is no {path} (known: {known})")
    return OmegaConf.load(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asr.grow", description=__doc__.split("\n\n")[1],
        epilog="then: asr-train asr_model=MODEL reuse=REUSE trainer.init_from=OUT "
               "data.tokenizer=<the source's tokenizer> ...")
    parser.add_argument("source", type=Path, help="a trained ASR model directory")
    parser.add_argument("out", type=Path, help="the grown model directory to write")
    parser.add_argument("--model", required=True, help="target size (conf/asr_model), e.g. s")
    parser.add_argument("--reuse", default="none", help="target reuse (conf/reuse), e.g. g4")
    args = parser.parse_args(argv)
    try:
        out = grow(args.source, args.model, args.reuse, args.out)
    except (ValueError, OSError) as error:  # ModelDirError is a ValueError; OSError: OUT
        print(f"asr.grow: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}: start asr-train asr_model={args.model} reuse={args.reuse} from it "
          f"with trainer.init_from={out} and the source's tokenizer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
