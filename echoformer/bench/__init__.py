"""Latency benchmarks: one harness for CPU and CUDA, suites, and their reports."""
