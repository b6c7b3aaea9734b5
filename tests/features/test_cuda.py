"""The feature layers on CUDA give the CPU's images, without host syncs, and keep fp32 under TF32/bf16."""
import pytest
import torch

from gtzan_gpu.features import MagnitudeSTFT, SpectrogramImage, WaveformImage

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


def audio(batch=4, seconds=5.0):
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(int(22050 * seconds)) / 22050
    return 0.4 * torch.sin(2 * torch.pi * 330 * t) + 0.05 * torch.randn(batch, t.numel(), generator=generator)


@pytest.mark.parametrize("layer_factory", [SpectrogramImage, lambda: SpectrogramImage(backend="torch"),
                                           lambda: SpectrogramImage(frequency_scale="mel"), WaveformImage],
                         ids=["spectrogram-nnaudio", "spectrogram-torch", "spectrogram-mel", "waveform"])
def test_cuda_matches_cpu(layer_factory):
    layer = layer_factory()
    x = audio()
    expected = layer(x)
    got = layer.to("cuda")(x.cuda()).cpu()
    torch.testing.assert_close(got, expected, atol=2e-3, rtol=0)


def test_no_host_sync_in_forward_on_cuda():
    layers = [SpectrogramImage().cuda(), SpectrogramImage(backend="torch").cuda(), WaveformImage().cuda()]
    x = audio().cuda()
    for layer in layers:
        layer(x)  # warm-up (cuFFT plans, cuDNN heuristics)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for layer in layers:
            layer(x)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_stft_stays_fp32_with_tf32_and_bf16_autocast_on_cuda():
    layer = MagnitudeSTFT().cuda()
    x = audio().cuda()
    expected = MagnitudeSTFT(backend="torch").cuda()(x)
    previous = torch.backends.cudnn.conv.fp32_precision
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            got = layer(x)
        unguarded = layer.kernels(x).float()  # nnAudio's conv with TF32 on, for contrast
    finally:
        torch.backends.cudnn.conv.fp32_precision = previous
    floor = 1e-5 * float(expected.max())
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=floor)
    quiet = expected < expected.max() * 1e-3
    assert ((unguarded - expected).abs() / expected.clamp_min(1e-12))[quiet].median() > \
        ((got - expected).abs() / expected.clamp_min(1e-12))[quiet].median()


def test_the_cqt_stays_fp32_with_tf32_on_and_compiles_whole_on_cuda():
    from gtzan_gpu.features.time_frequency import ConstantQ

    x = audio(2, 3.0)
    expected = ConstantQ().magnitude(x)  # CPU, IEEE
    layer = ConstantQ().cuda()
    previous = torch.backends.cudnn.conv.fp32_precision
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            got = layer.magnitude(x.cuda()).cpu()
            compiled = torch.compile(layer, fullgraph=True, dynamic=False)(x.cuda()).cpu()
    finally:
        torch.backends.cudnn.conv.fp32_precision = previous
    loud = expected > expected.max() * 1e-5  # above -100 dB
    assert float(((got - expected).abs() / expected)[loud].max()) < 1e-3
    torch.testing.assert_close(compiled, ConstantQ()(x), atol=2e-3, rtol=0)


def test_the_compiled_torch_stft_image_on_cuda_is_the_cpus_image():
    """Compiled, the FFT reads the frames as a strided view and the window is applied to the spectra (Triton on
    the int64 words of cuFFT's output): the same pixels as the eager CPU layer."""
    x = audio(2, 3.0)
    layer = SpectrogramImage(backend="torch")
    expected = layer(x)
    compiled = torch.compile(layer.cuda(), fullgraph=True, dynamic=False)(x.cuda()).cpu()
    torch.testing.assert_close(compiled, expected, atol=2e-3, rtol=0)


@pytest.mark.parametrize("name", ["musicnn-torch", "musicnn-nnaudio", "panns"])
def test_the_pretrained_front_ends_on_cuda_match_the_cpu_without_host_syncs(name):
    from gtzan_gpu.features.musicnn_mel import MusicnnMel
    from gtzan_gpu.features.panns_logmel import PannsLogMel

    layer = PannsLogMel() if name == "panns" else MusicnnMel(backend=name.split("-")[1])
    x = audio()
    expected = layer(x)
    layer = layer.to("cuda")
    layer(x.cuda())  # warm-up
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        got = layer(x.cuda())
    finally:
        torch.cuda.set_sync_debug_mode("default")
    # log-compressed maps: MusiCNN's log10(1 + 1e4 x) and PANNs' dB, compared in their own units
    torch.testing.assert_close(got.cpu(), expected, atol=2e-2 if name == "panns" else 2e-3, rtol=0)
