"""The encoder of a translation model as an ONNX graph, map reuse kept in it.

    python -m echoformer.export onnx MODEL_DIR OUT_DIR [--check] [--opset N] [--force]

OUT_DIR/encoder.onnx computes ``TransformerNMT.encode`` in eval mode: the (tied) embedding
scaled by √D plus sinusoidal positions, the encoder layers with the model's reuse pattern
(each group's leader computes its attention map once, a node of the graph its followers
multiply with their own values) and the final LayerNorm. Input ``source`` int64 (batch,
length): sentencepiece ids of spm.model with the end token, padded with PAD_ID (0), length
at most the model's max_length; outputs ``memory`` float32 (batch, length, D) and ``mask``
bool (batch, length), True at real tokens. Batch and length are dynamic. The decoder stays
ours (the CTranslate2 export holds a whole model). OUT_DIR/export.json records the shapes,
the reuse pattern and, with --check, the largest difference to ours in ONNX Runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor, nn

from echoformer.export.onnx_graph import (OPSET, check_graph, export_graph, new_out_dir,
                                          write_info)
from echoformer.model_dir import ModelDirError, load_model_dir
from echoformer.tokenizer import EOS_ID, PAD_ID
from nmt.model import TransformerNMT

GRAPH_FILE = "encoder.onnx"
INPUTS, OUTPUTS = ("source",), ("memory", "mask")
CHECK_LENGTHS = (1, 5, 17)  # --check source lengths (tokens, end token included)


class EncoderGraph(nn.Module):
    """What the graph computes: source (B, S) ids -> (memory (B, S, D), mask (B, S))."""

    def __init__(self, model: TransformerNMT) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: Tensor) -> tuple[Tensor, Tensor]:
        encoded = self.model.encode(source)
        return encoded.memory, encoded.mask


def example_inputs(vocab_size: int, length: int, batch: int = 1, seed: int = 0
                   ) -> dict[str, Tensor]:
    """Random sources ending in the end token; rows after the first are shorter (padded)."""
    g = torch.Generator().manual_seed(seed)
    source = torch.randint(EOS_ID + 1, vocab_size, (batch, length), generator=g)
    for row in range(batch):
        real = length if row == 0 else max(1, length * 2 // 3)
        source[row, real - 1] = EOS_ID
        source[row, real:] = PAD_ID
    return {"source": source}


def export_encoder(model: TransformerNMT, path: Path, opset: int = OPSET) -> Path:
    """Write the encoder of `model` as ONNX to `path`, batch and length dynamic."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    length = torch.export.Dim("length", min=1, max=max(2, model.config.max_length))
    example = example_inputs(model.vocab_size, min(12, model.config.max_length), batch=2)
    return export_graph(EncoderGraph(model).eval(), (example["source"],), path, INPUTS,
                        OUTPUTS, {"source": {0: batch, 1: length}}, opset)


def export(model_dir: Path, out_dir: Path, args: argparse.Namespace) -> Path:
    """`python -m echoformer.export onnx` for a transformer_nmt model directory."""
    loaded = load_model_dir(model_dir)
    model = loaded.model
    if not isinstance(model, TransformerNMT):
        raise ModelDirError(f"holds a {loaded.meta.get('model_type')} model, not a "
                            "translation model (transformer_nmt)")
    out_dir = new_out_dir(out_dir, args.force)
    graph_path = export_encoder(model, out_dir / GRAPH_FILE, args.opset)
    info = {"model_type": "transformer_nmt", "graph": GRAPH_FILE, "opset": args.opset,
            "inputs": {"source": ["batch", "length"]},
            "outputs": {"memory": ["batch", "length", model.config.d_model],
                        "mask": ["batch", "length"]},
            "max_length": model.config.max_length, "pad_id": PAD_ID, "eos_id": EOS_ID,
            "reuse_pattern": list(model.encoder.pattern)}
    if args.check:
        lengths = [t for t in CHECK_LENGTHS if t <= model.config.max_length]
        inputs = [example_inputs(model.vocab_size, t, batch=2, seed=i)
                  for i, t in enumerate(lengths)]
        info["check"] = dict(check_graph(graph_path, EncoderGraph(model), inputs),
                             lengths=lengths)
    write_info(out_dir, info)
    return out_dir
