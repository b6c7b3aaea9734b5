"""fp32 convolutions without a precision switch: the TF32 head/tail split is exact, keeps gradients, and under
(emulated) TF32 keeps the quiet bins that a plain TF32 convolution loses."""
import pytest
import torch
import torch.nn.functional as F

from gtzan_gpu.features import MagnitudeSTFT
from gtzan_gpu.features import precision
from gtzan_gpu.features.precision import TF32_HEAD_MASK, fp32_conv1d, fp32_conv_power, tf32_split


def tone_and_noise(seconds=0.5):
    t = torch.arange(int(22050 * seconds)) / 22050
    noise = 1e-4 * torch.randn(1, t.numel(), generator=torch.Generator().manual_seed(0))
    return (0.5 * torch.sin(2 * torch.pi * 440 * t) + noise).unsqueeze(1)  # (1, 1, T): ~74 dB between them


def test_the_split_is_exact_tf32_headed_and_passes_gradients_straight_through():
    x = (torch.randn(1000, generator=torch.Generator().manual_seed(1)) * 10.0 ** torch.linspace(-6, 6, 1000))
    x.requires_grad_(True)
    head, tail = tf32_split(x)
    assert torch.equal(head + tail, x)
    assert torch.all(head.detach().view(torch.int32) & ~TF32_HEAD_MASK == 0)  # nothing TF32 would round
    assert torch.all(tail.abs() <= 2.0 ** -10 * x.abs())
    weights = torch.randn(1000)
    (head * weights + tail * 3.0).sum().backward()
    torch.testing.assert_close(x.grad, weights)  # the head carries the gradient, the tail none


def test_the_split_convolution_is_the_convolution_with_its_gradients():
    x = tone_and_noise().requires_grad_(True)
    weight = MagnitudeSTFT().kernels.wcos[:64].clone().requires_grad_(True)
    split = fp32_conv1d(x, weight, 512, split=True)
    plain = F.conv1d(x, weight, stride=512)
    torch.testing.assert_close(split, plain, rtol=0, atol=1e-5 * float(plain.detach().abs().max()))
    grads = torch.autograd.grad(split.square().sum(), (x, weight))
    expected = torch.autograd.grad(plain.square().sum(), (x, weight))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))


def test_the_power_of_two_split_convolutions_is_the_power_of_the_plain_ones():
    x = tone_and_noise()
    kernels = MagnitudeSTFT().kernels
    plain = F.conv1d(x, kernels.wcos, stride=512).square() + F.conv1d(x, kernels.wsin, stride=512).square()
    for split in (True, False):
        got = fp32_conv_power(x, kernels.wcos, kernels.wsin, 512, split=split)
        torch.testing.assert_close(got, plain, rtol=0, atol=1e-5 * float(plain.max()))


def tf32_round(x: torch.Tensor) -> torch.Tensor:
    """fp32 -> the nearest TF32 value (10 mantissa bits), as tensor cores read an fp32 operand."""
    return ((x.view(torch.int32) + (1 << 12)) & TF32_HEAD_MASK).view(torch.float32)


@pytest.fixture
def emulated_tf32_conv(monkeypatch):
    """``F.conv1d`` as a TF32 convolution computes it: operands rounded to TF32, products summed exactly."""
    exact = F.conv1d

    def conv1d(x, weight, stride=1):
        return exact(tf32_round(x).double(), tf32_round(weight).double(), stride=stride).float()

    monkeypatch.setattr(precision.F, "conv1d", conv1d)
    return exact


def test_under_tf32_the_split_keeps_the_quiet_bins_that_a_plain_convolution_loses(emulated_tf32_conv):
    x = tone_and_noise()
    kernels = MagnitudeSTFT().kernels
    weight = torch.cat([kernels.wcos, kernels.wsin])
    truth = emulated_tf32_conv(x.double(), weight.double(), stride=512)
    quiet = truth.abs() < truth.abs().max() * 1e-3   # the noise bins, 60+ dB below the tone

    def error(split):
        got = fp32_conv1d(x, weight, 512, split=split).double()
        return ((got - truth).abs() / truth.abs().clamp_min(1e-30))[quiet].median()

    plain, split = error(split=False), error(split=True)
    print(f"median relative error of the quiet bins under TF32: plain {plain:.1e}, split {split:.1e}")
    assert plain > 0.1                           # the tone's rounding (2^-11 of each product) swamps them
    assert split < 1e-3 and split < plain / 100  # 2^-21: they survive (0.01 dB)
