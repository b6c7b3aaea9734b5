import torch
import torch.nn.functional as F

from gtzan_gpu.features import MagnitudeSTFT
from gtzan_gpu.features.fourier import complex_parts


def test_complex_parts_are_view_as_reals_parts():
    spectrum = torch.randn(3, 7, 9, dtype=torch.complex64)
    real, imag = complex_parts(spectrum)
    assert real.dtype == imag.dtype == torch.float32 and real.shape == (3, 7, 9)
    torch.testing.assert_close(real, spectrum.real, rtol=0, atol=0)
    torch.testing.assert_close(imag, spectrum.imag, rtol=0, atol=0)


def test_the_compiled_stft_keeps_the_quiet_bins_as_the_eager_one_does():
    """Dynamo's trace reads the parts as int64 words; down to 80 dB below a loud tone its dB are as close to a
    float64 STFT's as the eager path's (both within 2e-3 dB)."""
    t = torch.arange(22050) / 22050
    x = torch.sin(2 * torch.pi * 440 * t) + 3e-4 * torch.randn(2, t.numel(), generator=torch.Generator().manual_seed(1))
    stft = MagnitudeSTFT(backend="torch")
    frames = F.pad(x.double(), (1024, 1024)).unfold(-1, 2048, 512) * torch.hann_window(2048, dtype=torch.float64)
    exact = torch.fft.rfft(frames).abs().square()
    eager, traced = stft.power_frames(x), torch.compile(stft.power_frames, backend="eager")(x)
    exact_db, eager_db, traced_db = [10 * torch.log10(p.double() / p.amax()) for p in (exact, eager, traced)]
    shown = exact_db > -80
    assert (exact_db < -70).logical_and(shown).sum() > 1000  # the comparison reaches the bottom of the image
    assert (eager_db - exact_db)[shown].abs().max() < 2e-3
    assert (traced_db - exact_db)[shown].abs().max() < 2e-3


def test_a_waveform_that_needs_its_gradient_gets_it_under_compile_too():
    """The int64 words carry no gradient, so a traced STFT of a waveform that requires grad takes the eager path."""
    stft = MagnitudeSTFT(n_fft=64, hop_length=16, backend="torch")
    x = torch.randn(2, 400, generator=torch.Generator().manual_seed(2))
    grads = []
    for power_frames in (stft.power_frames, torch.compile(stft.power_frames, backend="eager")):
        leaf = x.clone().requires_grad_()
        power_frames(leaf).sqrt().sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[1], grads[0])
