"""Genre of whole audio files: downmix, resample, cut into the model's segments, average the logits."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from gtzan_gpu.data.audio import AudioDecodeError, describe_decode_error, read_track, validate_audio
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training.device import autocast
from gtzan_gpu.training.artifacts import load_trained_model
from gtzan_gpu.training.export import load_onnx_model


def file_segments(waveform: torch.Tensor, length: int, hop: int | None = None) -> torch.Tensor:
    """``(T,)`` -> ``(S, length)`` windows every ``hop`` samples (default: ``length``, no overlap); a trailing partial
    window is dropped and a file shorter than one window is zero-padded."""
    if waveform.numel() < length:
        waveform = F.pad(waveform, (0, length - waveform.numel()))
    return waveform.unfold(0, length, hop or length)


def unusable_file(path: Path) -> str | None:
    """Why ``path`` cannot be classified (missing, a folder, or rejected by the scan's validation), or None."""
    if not path.exists():
        return "file not found"
    if path.is_dir():
        return "is a directory, not an audio file"
    try:
        validate_audio(path)
    except AudioDecodeError as error:
        return f"cannot decode ({error})"
    except OSError as error:
        return f"cannot read ({error.strerror})"
    return None


def _scorer(source: str | Path, device: str):
    """(genres, sample rate, segment seconds, ``(B, T) -> (B, C)`` logits on the CPU) of a RUN_DIR or of a model
    exported to ONNX (run with onnxruntime)."""
    if str(source).endswith(".onnx"):
        session, facts = load_onnx_model(source)
        return (facts["genres"], facts["sample_rate"], facts["segment_seconds"],
                lambda batch: torch.from_numpy(session.run(None, {"waveform": batch.numpy()})[0]))
    model, checkpoint, config, target = load_trained_model(source, device)

    def logits_of(batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), autocast(target, config.amp):
            return model(batch.to(target)).float().cpu()

    return checkpoint["genres"], config.sample_rate, config.segment_seconds, logits_of


def predict_files(run_dir: str | Path, files: list[str], device: str = "auto", batch_size: int = 64,
                  hop_seconds: float | None = None, timeline: bool = False) -> list[dict]:
    """One result per file: ``{"file", "genre", "probabilities", "segments"}`` or ``{"file", "error"}``; the model
    is RUN_DIR's best checkpoint, or an exported ``.onnx`` file (onnxruntime).

    Segments are cut every ``hop_seconds`` (default: the segment length). With ``timeline``, each result also
    holds ``"timeline": {"start_seconds": [...], "probabilities": [[per genre] per segment]}``."""
    if hop_seconds is not None and not 0.01 <= hop_seconds <= 3600:
        raise GtzanError(f"--hop-seconds must be in [0.01, 3600], got {hop_seconds}")
    genres, sample_rate, segment_seconds, logits_of = _scorer(run_dir, device)
    length = int(round(segment_seconds * sample_rate))
    hop = int(round(hop_seconds * sample_rate)) if hop_seconds else length
    results = []
    for file in files:
        problem = unusable_file(Path(file))
        if problem:
            results.append({"file": file, "error": problem})
            continue
        try:
            waveform = read_track(file, sample_rate)
        except Exception as error:
            results.append({"file": file, "error": f"cannot decode ({describe_decode_error(error)})"})
            continue
        if waveform.numel() == 0 or not torch.isfinite(waveform).all():
            results.append({"file": file, "error": "no usable samples (empty or NaN)"})
            continue
        segments = file_segments(waveform, length, hop)
        logits = torch.cat([logits_of(segments[first:first + batch_size].contiguous())
                            for first in range(0, segments.shape[0], batch_size)])
        probabilities = logits.mean(dim=0).softmax(dim=0).cpu()
        result = {"file": file, "genre": genres[int(probabilities.argmax())], "segments": segments.shape[0],
                  "seconds": round(waveform.numel() / sample_rate, 3),
                  "probabilities": {g: round(float(p), 4) for g, p in zip(genres, probabilities)}}
        if timeline:
            result["timeline"] = {"start_seconds": [round(i * hop / sample_rate, 3)
                                                    for i in range(segments.shape[0])],
                                  "segment_seconds": segment_seconds, "genres": genres,
                                  "probabilities": logits.softmax(dim=1).cpu().round(decimals=4).tolist()}
        results.append(result)
    return results


def format_prediction(result: dict) -> str:
    if "error" in result:
        return f"{result['file']}: error: {result['error']}"
    ranked = sorted(result["probabilities"].items(), key=lambda item: -item[1])
    return (f"{result['file']}: {result['genre']} ({result['segments']} segments, {result['seconds']:g} s)\n    "
            + "  ".join(f"{g} {p:.3f}" for g, p in ranked))


def timeline_paths(target: str | Path, results: list[dict]) -> list[tuple[dict, Path]]:
    """Where each usable result's timeline goes: ``target`` for one file, ``<stem>_<file stem><suffix>`` beside it
    for several."""
    target = Path(target)
    usable = [r for r in results if "error" not in r]
    return [(result, target if len(usable) == 1 else
             target.with_name(f"{target.stem}_{Path(result['file']).stem}{target.suffix or '.png'}"))
            for result in usable]


def write_timelines(target: str | Path, results: list[dict], inputs: tuple) -> list[tuple[str, Path]]:
    """Draw each usable result's genre probabilities over time (a stacked area plot, written atomically) at
    :func:`timeline_paths`; none overwrites one of ``inputs`` (the run, the audio files). Returns (file, PNG)."""
    from gtzan_gpu.atomic import atomic_write_bytes
    from gtzan_gpu.figures import png_bytes, timeline_figure
    from gtzan_gpu.outputs import check_output

    written = []
    for result, path in timeline_paths(target, results):
        check_output(path, "--timeline", inputs)
        line = result["timeline"]
        atomic_write_bytes(path, png_bytes(timeline_figure(line["start_seconds"], line["segment_seconds"],
                                                           line["probabilities"], line["genres"],
                                                           f"{Path(result['file']).name}: {result['genre']}")))
        written.append((result["file"], path))
    return written
