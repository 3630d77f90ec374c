"""The Conformer encoder of a speech recogniser as an ONNX graph, map reuse kept in it.

    python -m echoformer.export onnx MODEL_DIR OUT_DIR [--check] [--opset N] [--force]

OUT_DIR/encoder.onnx computes ``ASRModel.encode`` in eval mode: global CMVN, 4× subsampling,
relative positions and the Conformer blocks with the model's reuse pattern (each group's
leader computes its attention map once, a node of the graph its followers multiply with
their own values). Inputs ``features`` float32 (batch, frames, 80) log-mel fbank as
`asr.features` computes it and ``lengths`` int64 (batch,), at least 7 frames; outputs
``encoded`` (batch, frames', D) and ``encoded_lengths`` (batch,), frames' = ((frames − 1)//2
− 1)//2. Batch and frames are dynamic. OUT_DIR/export.json records the shapes, the reuse
pattern and, with --check, the largest difference to ours in ONNX Runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor, nn

from asr.conformer import Conv2dSubsampling
from asr.model import ASRModel
from echoformer.export.onnx_graph import (OPSET, check_graph, export_graph, new_out_dir,
                                          write_info)
from echoformer.model_dir import ModelDirError, load_model_dir

GRAPH_FILE = "encoder.onnx"
INPUTS, OUTPUTS = ("features", "lengths"), ("encoded", "encoded_lengths")
CHECK_FRAMES = (7, 100, 333)  # --check lengths (frames), at batch 2


class EncoderGraph(nn.Module):
    """What the graph computes: (features (B, T, F), lengths (B,)) -> (encoded (B, T', D),
    lengths (B,)); `cmvn` None for an encoder without feature statistics (the bench's)."""

    def __init__(self, encoder: nn.Module, cmvn: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.cmvn = nn.Identity() if cmvn is None else cmvn

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder(self.cmvn(features), lengths)


def example_inputs(input_dim: int, frames: int, batch: int = 1, seed: int = 0
                   ) -> dict[str, Tensor]:
    """Random fbank-like features; the first utterance has `frames`, the others fewer."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([frames] + [max(Conv2dSubsampling.MIN_FRAMES, frames * 3 // 4)]
                           * (batch - 1))
    return {"features": torch.randn(batch, frames, input_dim, generator=g), "lengths": lengths}


def export_encoder(graph: EncoderGraph, input_dim: int, path: Path, opset: int = OPSET) -> Path:
    """Write `graph` (eval mode) as ONNX to `path`, batch and frames dynamic."""
    example = example_inputs(input_dim, 200, batch=2)
    batch = torch.export.Dim("batch", min=1, max=4096)
    frames = torch.export.Dim("frames", min=Conv2dSubsampling.MIN_FRAMES, max=1 << 20)
    return export_graph(graph.eval(), (example["features"], example["lengths"]), path,
                        INPUTS, OUTPUTS,
                        {"features": {0: batch, 1: frames}, "lengths": {0: batch}}, opset)


def export(model_dir: Path, out_dir: Path, args: argparse.Namespace) -> Path:
    """`python -m echoformer.export onnx` for a conformer_asr model directory."""
    loaded = load_model_dir(model_dir)
    model = loaded.model
    if not isinstance(model, ASRModel):
        raise ModelDirError(f"holds a {loaded.meta.get('model_type')} model, not a speech "
                            "recogniser (conformer_asr)")
    out_dir = new_out_dir(out_dir, args.force)
    graph = EncoderGraph(model.encoder, model.cmvn)
    input_dim = model.config.input_dim
    graph_path = export_encoder(graph, input_dim, out_dir / GRAPH_FILE, args.opset)
    info = {"model_type": "conformer_asr", "graph": GRAPH_FILE, "opset": args.opset,
            "inputs": {"features": ["batch", "frames", input_dim], "lengths": ["batch"]},
            "outputs": {"encoded": ["batch", "frames'", model.config.d_model],
                        "encoded_lengths": ["batch"]},
            "min_frames": Conv2dSubsampling.MIN_FRAMES,
            "reuse_pattern": list(model.encoder.reuse_pattern)}
    if args.check:
        inputs = [example_inputs(input_dim, t, batch=2, seed=i)
                  for i, t in enumerate(CHECK_FRAMES)]
        info["check"] = dict(check_graph(graph_path, graph, inputs), frames=list(CHECK_FRAMES))
    write_info(out_dir, info)
    return out_dir
