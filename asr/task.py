"""The asr task as the echoformer core sees it: what it registers there on import.

pyproject.toml names this module as the ``asr`` entry point of the ``echoformer.tasks`` group
(see `echoformer.tasks`): the core loads it without naming the task.
"""

from asr import bench
from asr.decoding import ASRDecodingOptions
from asr.lm import LMFusionOptions
from echoformer.tasks import BenchSuite, register_bench_suite, register_decoding_options

register_decoding_options("speech_recognition", ASRDecodingOptions)
register_decoding_options("language_model", LMFusionOptions)
register_bench_suite(BenchSuite("asr", bench.ASRBenchConfig, bench.run, bench.markdown,
                                bench.QUICK))
