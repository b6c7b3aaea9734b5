"""Keeps the benchmark working (a tiny run); no timing assertions, ever."""
import json

import pytest
import torch

pytest.importorskip("librosa")
pytest.importorskip("matplotlib")

from gtzan_gpu.bench import BenchConfig, run_benchmarks  # noqa: E402
from gtzan_gpu.bench.report import render_markdown, write_report  # noqa: E402


def test_a_tiny_benchmark_run_writes_json_markdown_and_plot(tmp_path):
    config = BenchConfig(lengths=(1.0,), batch_sizes=(1, 2), repeats=1, budget_seconds=0.5, seed_segments=1,
                         tracks_per_genre=1, track_seconds=3.0, loading_epochs=1, loading_seconds=1.0, train_lengths=(1.0,),
                         train_batch_sizes={"cnn": 2}, train_steps=1, compiled=False,  # compiling: not in a unit test
                         min_cell_seconds=0.0,
                         stages=("features", "seed_pipeline", "loading", "training"))  # scaling, roofline: own tests
    report = run_benchmarks(config, torch.device("cpu"))
    methods = {row["method"] for row in report["features"]}
    assert {"spectrogram (nnAudio)", "spectrogram (torch.stft)", "spectrogram (torch.stft, bf16 image)", "waveform",
            "logmel (nnAudio)", "logmel (torch.stft)", "cqt", "musicnn-mel (nnAudio)", "musicnn-mel (torch.stft)",
            "panns-logmel", "both views (nnAudio)", "both views (torch.stft)",  # every registry entry has its rows
            "torchaudio Spectrogram (magnitude only)", "STFT floor: torch.stft power, peak only",
            "augment: gain + noise (waveform)", "augment: spectrogram (torch.stft) + specaugment"} == methods
    assert all(row["segments_per_s"] > 0 and row["min_s"] <= row["median_s"] <= row["max_s"]
               for row in report["features"] + report["seed_pipeline"])

    assert {row["method"] for row in report["seed_pipeline"]} >= {"seed render+load: both views",
                                                                  "seed PNG read: both views"}
    assert any(row["path"].startswith("DeviceLoader") for row in report["loading"])
    assert report["training"][0]["model"] == "cnn" and 0 < report["training"][0]["frontend_share"] < 1
    assert report["machine"]["device_type"] == "cpu" and report["machine"]["torch"] == torch.__version__
    written = write_report(report, tmp_path / "cpu.json")
    assert json.loads(written["json"].read_text())["machine"] == report["machine"]
    assert written["markdown"].read_text() == render_markdown(report)
    assert written["plot"].read_bytes()[:4] == b"\x89PNG"


def test_the_bench_command_has_help(capsys):
    from gtzan_gpu.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert "--quick" in out and "scaling, roofline" in out  # every stage named, from bench.run.STAGES


