import pytest
import torch

from gtzan_gpu.features import MagnitudeSTFT


def signal(batch=2, seconds=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(22050 * seconds)) / 22050
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * t)
    return tone + 1e-3 * torch.randn(batch, t.numel(), generator=generator)


def test_shape_is_bins_by_centred_frames():
    out = MagnitudeSTFT()(signal(3, 5.0))
    assert out.shape == (3, 1025, 216) and out.dtype == torch.float32


def test_the_two_backends_agree():
    x = signal()
    a, b = MagnitudeSTFT(backend="nnaudio")(x), MagnitudeSTFT(backend="torch")(x)
    torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5 * float(b.max()))


def test_stft_stays_fp32_under_bf16_autocast():
    x = signal()
    layer = MagnitudeSTFT()
    expected = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        guarded = layer(x)
    assert guarded.dtype == torch.float32
    torch.testing.assert_close(guarded, expected, rtol=1e-6, atol=1e-6)


def test_the_nnaudio_backend_is_nnaudios_stft():
    x = signal()
    layer = MagnitudeSTFT()
    reference = layer.kernels(x)
    torch.testing.assert_close(layer(x), reference, rtol=0, atol=1e-6 * float(reference.max()))


def test_without_the_guard_autocast_would_ruin_the_quiet_bins():
    """Negative control: nnAudio's own conv under bf16 autocast loses the bins 60+ dB down."""
    x = signal()
    layer = MagnitudeSTFT()
    expected = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        unguarded = layer.kernels(x).float()
    quiet = expected < expected.max() * 1e-3
    relative_error = ((unguarded - expected).abs() / expected.clamp_min(1e-12))[quiet]
    assert relative_error.median() > 0.1


def test_trainable_kernels_learn_and_torch_backend_refuses():
    layer = MagnitudeSTFT(trainable=True)
    assert sum(p.numel() for p in layer.parameters()) == 2 * 1025 * 2048
    layer(signal()).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
    assert not list(MagnitudeSTFT().parameters())
    with pytest.raises(ValueError, match="nnaudio"):
        MagnitudeSTFT(backend="torch", trainable=True)
    with pytest.raises(ValueError, match="unknown STFT backend"):
        MagnitudeSTFT(backend="fftw")
