"""A/B timing of the front ends: this checkout against another commit, on the same machine, in alternating rounds.

    python -m benchmarks.frontend_ab REF [--rounds 3] [--calls 40] [--compiled] [--out benchmarks/results/NAME.json]

On a shared machine single runs vary by +-30 %, so the two versions run in turns (each round: REF in a fresh
process from a ``git worktree`` of REF, then this checkout) and each cell reports the fastest call of all rounds
(the least disturbed). Both run with the host malloc settings the CLI applies (``gtzan_gpu/allocator.py``, as
environment variables: the old commit may predate them), so the A/B compares code, not allocators. CPU only; torch.stft backend image and log-mel, and the waveform view, at 3 and 5 s,
batch 1 and 16; ``--compiled``: each layer under ``torch.compile`` (inductor, static shapes, compiled afresh for
each cell, the compile untimed). Writes the raw JSON and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from gtzan_gpu.allocator import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]
CELLS = [(frontend, seconds, batch) for frontend in ("image (torch.stft)", "logmel (torch.stft)", "waveform")
         for seconds in (3, 5) for batch in (1, 16)]
TIMER = r'''
import json, sys, time, torch
from gtzan_gpu.features import SpectrogramImage, WaveformImage
from gtzan_gpu.features.time_frequency import LogMelSpectrogram
layers = {"image (torch.stft)": SpectrogramImage(backend="torch"),
          "logmel (torch.stft)": LogMelSpectrogram(backend="torch"), "waveform": WaveformImage()}
calls, compiled, out = int(sys.argv[1]), sys.argv[3] == "compiled", {}
torch.manual_seed(0)
with torch.no_grad():
    for frontend, seconds, batch in json.loads(sys.argv[2]):
        x, times, layer = 0.3 * torch.randn(batch, 22050 * seconds), [], layers[frontend]
        if compiled:
            torch._dynamo.reset()
            layer = torch.compile(layer, dynamic=False)
        for _ in range(3):
            layer(x)
        for _ in range(calls):
            start = time.perf_counter(); layer(x); times.append(time.perf_counter() - start)
        out[f"{frontend}|{seconds}|{batch}"] = min(times) / batch
print(json.dumps(out))
'''


def _time(checkout: Path, calls: int, compiled: bool) -> dict[str, float]:
    mode = "compiled" if compiled else "eager"
    done = subprocess.run([sys.executable, "-c", TIMER, str(calls), json.dumps(CELLS), mode], cwd=checkout, check=True,
                          capture_output=True, text=True,
                          env={**os.environ, **ENVIRONMENT, "PYTHONPATH": str(checkout)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="the commit to compare this checkout with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--compiled", action="store_true", help="time the layers under torch.compile (inductor)")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "ref"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), args.ref], cwd=ROOT, check=True)
        try:
            rounds = [(_time(base, args.calls, args.compiled), _time(ROOT, args.calls, args.compiled))
                      for _ in range(args.rounds)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    rows = [{"frontend": f, "seconds": s, "batch": b,
             "ref_ms": 1e3 * min(r[0][f"{f}|{s}|{b}"] for r in rounds),
             "head_ms": 1e3 * min(r[1][f"{f}|{s}|{b}"] for r in rounds)} for f, s, b in CELLS]
    report = {"ref": args.ref, "head": head.strip(), "rounds": args.rounds, "calls": args.calls,
              "mode": "compiled" if args.compiled else "eager",
              "unit": "ms per segment, fastest call of all rounds", "device": "cpu", "rows": rows}
    lines = [f"| front end | segment | batch | {args.ref} ms | {report['head']} ms | speed-up |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['frontend']} | {r['seconds']} s | {r['batch']} | {r['ref_ms']:.3f} | {r['head_ms']:.3f} | "
              f"{r['ref_ms'] / r['head_ms']:.2f}x |" for r in rows]
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        Path(args.out).with_suffix(".md").write_text(
            f"# Front ends ({report['mode']}), {args.ref} vs {report['head']} (CPU, this machine; {report['unit']})\n\n"
            + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