def test_render_redraws_table_and_plot_from_a_report_json_and_refuses_other_files(tmp_path, capsys):
    import shutil
    from pathlib import Path

    from gtzan_gpu.cli import main

    source = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "cpu-amd-epyc-2t.json"
    report = tmp_path / "cpu.json"
    shutil.copy(source, report)
    raw = report.read_bytes()
    assert main(["bench", "--render", str(report)]) == 0
    assert report.read_bytes() == raw  # the measurement is never rewritten
    assert (tmp_path / "cpu.md").read_text() == render_markdown(json.loads(raw))
    assert (tmp_path / "cpu.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "other.json").write_text('{"cells": []}')
    for bad, message in ((tmp_path / "other.json", "not a benchmark report"), (tmp_path / "none.json", "no such file")):
        capsys.readouterr()
        assert main(["bench", "--render", str(bad)]) == 2
        err = capsys.readouterr().err
        assert message in err and str(bad) in err and len(err.strip().splitlines()) == 1
    assert main(["bench", "--render", str(report), "--quick"]) == 2  # a measuring option with --render
    assert "measures nothing" in capsys.readouterr().err


def test_a_cell_over_the_call_cap_is_reported_as_skipped():
    from gtzan_gpu.bench.features import bench_feature_layers

    rows = bench_feature_layers(torch.device("cpu"), (1.0,), (1, 100_000), repeats=1, budget_seconds=0.1,
                                max_call_seconds=1.0, compiled=False, min_cell_seconds=0.0)
    big = [row for row in rows if row["batch"] == 100_000]
    assert big and all("skipped" in row and "estimated" in row["skipped"] for row in big)


def test_the_scaling_stage_measures_pack_startup_and_ddp(tmp_path, monkeypatch):
    import gtzan_gpu.bench.run as run

    config = BenchConfig(tracks_per_genre=1, track_seconds=2.0, pack_workers=(1,), ddp_ranks=(1, 2),
                         stages=("scaling",))
    real = run.bench_ddp
    monkeypatch.setattr(run, "bench_ddp", lambda device, ranks: real(
        device, ranks, epochs=1, tracks_per_genre=5, track_seconds=4.0, segment_seconds=2.0, image_size=32))
    report = run_benchmarks(config, torch.device("cpu"))
    scaling = report["scaling"]
    assert scaling["pack"][0]["tracks"] == 10 and scaling["pack"][0]["tracks_per_s"] > 0
    assert [row["tracks"] for row in scaling["startup"][:2]] == [10, 10] and scaling["startup"][2]["ratio"] > 0
    assert [row["ranks"] for row in scaling["ddp"]] == [1, 2]
    assert all(row["segments_per_s"] > 0 for row in scaling["ddp"]), scaling["ddp"]
    assert scaling["ddp"][0]["efficiency"] == 1.0
    assert "## Scaling out" in render_markdown(report) and "features" not in report
    written = write_report(report, tmp_path / "cpu.json")
    assert written["plot"].read_bytes()[:4] == b"\x89PNG"  # the DDP panel


FAKE_LIMITS = {"matmul_fp32_gflops": 100.0, "conv_gflops": 150.0, "copy_gb_s": 20.0, "fft_gflops": 30.0}


def test_the_roofline_rows_come_from_the_registry_and_each_front_end_sits_under_its_bound(monkeypatch):
    from gtzan_gpu.bench import roofline as roofline_module
    from gtzan_gpu.bench.features import STFT_FLOOR, frontend_rows
    from gtzan_gpu.bench.roofline import (ROOFLINE_REFERENCES, frontend_work, gpu_model, model_step_flops,
                                          reference_work, roofline)

    work = frontend_work(5.0)
    assert tuple(work) == tuple(row.name for row in frontend_rows()) == (
        "spectrogram (nnAudio)", "spectrogram (torch.stft)", "spectrogram (torch.stft, bf16 image)",
        "logmel (nnAudio)", "logmel (torch.stft)", "cqt", "musicnn-mel (nnAudio)", "musicnn-mel (torch.stft)",
        "panns-logmel", "waveform")  # every registry entry, each STFT backend, the declared bf16 variant
    # nnAudio's conv STFT: 2 x (2 x 1025 kernels x 2048 taps) multiply-adds per frame, 216 frames
    conv = 2 * 2 * 1025 * 2048 * 216
    assert abs(work["spectrogram (nnAudio)"]["conv_flops"] / conv - 1) < 0.05
    assert work["spectrogram (nnAudio)"]["flops"] == work["spectrogram (torch.stft)"]["flops"]  # the same map
    assert work["logmel (torch.stft)"]["flops"] == 2 * 1025 * 128 * 216  # the mel product, nothing else
    assert work["spectrogram (torch.stft)"]["fft_flops"] == 216 * 2.5 * 2048 * 11
    assert work["waveform"]["bytes"] == 4 * 110250 + 3 * 128 * 128 * 4  # read once, written once
    assert work["spectrogram (torch.stft, bf16 image)"]["bytes"] == 4 * 110250 + 3 * 128 * 128 * 2
    frames16k = 1 + 80000 // 256  # musicnn: 16-kHz frames of 5 s; its 96 mels of 257 bins
    assert work["musicnn-mel (torch.stft)"]["flops"] == 2 * 257 * 96 * frames16k
    assert work["musicnn-mel (torch.stft)"]["conv_flops"] > 0  # the resampler's convolution, counted
    references = reference_work(5.0)
    assert tuple(references) == ROOFLINE_REFERENCES
    assert all(r["fft_flops"] == 216 * 2.5 * 2048 * 11 and r["flops"] == 0 for r in references.values())
    assert references[STFT_FLOOR]["bytes"] == 4 * 110250  # the waveform read; the peaks are nothing
    monkeypatch.setattr(roofline_module, "measure_limits", lambda device: dict(FAKE_LIMITS))
    features = [{"method": "spectrogram (torch.stft)", "seconds": 1.0, "segments_per_s": 50.0},
                {"method": "spectrogram (torch.stft) (compiled)", "seconds": 1.0, "segments_per_s": 70.0},
                {"method": STFT_FLOOR + " (compiled)", "seconds": 1.0, "segments_per_s": 140.0},
                {"method": "cqt", "seconds": 1.0, "segments_per_s": 1e9}]  # faster than any bound: an error
    report = roofline(torch.device("cpu"), features, (1.0,))
    rows = {r["frontend"]: r for r in report["frontends"]}
    row = rows["spectrogram (torch.stft)"]
    assert row["fraction_of_bound"] == 70.0 / row["bound_segments_per_s"] and row["measured_segments_per_s"] == 50.0
    assert row["best_audio_hours_per_s"] == 70.0 / 3600 and row["graph_breaks"] == 0
    assert row["of_stft_floor"] == 0.5 and not row["reference"]  # half the floor's rate
    assert rows["cqt"]["fraction_of_bound"] is None and rows["cqt"]["above_bound"]["ratio"] > 1
    assert rows["cqt"]["binding"] == "fp32 conv"  # at the measured convolution limit, not the matmul one
    floor = rows[STFT_FLOOR]
    assert floor["reference"] and floor["of_stft_floor"] is None and floor["compiled_segments_per_s"] == 140.0
    assert rows["waveform"]["of_stft_floor"] is None  # no STFT in it
    machine = {"device": "cpu", "torch": torch.__version__, "python": "3", "threads": 1, "platform": "test"}
    markdown = render_markdown({"machine": machine, "config": {"stages": ["roofline"]}, "wall_seconds": 1.0,
                                "roofline": report})
    assert f"| *{STFT_FLOOR}* | 1 s |" in markdown and "| 50 % |" in markdown  # a reference, and the image's share
    assert report["fft_limit"] in markdown and report["copy_limit"] in markdown  # how the limits were measured
    assert "a measurement error |" in markdown  # the cqt row, never a fraction above 100 %
    steps = model_step_flops(64)
    assert steps["fusion"] > steps["resnet18"] > steps["cnn"] > 0
    model = gpu_model(steps)
    assert {r["gpu"] for r in model} == {"H100 SXM", "H200 SXM"}
    conv = next(r for r in model if r["gpu"] == "H100 SXM" and r["frontend"] == "spectrogram (nnAudio)")
    assert conv["binding"] == "4x TF32 conv"  # the split's four products at the tensor-core peak


def test_the_limits_are_the_best_over_the_front_ends_own_shapes_and_sizes(monkeypatch):
    import gtzan_gpu.bench.roofline as roofline

    monkeypatch.setattr(roofline, "_timed", lambda work, device, seconds=1.0: (work(), 0.5)[1])
    own = roofline.own_product_gflops(torch.device("cpu"), (1,), seconds=0.5)
    assert own["conv"] > 0 and own["matmul"] > 0  # nnAudio's and the CQT's kernels; the mel products
    sizes = []
    monkeypatch.setattr(roofline, "_timed", lambda work, device, seconds=1.0: sizes.append(work().numel()) or 1.0)
    roofline.copy_gb_s(torch.device("cpu"))
    assert min(sizes) * 4 <= 256 * 1024 and max(sizes) * 4 >= 128 * 2 ** 20  # cache-resident to DRAM-sized


def test_a_front_end_without_declared_work_is_shown_without_a_bound(monkeypatch):
    import gtzan_gpu.bench.roofline as roofline

    row = roofline._row("mystery", 1.0, None, FAKE_LIMITS, [{"method": "mystery", "seconds": 1.0,
                                                             "segments_per_s": 5.0}], None, 0)
    assert row["bound_segments_per_s"] is None and row["binding"] == "no work declared"
    assert row["measured_segments_per_s"] == 5.0 and row["fraction_of_bound"] is None


def test_the_fft_limit_is_the_best_of_contiguous_and_overlapping_frames(monkeypatch):
    import gtzan_gpu.bench.roofline as roofline

    seen, frames_were_contiguous = [], []

    def timed(work, device, seconds):  # an overlapping-frames rfft "takes" half the time of a contiguous one
        spectrum = work()
        seen.append((spectrum.shape[0], frames_were_contiguous[-1]))
        return 1.0 if frames_were_contiguous[-1] else 0.5

    real_rfft = torch.fft.rfft
    monkeypatch.setattr(torch.fft, "rfft", lambda x: frames_were_contiguous.append(x.is_contiguous()) or real_rfft(x))
    monkeypatch.setattr(roofline, "_timed", timed)
    assert roofline.fft_gflops(torch.device("cpu")) == 1024 * 2.5 * 2048 * 11 / 0.5 / 1e9
    assert seen == [(count, contiguous) for count in (128, 256, 512, 1024) for contiguous in (True, False)]


def test_graph_breaks_are_counted_per_front_end():
    from gtzan_gpu.bench.features import feature_methods, graph_breaks

    methods = feature_methods(22050)
    for name in ("spectrogram (torch.stft)", "spectrogram (torch.stft, bf16 image)", "waveform",
                 "logmel (torch.stft)", "spectrogram (nnAudio)", "logmel (nnAudio)", "cqt",  # one whole graph each
                 "STFT floor: torch.stft power, peak only"):
        assert graph_breaks(methods[name]) == 0, name

    class PartlyEager(torch.nn.Module):  # how the conv front ends ran before: their conv left to eager mode
        @torch.compiler.disable
        def conv(self, x):
            return x - 1

        def forward(self, x):
            return self.conv(x + 1) * 2

    assert graph_breaks(PartlyEager()) == 1


def test_the_stft_floor_is_each_examples_peak_stft_power():
    from gtzan_gpu.bench.features import STFTPowerPeak

    waveform = torch.randn(3, 6000)
    spectrum = torch.stft(waveform, 2048, 512, window=torch.hann_window(2048), center=True, pad_mode="constant",
                          return_complex=True)
    peak = spectrum.abs().square().amax(dim=(1, 2))
    assert torch.allclose(STFTPowerPeak()(waveform), peak, rtol=1e-5)


def test_the_cpu_presets_time_every_registered_model():
    from gtzan_gpu.bench.run import BenchConfig
    from gtzan_gpu.models.registry import MODELS

    for quick in (True, False):
        sizes = BenchConfig.preset(torch.device("cpu"), quick).train_batch_sizes
        assert set(sizes) == set(MODELS) and min(sizes.values()) >= 2
