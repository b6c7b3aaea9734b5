"""Decoding audio with soundfile: header probes, full validation, and frame-exact segment reads.

Every read goes through here, so downmixing and resampling behave the same for training, scanning
and prediction. Waveforms are float32 in [-1, 1]; ``read_int16`` keeps 16-bit PCM exact for DeviceLoader.
"""
from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, confirmed by decoding every frame."""

    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


class AudioDecodeError(Exception):
    """A file that cannot be used as audio; the message says why in a few words."""


def _riff_declared_data_bytes(path: Path) -> tuple[int, int] | None:
    """For a RIFF/WAVE file: (bytes the 'data' chunk declares, bytes actually present), else None."""
    with open(path, "rb") as handle:
        return _riff_data_bytes(handle, path.stat().st_size)


def _riff_data_bytes(handle, file_size: int) -> tuple[int, int] | None:
    """:func:`_riff_declared_data_bytes` of an open binary ``handle`` holding ``file_size`` bytes."""
    handle.seek(0)
    header = handle.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    position = 12
    while position + 8 <= file_size:
        handle.seek(position)
        chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
        if chunk_id == b"data":
            return chunk_size, max(0, file_size - position - 8)
        position += 8 + chunk_size + (chunk_size & 1)
    return None


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block: libmpg123 (inside libsndfile) prints "Note: Illegal
    Audio-MPEG-Header ..." lines there itself while it probes a file that is not MPEG audio; the reason reaches
    the user as one line instead, from the exception."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def decode_failure_reason(error: BaseException) -> str:
    """``describe_decode_error``, with libsndfile's misleading text for a regular file whose data no decoder
    recognises ("File does not exist or is not a regular file (possibly a pipe?)") replaced by what it means."""
    text = describe_decode_error(error)
    return "no audio format recognised in its data" if "possibly a pipe" in text else text


def _checked_header(path: Path):
    """soundfile's info of ``path`` after the checks a header allows: not empty, readable, RIFF data complete."""
    if path.stat().st_size == 0:
        raise AudioDecodeError("empty file")
    try:
        with native_stderr_silenced():
            info = sf.info(str(path))
    except Exception as error:  # soundfile raises LibsndfileError, RuntimeError or TypeError by format
        raise AudioDecodeError(f"not a readable audio file ({decode_failure_reason(error)})") from None
    riff = _riff_declared_data_bytes(path)
    if riff is not None and riff[1] < riff[0]:
        raise AudioDecodeError(f"truncated: header declares {riff[0]} data bytes, file holds {riff[1]}")
    return info


def _read_checked(path: Path) -> tuple[AudioInfo, np.ndarray]:
    """The one decoding check every command makes (scan, pack, predict, tag, train): the header's checks, then the
    whole file read at once, as training reads it. A file whose decode stops short of its header's frame count is
    truncated; one whose decoder pads it (uninitialised frames of a cut mp3) shows as non-finite samples: both are
    refused the same way whichever command meets them. Returns ``(info, (frames, channels) float32)``."""
    info = _checked_header(path)
    try:
        with native_stderr_silenced():
            data, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:
        raise AudioDecodeError(f"decoding failed ({describe_decode_error(error)})") from None
    return _checked_frames(info, data, source_rate), data


def _checked_frames(info, data: np.ndarray, source_rate: int) -> AudioInfo:
    """The checks of a whole decode against its header (frames present, none missing, all finite)."""
    if len(data) == 0:
        raise AudioDecodeError("no audio frames")
    if info.frames > 0 and len(data) < info.frames:
        raise AudioDecodeError(f"truncated: header declares {info.frames} frames, decoded {len(data)}")
    if not np.isfinite(data).all():
        raise AudioDecodeError("contains NaN or infinite samples")
    return AudioInfo(int(source_rate), int(info.channels), len(data), str(info.format))


def validate_audio(path: str | Path) -> AudioInfo:
    """Decode the whole file (header and every frame) and return its info (:func:`_read_checked`).

    Raises:
        AudioDecodeError: empty, not audio, truncated, undecodable, or containing non-finite samples.
    """
    return _read_checked(Path(path))[0]


