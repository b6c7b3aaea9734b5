import numpy as np
import pytest
import soundfile as sf
import torch

from gtzan_gpu.data.audio import (AudioDecodeError, read_segment, read_track, resampled_length, to_int16,
                                  validate_audio)
from tests.conftest import write_tone


def test_read_segment_returns_exactly_the_requested_frames(tmp_path):
    path = tmp_path / "a.wav"
    write_tone(path, 2.0, 22050, subtype="FLOAT")
    full, _ = sf.read(str(path), dtype="float32")
    segment = read_segment(path, start=1000, length=5000, target_rate=22050)
    assert segment.shape == (5000,) and segment.dtype == torch.float32
    np.testing.assert_array_equal(segment.numpy(), full[1000:6000])


def test_read_segment_downmixes_stereo_to_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    data = write_tone(path, 1.0, 22050, channels=2, subtype="FLOAT")
    segment = read_segment(path, 0, 22050, 22050)
    np.testing.assert_allclose(segment.numpy(), data.mean(axis=1), atol=1e-6)


def test_read_segment_past_the_end_is_zero_padded(tmp_path):
    path = tmp_path / "short.wav"
    write_tone(path, 0.5, 22050, subtype="FLOAT")
    segment = read_segment(path, 10000, 5000, 22050)
    assert segment.shape == (5000,)
    assert torch.all(segment[1025:] == 0) and torch.any(segment[:1025] != 0)


def test_read_segment_resamples_and_matches_the_whole_track_resampled(tmp_path):
    path = tmp_path / "44k.wav"
    write_tone(path, 2.0, 44100, frequency=300.0, subtype="FLOAT")
    whole = read_track(path, 22050)
    assert whole.numel() == resampled_length(88200, 44100, 22050) == 44100
    segment = read_segment(path, 11025, 11025, 22050, source_rate=44100)
    np.testing.assert_allclose(segment.numpy(), whole[11025:22050].numpy(), atol=2e-3)


def test_to_int16_is_exact_for_pcm16_audio_and_saturates():
    codes = torch.tensor([-32768, -1, 0, 1, 32767], dtype=torch.int16)
    assert torch.equal(to_int16(codes.float() / 32768), codes)
    assert torch.equal(to_int16(torch.tensor([-2.0, 2.0])), torch.tensor([-32768, 32767], dtype=torch.int16))


def test_validate_reports_duration_rate_channels(tmp_path):
    path = tmp_path / "ok.flac"
    write_tone(path, 1.5, 16000, channels=2)
    info = validate_audio(path)
    assert (info.sample_rate, info.channels, info.frames) == (16000, 2, 24000)
    assert info.duration == pytest.approx(1.5)


@pytest.mark.parametrize("damage, reason", [
    ("empty", "empty file"),
    ("text", "not a readable audio file"),
    ("truncated", "truncated"),
    ("nan", "NaN"),
])
def test_validate_rejects_damaged_files_with_a_reason(tmp_path, damage, reason):
    path = tmp_path / "bad.wav"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "text":
        path.write_text("this is not audio\n" * 100)
    elif damage == "truncated":
        write_tone(path, 1.0, 22050, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[:20000])
    elif damage == "nan":
        sf.write(str(path), np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32), 22050, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match=reason):
        validate_audio(path)


def test_a_truncated_mp3_is_refused_for_the_same_reason_by_every_command(tmp_path):
    """Issue 31, defect 5: a cut mp3 passed scan at its header's length (padding), pack excluded it as truncated
    and predict rejected it for NaN: one decoding check now, the same reason everywhere."""
    import numpy as np
    import soundfile as sf

    from gtzan_gpu.data.audio import AudioDecodeError, decode_validated, validate_audio

    t = np.arange(22050 * 4) / 22050
    sf.write(str(tmp_path / "x.mp3"), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, format="MP3")
    data = (tmp_path / "x.mp3").read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) * 6 // 10])
    reasons = []
    for check in (validate_audio, lambda path: decode_validated(path, 22050)):
        with pytest.raises(AudioDecodeError) as caught:
            check(cut)
        reasons.append(str(caught.value))
    assert reasons[0] == reasons[1] and reasons[0].startswith("truncated: header declares")
    assert validate_audio(tmp_path / "x.mp3").frames >= 22050 * 4
