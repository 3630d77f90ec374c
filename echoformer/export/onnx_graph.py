"""ONNX export of an encoder with dynamic batch and length, and its check in ONNX Runtime.

`export_graph` runs `torch.onnx.export` with the torch.export-based exporter (``dynamo=True``,
opset 18 by default): the legacy TorchScript exporter is deprecated and bakes Python ints of
the trace (a table's length) into the graph. Inside `traceable_kernels` three things keep
every length symbolic and the graph one function for all lengths, without changing what the
model computes:

- ``positional.sinusoids`` builds its table with one stack instead of `len()` and slice
  assignment (same values, bit for bit); ``attention.rel_shift`` shifts by padding and
  reshaping instead of an `as_strided` view (same values, bit for bit);
- every map-reuse leader stores its map (`ReuseStrategy.STORED`: the map is a node of the
  graph that the followers multiply with their values) and is traced with autograd on, so it
  takes the one-product path of `materialised_attention`, not the length-dependent
  workspace / blockwise one;
- fused attention is traced with its math kernel (the exporter rewrites the flash kernel's
  output layout wrongly for symbolic lengths).

The two substitutes are tested equal to the originals (tests/test_export_onnx.py); once
`sinusoids` and `rel_shift` themselves trace with symbolic lengths, they go.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from echoformer import attention, positional
from echoformer.attention import MultiHeadSelfAttention, ReuseStrategy, Role

OPSET = 18
INFO_FILE = "export.json"
TOLERANCE = 1e-4  # float32: the largest |ONNX Runtime − ours| that --check accepts
INSTALL_HINT = "pip install 'echoformer[peers]' (or pip install onnx onnxscript onnxruntime)"


def traceable_sinusoids(positions: Tensor, dim: int) -> Tensor:
    """`positional.sinusoids` without `len()`: (N,) positions -> (N, dim), sin/cos interleaved."""
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    angles = positions.float()[:, None] * freq[None]
    return torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1).flatten(1)


def traceable_rel_shift(scores: Tensor) -> Tensor:
    """`attention.rel_shift` by pad and reshape: (B, H, L, 2L-1) -> (B, H, L, L)."""
    b, h, length, n = scores.shape
    padded = F.pad(scores, (1, 0)).reshape(b, h, n + 1, length)
    return padded[:, :, 1:].reshape(b, h, length, n)[..., :length]


@contextmanager
def traceable_kernels(module: nn.Module) -> Iterator[None]:
    """`module` as `export_graph` traces it (see the module docstring); restored on exit."""
    leaders = [m for m in module.modules()
               if isinstance(m, MultiHeadSelfAttention) and m.role is Role.LEADER]
    strategies = [m.strategy for m in leaders]
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(positional, "sinusoids", traceable_sinusoids))
        stack.enter_context(mock.patch.object(attention, "rel_shift", traceable_rel_shift))
        stack.enter_context(torch.nn.attention.sdpa_kernel(
            [torch.nn.attention.SDPBackend.MATH]))
        stack.enter_context(torch.enable_grad())
        for leader in leaders:
            leader.strategy = ReuseStrategy.STORED
        try:
            yield
        finally:
            for leader, strategy in zip(leaders, strategies):
                leader.strategy = strategy


def export_graph(module: nn.Module, example: tuple[Tensor, ...], path: Path,
                 input_names: Sequence[str], output_names: Sequence[str],
                 dynamic_shapes: Mapping[str, Mapping[int, object]],
                 opset: int = OPSET) -> Path:
    """Write `module` (eval mode) called on `example` as an ONNX graph to `path`.

    dynamic_shapes: per input name, {axis: torch.export.Dim}. Weights go into the file itself
    (one file, relocatable); raises RuntimeError naming the fix when onnx/onnxscript are
    missing."""
    for name in ("onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            raise RuntimeError(f"ONNX export needs the {name} package; {INSTALL_HINT}") from None
    module = module.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with traceable_kernels(module), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on torchvision ops and axis names
        program = torch.onnx.export(
            module, example, dynamo=True, input_names=list(input_names),
            output_names=list(output_names), dynamic_shapes=dict(dynamic_shapes),
            opset_version=opset, optimize=True, verbose=False)
    program.save(str(path), external_data=False)
    return path


def onnxruntime_session(path: Path, threads: int | None = None):
    """A CPU `onnxruntime.InferenceSession` of `path` with `threads` intra-op threads (default:
    torch's), one inter-op thread, all graph optimisations."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise RuntimeError(f"the onnxruntime package is not installed; {INSTALL_HINT}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def max_abs_diff(session, module: nn.Module, inputs: Sequence[Mapping[str, Tensor]]) -> float:
    """Largest |ONNX Runtime − `module`| over every output of every input, where `module`
    (eval mode) takes the inputs by name as positional arguments in `session`'s order and
    returns a tensor or a tuple of tensors in its output order."""
    names = [i.name for i in session.get_inputs()]
    worst = 0.0
    with torch.inference_mode():
        for feed in inputs:
            ours = module(*(feed[n] for n in names))
            ours = ours if isinstance(ours, tuple) else (ours,)
            theirs = session.run(None, {n: feed[n].numpy() for n in names})
            for a, b in zip(ours, theirs, strict=True):
                a = a.numpy()
                assert a.shape == b.shape, f"ONNX output shape {b.shape}, ours {a.shape}"
                if a.size:
                    worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))))
    return worst


def add_onnx_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every ``python -m echoformer.export onnx`` exporter takes."""
    parser.add_argument("--opset", type=int, default=OPSET,
                        help=f"ONNX opset of the graph (default {OPSET})")
    parser.add_argument("--check", action="store_true",
                        help="run the graph in ONNX Runtime on random inputs of several "
                             f"lengths and fail unless it equals ours (largest absolute "
                             f"difference ≤ {TOLERANCE:g}, float32); the figure goes into "
                             "export.json")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")


def new_out_dir(out_dir: Path, force: bool) -> Path:
    """`out_dir`, emptied (with `force`) or new; a ValueError naming --force if it exists."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not force:
            raise ValueError(f"{out_dir} exists; pass --force to replace it")
        shutil.rmtree(out_dir) if out_dir.is_dir() else out_dir.unlink()
    out_dir.mkdir(parents=True)
    return out_dir


def check_graph(path: Path, module: nn.Module, inputs: Sequence[Mapping[str, Tensor]]
                ) -> dict:
    """{max_abs_diff, tolerance} of the graph at `path` in ONNX Runtime against `module` on
    `inputs` (see `max_abs_diff`); a RuntimeError when it exceeds `TOLERANCE`."""
    diff = max_abs_diff(onnxruntime_session(path), module.eval(), inputs)
    if diff > TOLERANCE:
        raise RuntimeError(f"{path} in ONNX Runtime differs from ours by {diff:.3g} "
                           f"(> {TOLERANCE:g}); do not use it")
    return {"max_abs_diff": diff, "tolerance": TOLERANCE}


def write_info(out_dir: Path, info: dict) -> Path:
    """`out_dir`/export.json: what the graph takes and gives (names, axes, model facts)."""
    path = Path(out_dir) / INFO_FILE
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path