def decode_validated(path: str | Path, target_rate: int) -> tuple[AudioInfo, torch.Tensor]:
    """Decode a whole file once, with the checks :func:`validate_audio` makes, downmixed and resampled:
    -> (the file's info, ``(samples,)`` float32 at ``target_rate``).

    Raises:
        AudioDecodeError: empty, not audio, truncated, undecodable, or containing non-finite samples.
    """
    info, data = _read_checked(Path(path))
    mono = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
    if info.sample_rate != target_rate:
        mono = AF.resample(mono, info.sample_rate, target_rate)
    return info, mono


def decode_bytes_validated(data: bytes, target_rate: int | None) -> tuple[AudioInfo, torch.Tensor]:
    """:func:`decode_validated` of an audio file held in memory (a tar member, a dataset's bytes), with the same
    checks: -> (its info, ``(samples,)`` float32 at ``target_rate`` (None: the file's own rate), downmixed).

    Raises:
        AudioDecodeError: empty, not audio, truncated, undecodable, or containing non-finite samples.
    """
    if not data:
        raise AudioDecodeError("empty file")
    try:
        with native_stderr_silenced():
            info = sf.info(io.BytesIO(data))
            frames, source_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as error:
        raise AudioDecodeError(f"not a readable audio file ({decode_failure_reason(error)})") from None
    riff = _riff_data_bytes(io.BytesIO(data), len(data))
    if riff is not None and riff[1] < riff[0]:
        raise AudioDecodeError(f"truncated: header declares {riff[0]} data bytes, file holds {riff[1]}")
    checked = _checked_frames(info, frames, source_rate)
    mono = torch.from_numpy(frames.mean(axis=1, dtype=np.float32))
    if target_rate is not None and source_rate != target_rate:
        mono = AF.resample(mono, source_rate, target_rate)
    return checked, mono


def describe_decode_error(error: BaseException) -> str:
    """The gist of a decoder error: first line, without libsndfile's "Error opening '<path>': " prefix (or the
    in-memory file's "Error opening <...>: ")."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    if text.startswith("Error opening '") and "': " in text:
        return text.split("': ", 1)[1]
    if text.startswith("Error opening <") and ">: " in text:  # an in-memory file (a tar member, a dataset cell)
        return text.split(">: ", 1)[1]
    return text


def resampled_length(frames: int, source_rate: int, target_rate: int) -> int:
    """Number of samples a ``frames``-long file has once resampled to ``target_rate``."""
    if source_rate == target_rate:
        return frames
    return frames * target_rate // source_rate


def read_segment(path: str | Path, start: int, length: int, target_rate: int, source_rate: int | None = None) -> torch.Tensor:
    """Read ``length`` samples at ``target_rate`` starting at target-rate sample ``start``: -> (length,) float32.

    Only the frames of the segment are decoded (plus a small resampling margin when rates differ);
    channels are averaged to mono; a segment that runs past the end of the file is zero-padded.
    """
    if source_rate is None:
        source_rate = sf.info(str(path)).samplerate
    if source_rate == target_rate:
        data, _ = sf.read(str(path), start=start, frames=length, dtype="float32", always_2d=True)
        mono = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
    else:
        margin = 64  # source samples on each side so the resampling filter sees real context
        source_start = start * source_rate // target_rate
        first = max(0, source_start - margin)
        count = -(-length * source_rate // target_rate) + 2 * margin
        data, _ = sf.read(str(path), start=first, frames=count, dtype="float32", always_2d=True)
        mono = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
        mono = AF.resample(mono, source_rate, target_rate)
        skip = (source_start - first) * target_rate // source_rate
        mono = mono[skip:]
    return fit_length(mono, length)


def read_track(path: str | Path, target_rate: int) -> torch.Tensor:
    """Decode a whole file, downmix to mono and resample: -> (samples,) float32."""
    data, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
    if source_rate != target_rate:
        mono = AF.resample(mono, source_rate, target_rate)
    return mono


INT16_FULL_SCALE = 32768.0
INT16_SCALE = 1.0 / INT16_FULL_SCALE  # int16 sample -> float in [-1, 1): the inverse of to_int16


def to_int16(waveform: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> int16, rounding and saturating (exact for audio that was 16-bit PCM)."""
    return (waveform * INT16_FULL_SCALE).round().clamp_(-32768, 32767).to(torch.int16)


def fit_length(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """``(T,)`` -> ``(length,)``: cut, or zero-padded past the end."""
    if waveform.numel() >= length:
        return waveform[:length].contiguous()
    return torch.nn.functional.pad(waveform, (0, length - waveform.numel()))
