"""Run the standard benchmark set, as ``gtzan-gpu bench`` does.

    python -m benchmarks.run_benchmarks [--quick] [--out FILE] [--device auto|cpu|cuda]

The measuring code lives in ``gtzan_gpu.bench`` so that the installed ``gtzan-gpu bench`` command works
outside a checkout; results are committed under ``benchmarks/results/<device>.{json,md,png}``.
"""
import sys

from gtzan_gpu.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
