"""A/B timing of the front ends: this checkout against another commit, on the same machine, in alternating rounds.

    python -m benchmarks.frontend_ab REF [--rounds 3] [--calls 40] [--compiled] [--out benchmarks/results/NAME.json]
    python -m benchmarks.frontend_ab --default-malloc [...]   # this checkout: glibc's default malloc vs the CLI's

On a shared machine single runs vary by +-30 %, so the two versions run in turns (each round: REF in a fresh
process from a ``git worktree`` of REF, then this checkout) and each cell reports the fastest call of all rounds
(the least disturbed) and the median of its rounds' median calls (what a long run averages: page faults, for one,
show in the median and not in the fastest call). Both run with the host malloc settings the CLI applies
(``gtzan_gpu/allocator.py``, as environment variables: the old commit may predate them), so the A/B compares
code, not allocators; ``--default-malloc`` instead compares allocators: this checkout with glibc's defaults (A)
and with the CLI's settings (B). CPU only; torch.stft backend image and log-mel, and the waveform view, at 3 and
5 s, batch 1 and 16; ``--compiled``: each layer under ``torch.compile`` (inductor, static shapes, compiled afresh
for each cell, the compile untimed). Writes the raw JSON and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gtzan_gpu.allocator import ENVIRONMENT, without_malloc_settings

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
        times.sort()
        out[f"{frontend}|{seconds}|{batch}"] = [times[0] / batch, times[len(times) // 2] / batch]
print(json.dumps(out))
'''


def _time(checkout: Path, calls: int, compiled: bool, malloc: dict[str, str] = ENVIRONMENT) -> dict[str, float]:
    mode = "compiled" if compiled else "eager"
    environment = without_malloc_settings(dict(os.environ))  # glibc's defaults on the --default-malloc side
    done = subprocess.run([sys.executable, "-c", TIMER, str(calls), json.dumps(CELLS), mode], cwd=checkout, check=True,
                          capture_output=True, text=True, env={**environment, **malloc, "PYTHONPATH": str(checkout)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rounds_against(ref: str, rounds: int, calls: int, compiled: bool) -> list[tuple[dict, dict]]:
    """(REF's timings, this checkout's) per round, REF from a temporary ``git worktree``."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "ref"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), ref], cwd=ROOT, check=True)
        try:
            return [(_time(base, calls, compiled), _time(ROOT, calls, compiled)) for _ in range(rounds)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", nargs="?", help="the commit to compare this checkout with")
    parser.add_argument("--default-malloc", action="store_true",
                        help="compare glibc's default malloc with the CLI's settings instead, on this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--compiled", action="store_true", help="time the layers under torch.compile (inductor)")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args()
    if (args.ref is None) == (not args.default_malloc):
        parser.error("give either REF or --default-malloc")
    if args.default_malloc:
        args.ref = "default malloc"
        rounds = [(_time(ROOT, args.calls, args.compiled, malloc={}), _time(ROOT, args.calls, args.compiled))
                  for _ in range(args.rounds)]
    else:
        rounds = _rounds_against(args.ref, args.rounds, args.calls, args.compiled)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    rows = [{"frontend": f, "seconds": s, "batch": b,
             **{f"{side}_{stat}_ms": 1e3 * pick(r[index][f"{f}|{s}|{b}"][position] for r in rounds)
                for index, side in enumerate(("ref", "head"))
                for position, stat, pick in ((0, "fastest", min), (1, "median", statistics.median))}}
            for f, s, b in CELLS]
    head = head.strip() + (" (CLI malloc)" if args.default_malloc else "")
    report = {"ref": args.ref, "head": head, "rounds": args.rounds, "calls": args.calls,
              "mode": "compiled" if args.compiled else "eager",
              "unit": "ms per segment: the fastest call of all rounds, and the median of the rounds' median calls",
              "device": "cpu", "rows": rows}
    lines = [f"| front end | segment | batch | {args.ref} ms (fastest / median) | {head} ms (fastest / median) | "
             f"speed-up (fastest / median) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['frontend']} | {r['seconds']} s | {r['batch']} | {r['ref_fastest_ms']:.3f} / "
              f"{r['ref_median_ms']:.3f} | {r['head_fastest_ms']:.3f} / {r['head_median_ms']:.3f} | "
              f"{r['ref_fastest_ms'] / r['head_fastest_ms']:.2f}x / {r['ref_median_ms'] / r['head_median_ms']:.2f}x |"
              for r in rows]
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        Path(args.out).with_suffix(".md").write_text(
            f"# Front ends ({report['mode']}), {args.ref} vs {report['head']} (CPU, this machine; {report['unit']})\n\n"
            + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
