"""The nmt task as the echoformer core sees it: what it registers there on import.

pyproject.toml names this module as the ``nmt`` entry point of the ``echoformer.tasks`` group
(see `echoformer.tasks`): the core loads it without naming the task.
"""

import argparse
from pathlib import Path

from echoformer.export.onnx_graph import add_onnx_arguments
from echoformer.search.options import DecodingOptions
from echoformer.tasks import (BenchSuite, Exporter, register_bench_suite,
                              register_decoding_options, register_exporter)
from nmt import bench, export_ctranslate2, export_onnx

register_decoding_options("translation", DecodingOptions)
register_bench_suite(BenchSuite("nmt", bench.NMTBenchConfig, bench.run, bench.markdown,
                                bench.QUICK))


def _ctranslate2_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m nmt.export_ctranslate2`, which this exporter runs."""
    parser.add_argument("--quantization", help="weight type: int8, int8_float32, int16, "
                                               "float16, bfloat16, float32 (default float32)")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")
    parser.add_argument("--without-reuse", action="store_true",
                        help="export a reuse model with every layer computing its own map "
                             "(a different model; for speed comparisons, its BLEU differs)")


def _export_ctranslate2(model_dir: Path, out: Path, args: argparse.Namespace) -> Path:
    return export_ctranslate2.export(model_dir, out, args.quantization, args.force,
                                     args.without_reuse)


register_exporter(Exporter(
    "ctranslate2", "transformer_nmt",
    "OUT, a CTranslate2 model directory of the whole translation model (as `python -m "
    "nmt.export_ctranslate2`). Attention map reuse cannot be expressed in CTranslate2 (a "
    "layer there always computes its own map): a model trained with reuse is refused; "
    "--without-reuse exports it anyway as the no-reuse variant, each follower computing its "
    "own map with its leader's query/key weights, which is a different model (its "
    "translations and BLEU differ; for speed comparisons).",
    _ctranslate2_arguments, _export_ctranslate2, requires=("ctranslate2",)))
register_exporter(Exporter(
    "onnx", "transformer_nmt",
    "OUT/encoder.onnx, the encoder (attention map reuse kept in the graph): source (batch, "
    "length) int64 ids with the end token, PAD_ID-padded -> memory (batch, length, D) "
    "float32 and mask (batch, length) bool; batch and length dynamic. OUT/export.json "
    "describes it.",
    add_onnx_arguments, export_onnx.export, requires=("onnx", "onnxscript")))
