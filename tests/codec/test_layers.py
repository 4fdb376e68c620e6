"""The integer layers: exact, order-independent, and equal to their quantization-aware training twin."""

import numpy as np
import torch

from aec.layers import ACT_MAX, FRAC_BITS, IntConv2d, IntSequential


def _net(seed: int = 0) -> IntSequential:
    torch.manual_seed(seed)
    net = IntSequential(IntConv2d(6, 12, 5, 2, transpose=True), IntConv2d(12, 8, 3), IntConv2d(8, 4, 1,
                                                                                            activation=False))
    for layer in net:
        with torch.no_grad():
            layer.bias.uniform_(-0.5, 0.5)
        layer.freeze()
    return net


def _integer_input(seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(-3000, 3000, (2, 6, 9, 7), generator=generator).double()


def _exact(net, x_int: torch.Tensor) -> torch.Tensor:
    """The frozen network (aec.exact, numpy, one image at a time) on a batch."""
    frozen = net.exact()
    return torch.from_numpy(np.stack([frozen(image) for image in x_int.numpy()]))


def test_exact_output_is_integer_and_matches_training_forward():
    net = _net()
    x_int = _integer_input()
    exact = _exact(net, x_int)
    assert torch.equal(exact, exact.round())
    approx = net(x_int.float() / 2**FRAC_BITS) * 2**FRAC_BITS
    # float32 training arithmetic may land on the other side of a rounding boundary, rarely
    assert (approx.double() - exact).abs().max() <= 1
    assert (approx.double() != exact).float().mean() < 0.02


def test_exact_output_equals_a_direct_float64_convolution_in_any_summation_order():
    # aec.exact multiplies im2col matrices (and rearranges transposed kernels into phases); torch's float64 convolution
    # sums in another order. Exact integer arithmetic makes the order irrelevant, so the two must agree bit for bit.
    net = _net()
    x = _integer_input()
    for layer in net:
        acc = layer._conv(x, layer.weight_int.double(), layer.bias_int.double())
        direct = torch.floor((acc + 2.0**11) / 2.0**12)
        direct = direct.clamp(0, ACT_MAX) if layer.activation else direct
        assert torch.equal(_exact(IntSequential(layer), x), direct)
        x = direct


def test_hidden_activations_are_bounded():
    net = _net()
    hidden = _exact(IntSequential(net[0]), _integer_input() * 100)
    assert hidden.min() >= 0 and hidden.max() <= ACT_MAX


def test_exactness_check_refuses_weights_that_could_overflow():
    net = _net()
    net.check_exact(2.0**22)
    with torch.no_grad():
        net[1].bias_int.fill_(2**53)
    try:
        net.check_exact(2.0**22)
    except ValueError as error:
        assert "2**53" in str(error)
    else:
        raise AssertionError("an overflowing layer passed the exactness check")
