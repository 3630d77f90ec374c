"""The asr task as the echoformer core sees it: what it registers there on import.

pyproject.toml names this module as the ``asr`` entry point of the ``echoformer.tasks`` group
(see `echoformer.tasks`): the core loads it without naming the task.
"""

from asr import bench, export_onnx
from asr.decoding import ASRDecodingOptions
from asr.lm import LMFusionOptions
from echoformer.export.onnx_graph import add_onnx_arguments
from echoformer.tasks import (BenchSuite, Exporter, register_bench_suite,
                              register_decoding_options, register_exporter)

register_decoding_options("speech_recognition", ASRDecodingOptions)
register_decoding_options("language_model", LMFusionOptions)
register_bench_suite(BenchSuite("asr", bench.ASRBenchConfig, bench.run, bench.markdown,
                                bench.QUICK))
register_exporter(Exporter(
    "onnx", "conformer_asr",
    "OUT/encoder.onnx, the Conformer encoder (CMVN included, attention map reuse kept in "
    "the graph): features (batch, frames, 80) float32 and lengths (batch,) int64 -> encoded "
    "(batch, frames', D) and encoded_lengths; batch and frames dynamic, at least 7 frames. "
    "OUT/export.json describes it.",
    add_onnx_arguments, export_onnx.export, requires=("onnx", "onnxscript")))
