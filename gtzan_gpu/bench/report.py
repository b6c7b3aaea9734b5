"""Writing a benchmark report: raw JSON, a markdown table and a PNG plot side by side."""
from __future__ import annotations

import json
from pathlib import Path

from gtzan_gpu.atomic import atomic_write_bytes, atomic_write_text
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.bench.figures import benchmark_figure
from gtzan_gpu.figures import png_bytes


def _mib(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render_markdown(report: dict) -> str:
    """The report as markdown; each stage's section only when that stage ran."""
    machine = report["machine"]
    host_malloc = report.get("host_malloc", {})
    malloc = host_malloc.get("malloc", "not recorded")
    if malloc == "glibc":  # the settings as recorded, not as the code now says
        malloc = (f"glibc keeping freed memory (mmap_max {host_malloc['mmap_max']}, trim above "
                  f"{host_malloc['trim_threshold'] / 2 ** 30:g} GiB: `gtzan_gpu/allocator.py`)")
    lines = [f"# Benchmark: {machine['device']}", "",
             f"torch {machine['torch']}, Python {machine['python']}, {machine['threads']} CPU threads, "
             f"{machine['platform']}; host malloc: {malloc}; whole run {report['wall_seconds']:.0f} s; stages: "
             f"{', '.join(report['config'].get('stages', ['features', 'seed_pipeline', 'loading', 'training']))}. "
             f"Raw figures: the JSON file beside this one. Medians of repeated timed calls after a warm-up, the "
             f"device synchronised around each.", ""]
    if report.get("features") or report.get("seed_pipeline"):
        lines += _features_section(report)
    if report.get("loading"):
        lines += [f"## Loading {report['config']['loading_seconds']:g}-s segments, batch 32 (whole shuffled epochs, "
                  f"batch delivered on the device)", "",
                  "| path | batches/s | segments/s | host RSS MiB | CUDA peak MiB |", "|---|---|---|---|---|"]
        for row in report["loading"]:
            lines.append(f"| {row['path']} | {row['batches_per_s']:,.1f} | {row['segments_per_s']:,.0f} | "
                         f"{_mib(row['host_rss_mib'])} | {_mib(row['cuda_max_allocated_mib'])} |")
        lines.append("")
    if report.get("training"):
        lines += ["## Training steps with the on-the-fly front end (DeviceLoader batches)", "",
                  "| model | segment | batch | steps/s | segments/s | front end share | host RSS MiB | CUDA peak MiB |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in report["training"]:
            lines.append(f"| {row['model']} | {row['seconds']:g} s | {row['batch']} | {row['steps_per_s']:.2f} | "
                         f"{row['segments_per_s']:,.1f} | {100 * row['frontend_share']:.1f} % | "
                         f"{_mib(row['host_rss_mib'])} | {_mib(row['cuda_max_allocated_mib'])} |")
        amp = report["training"][0]["amp"]
        lines += ["", f"bf16 autocast: {'on' if amp else 'off'} (the STFT stays fp32); channels-last: "
                  f"{report['config']['channels_last']}. The front-end share is timed with the device synchronised "
                  f"between the front end and the backbone.", ""]
    if report.get("scaling"):
        lines += _scaling_section(report["scaling"])
    if report.get("roofline"):
        lines += _roofline_section(report["roofline"])
    if report.get("targets"):
        lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
        for target in report["targets"]:
            lines.append(f"| {target['target']} | {target['measured']} | {'yes' if target['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def _features_section(report: dict) -> list[str]:
    rows = report.get("features", []) + report.get("seed_pipeline", [])
    lengths = sorted({r["seconds"] for r in rows})
    lines = ["## Feature extraction (segments/s; audio seconds per second in brackets)", "",
             "| method | batch | " + " | ".join(f"{s:g} s" for s in lengths) + " |",
             "|---|---|" + "---|" * len(lengths)]
    keys = sorted({(r["method"], r["batch"]) for r in rows}, key=lambda k: (k[0].startswith("seed"), k[0], k[1]))
    for method, batch in keys:
        cells = []
        for seconds in lengths:
            match = [r for r in rows if r["method"] == method and r["batch"] == batch and r["seconds"] == seconds]
            if not match:
                cells.append("-")
            elif "skipped" in match[0]:
                cells.append(f"skipped: {match[0]['skipped']}")
            else:
                cells.append(f"{match[0]['segments_per_s']:,.1f} ({match[0]['audio_seconds_per_s']:,.0f})")
        lines.append(f"| {method} | {batch} | " + " | ".join(cells) + " |")
    return lines + ["", "Seed rows are one segment at a time, as the seed ran: render = librosa STFT + "
                    "specshow/waveshow + savefig PNG + PIL load and resize; PNG read = only loading pre-rendered PNGs "
                    "and resizing.", ""]


def _scaling_section(scaling: dict) -> list[str]:
    lines = ["## Scaling out: pack, start-up from a store, DDP", "",
             "| pack workers | tracks | seconds | tracks/s | audio s per s |", "|---|---|---|---|---|"]
    for row in scaling["pack"]:
        lines.append(f"| {row['workers']} | {row['tracks']} | {row['seconds']:.1f} | {row['tracks_per_s']:.1f} | "
                     f"{row['audio_seconds_per_s']:,.0f} |")
    lines += ["", "| start-up of a DeviceLoader of every track from | tracks | seconds |", "|---|---|---|"]
    for row in scaling["startup"]:
        if "ratio" in row:
            lines.append(f"| store speed-up | | {row['ratio']:.1f}x |")
        else:
            lines.append(f"| {row['source']} | {row['tracks']} | {row['seconds']:.2f} |")
    lines += ["", "| DDP ranks (torchrun) | segments/s, all ranks | epoch s | efficiency |", "|---|---|---|---|"]
    for row in scaling["ddp"]:
        if "skipped" in row:
            lines.append(f"| {row['ranks']} | skipped: {row['skipped']} | | |")
        else:
            lines.append(f"| {row['ranks']} | {row['segments_per_s']:,.1f} | {row['epoch_s']:.2f} | "
                         f"{row.get('efficiency', 1.0):.2f} |")
    return lines + ["", "DDP rows: a cnn on 3-s segments of a synthetic corpus, 64-px images, torch.stft; on a CPU "
                    "each rank has one thread, so 2 ranks use twice the cores.", ""]


def _roofline_row(row: dict) -> str:
    def rate(key):
        return f"{row[key]:,.0f}" if row.get(key) else "-"

    def share(key):
        return f"{100 * row[key]:.0f} %" if row.get(key) else "-"

    def amount(key, scale, digits):
        return f"{row[key] / scale:.{digits}f}" if row.get(key) is not None else "-"

    hours = f"{row['best_audio_hours_per_s']:.2f}" if row.get("best_audio_hours_per_s") else "-"
    name = f"*{row['frontend']}*" if row.get("reference") else row["frontend"]
    above = row["above_bound"]["ratio"] if row.get("above_bound") else \
        row["fraction_of_bound"] if (row.get("fraction_of_bound") or 0) > 1 else None  # reports before the rule
    fraction = f"above its bound ({above:.2f}x): a measurement error" if above else share("fraction_of_bound")
    return (f"| {name} | {row['seconds']:g} s | {amount('flops', 1e9, 3)} | {amount('bytes', 1e6, 2)} "
            f"| {rate('bound_segments_per_s')} | {row['binding']} | {row.get('graph_breaks', '-')} "
            f"| {rate('measured_segments_per_s')} | {rate('compiled_segments_per_s')} | {hours} "
            f"| {fraction} | {share('of_stft_floor')} |")


def _roofline_section(roofline: dict) -> list[str]:
    limits = roofline["limits"]
    lines = ["## Roofline: this machine's limits and the front ends' distance to them", "",
             f"Measured here, each the best over the shapes and sizes the front ends use: fp32 matmul (IEEE) "
             f"{limits['matmul_fp32_gflops']:,.0f} GFLOP/s"
             + (f", fp32 convolution {limits['conv_gflops']:,.0f} GFLOP/s (the front ends' own convolutions "
                f"replayed alone)" if "conv_gflops" in limits else "")
             + f", memory copy {limits['copy_gb_s']:,.1f} GB/s (read + write; "
             f"{roofline.get('copy_limit', 'one DRAM-sized buffer')}), FFT (2048-point rfft, 2.5 N log2 N; "
             f"{roofline.get('fft_limit', 'contiguous frames')}) {limits['fft_gflops']:,.1f} GFLOP/s. A front end "
             f"measured above its bound is a measurement error (a limit measured too low), shown as such.", "",
             "Bound: the lower-bound work (waveform in and image out once, FFT FLOPs, the filterbank products; see "
             "`gtzan_gpu/bench/roofline.py`). Measured: eager and `torch.compile` (inductor), the fastest call of the "
             "best batch; the limits are fastest calls too (a ceiling: the least disturbed run on a shared machine).",
             "",
             "Rows in italics are references, not front ends: torchaudio's magnitude `Spectrogram`, and the STFT floor "
             "(the torch.stft front ends' own framing and `rfft` plus one pass over the spectrum, its peak). "
             "*of STFT floor*: a torch.stft front end's best rate over the floor's (1.0: nothing beyond one pass).", "",
             "| front end | segment | GFLOP / segment | MB / segment | bound (segments/s) | binds | graph breaks "
             "| measured eager | compiled | hours of audio / s (best) | fraction of bound (best) | of STFT floor |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in roofline["frontends"]:
        lines.append(_roofline_row(row))
    lines += ["", "Training-step FLOPs per segment (forward + backward, 128-px images): " + ", ".join(
        f"{name} {flops / 1e9:.2f} GFLOP" for name, flops in roofline["model_step_flops"].items()) + ".", "",
        "**GPU model (published dense peaks, not a measurement)**: each front end's ceiling at 5 s from its "
        "lower-bound work and its minimum share of a resnet18 bf16 training step, both running at their peak.", "",
        "| GPU | front end | ceiling (segments/s) | binds | >= 100,000/s possible | min share of resnet18 step |",
        "|---|---|---|---|---|---|"]
    for row in roofline["gpu_model"]:
        lines.append(f"| {row['gpu']} | {row['frontend']} | {row['ceiling_segments_per_s']:,.0f} | {row['binding']} | "
                     f"{'yes' if row['meets_100k'] else 'no'} | {100 * row['min_share_of_resnet18_bf16_step']:.0f} % |")
    return lines + [""]


def load_report(path: str | Path) -> dict:
    """A report JSON written by ``bench`` (for ``bench --render``); a one-line error when it is not one."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise GtzanError(f"--render {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GtzanError(f"--render {path}: not a readable JSON file ({error})") from None
    if not isinstance(report, dict) or not {"machine", "config", "wall_seconds"} <= set(report):
        raise GtzanError(f"--render {path}: not a benchmark report (no machine / config / wall_seconds)")
    return report


def write_report(report: dict, json_path: Path, rewrite_json: bool = True) -> dict[str, Path]:
    """The raw JSON (unless ``rewrite_json`` is False), its markdown table and its plot
    (:func:`gtzan_gpu.bench.figures.benchmark_figure`, when a stage it draws ran) side by side."""
    json_path = Path(json_path)
    written = {}
    if rewrite_json:
        atomic_write_text(json_path, json.dumps(report, indent=2) + "\n")
        written["json"] = json_path
    markdown = json_path.with_suffix(".md")
    atomic_write_text(markdown, render_markdown(report))
    written["markdown"] = markdown
    figure = benchmark_figure(report)
    if figure is not None:
        plot = json_path.with_suffix(".png")
        atomic_write_bytes(plot, png_bytes(figure))
        written["plot"] = plot
    return written
