"""Measure how closely the GPU feature layers reproduce the seed's rendered images, per signal.

    python -m benchmarks.fidelity [--seconds 5] [--out benchmarks/results/fidelity.json]

Writes the raw JSON and a markdown table beside it. Needs the ``bench`` extras (librosa, matplotlib).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from gtzan_gpu.atomic import atomic_write_text
from gtzan_gpu.seed_reference import measure_fidelity


def render_table(report: dict) -> str:
    lines = [f"Fidelity to the seed's render-to-PNG pipeline ({report['seconds']:g}-s segments, "
             f"128 x 128, no ImageNet normalisation; torch {report['torch']}, librosa {report['librosa']}, "
             f"matplotlib {report['matplotlib']})", "",
             "| signal | spectrogram r | spectrogram mean abs diff | waveform r | waveform mean abs diff |",
             "|---|---|---|---|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['signal']} | {row['spectrogram_pearson']:.4f} | {row['spectrogram_mean_abs_diff']:.4f} "
                     f"| {row['waveform_pearson']:.4f} | {row['waveform_mean_abs_diff']:.4f} |")
    lines += ["", "Pearson r is per image over all pixels and channels; for silence the waveform image is a "
                  "near-blank centre line, where r is meaningless and the mean abs difference is the measure."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fidelity.json"))
    args = parser.parse_args(argv)
    import librosa
    import matplotlib

    report = {"seconds": args.seconds, "torch": torch.__version__, "librosa": librosa.__version__,
              "matplotlib": matplotlib.__version__, "python": platform.python_version(),
              "rows": measure_fidelity(args.seconds)}
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    table = render_table(report)
    atomic_write_text(args.out.with_suffix(".md"), table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
