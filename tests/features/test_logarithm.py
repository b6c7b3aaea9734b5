import math

import torch

from gtzan_gpu.features.functional import relative_decibels
from gtzan_gpu.features.logarithm import arithmetic_log10


def test_the_arithmetic_log10_is_within_a_few_ulp_of_float64_over_the_whole_range():
    generator = torch.Generator().manual_seed(0)
    exponents = torch.empty(200_000).uniform_(math.log(1.2e-38), math.log(3.4e38), generator=generator)
    edges = [1.0, 2.0, 0.5, 0.70710677, 0.7071068, 1.4142135, 1.4142137, 10.0, 1e-10, 3.4e38]
    x = torch.cat([torch.exp(exponents).float(), torch.tensor(edges)])
    error = (arithmetic_log10(x).double() - torch.log10(x.double())).abs()
    assert float((error / torch.log10(x.double()).abs().clamp_min(1.0)).max()) < 3e-7  # measured 1.6e-7
    powers = torch.exp(exponents[:1000] % math.log(1e17) + math.log(1e-10)).float()  # a front end's range
    assert float((arithmetic_log10(powers).double() - torch.log10(powers.double())).abs().max()) < 2e-6


def test_the_arithmetic_log10_keeps_nan_and_inf_and_floors_zero_at_the_smallest_normal():
    out = arithmetic_log10(torch.tensor([0.0, 1e-45, float("nan"), float("inf"), 1.0]))
    assert torch.isnan(out[2]) and out[3] == math.inf and out[4] == 0.0
    torch.testing.assert_close(out[:2], torch.full((2,), math.log10(torch.finfo(torch.float32).tiny)))


def test_traced_decibels_use_it_and_agree_with_eager_ones():
    """Under dynamo on a CPU the dB take the arithmetic log10; they match eager's to 1e-4 dB, and a tensor that
    needs its gradient keeps torch.log10 (bits carry none)."""
    power = torch.rand(2, 50, 129, generator=torch.Generator().manual_seed(1)) ** 8
    traced = torch.compile(relative_decibels, backend="eager")
    eager_db, eager_low = relative_decibels(power, power=True, amin=1e-10, with_lowest=True)
    traced_db, traced_low = traced(power, power=True, amin=1e-10, with_lowest=True)
    torch.testing.assert_close(traced_db, eager_db, rtol=0, atol=1e-4)
    torch.testing.assert_close(traced_low, eager_low, rtol=0, atol=1e-4)
    leaf = power.clone().requires_grad_()
    traced(leaf, power=True, amin=1e-10).sum().backward()
    assert leaf.grad is not None and torch.isfinite(leaf.grad).all()
