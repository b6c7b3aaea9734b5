"""Throughput benchmarks behind ``gtzan-gpu bench`` (scripts and committed results live in benchmarks/)."""
from gtzan_gpu.bench.run import BenchConfig, run_benchmarks

__all__ = ["BenchConfig", "run_benchmarks"]
