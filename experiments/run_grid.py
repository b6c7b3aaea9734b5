"""Run the seed study's grid, as ``gtzan-gpu experiment`` does.

    python -m experiments.run_grid --data /path/to/GTZAN          # the full grid (GPU recommended)
    python -m experiments.run_grid --quick                        # on a synthetic corpus, CPU, a few minutes

The grid ships in the package (gtzan_gpu/experiment/configs/seed-grid.toml) with the runner (so the installed
command works too); results in experiments/results/<grid name>/.
"""
import sys

from gtzan_gpu.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", *sys.argv[1:]]))
