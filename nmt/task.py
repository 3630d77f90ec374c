"""The nmt task as the echoformer core sees it: what it registers there on import.

pyproject.toml names this module as the ``nmt`` entry point of the ``echoformer.tasks`` group
(see `echoformer.tasks`): the core loads it without naming the task.
"""

from echoformer.search.options import DecodingOptions
from echoformer.tasks import BenchSuite, register_bench_suite, register_decoding_options
from nmt import bench

register_decoding_options("translation", DecodingOptions)
register_bench_suite(BenchSuite("nmt", bench.NMTBenchConfig, bench.run, bench.markdown,
                                bench.QUICK))
