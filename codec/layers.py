"""Building blocks: GDN, and the fixed-point integer convolutions of the probability path.

The integer layers follow Ballé, Johnston & Minnen, "Integer networks for data compression with
latent-variable models" (ICLR 2019), in a form that is trained quantization-aware in float32 and evaluated
exactly in float64 at coding time:

    acc = conv(x_int, W_int) + B_int          every term an integer, |acc| < 2**53
    y_int = floor((acc + 2**(WF-1)) / 2**WF)  a rounding right shift
    y_int = clamp(y_int, 0, ACT_MAX)          hidden layers only (a bounded ReLU)

Activations carry ``FRAC_BITS`` fractional bits (x = x_int / 2**FRAC_BITS) and weights ``WEIGHT_BITS``
(w = W_int / 2**WEIGHT_BITS). Because every partial sum is an integer below 2**53, float64 arithmetic is exact
and the result does not depend on summation order, thread count, memory format or machine.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

FRAC_BITS = 8
WEIGHT_BITS = 12
ACT_MAX = (1 << 14) - 1  # hidden activations lie in [0, 64) in real units
WEIGHT_LIMIT = 8.0  # |w| < 8, so |W_int| <= 2**15
INPUT_LIMIT = 1 << 22  # integer inputs (z_hat, y_hat in fixed point) are clamped to +-2**14 real units
EXACT_LIMIT = float(1 << 53)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half up in the forward pass, identity gradient (straight-through)."""
    return x + (torch.floor(x + 0.5) - x).detach()


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016); ``inverse=True`` gives IGDN."""

    def __init__(self, channels: int, inverse: bool = False, pedestal: float = 2.0**-18):
        super().__init__()
        self.inverse = inverse
        self.pedestal = pedestal
        # Stored as square roots so that the effective parameters stay non-negative. Off-diagonal gamma starts
        # above zero: at exactly zero its gradient through the square root vanishes and it never trains.
        gamma = 0.1 * torch.eye(channels) + 1e-3
        self.beta = nn.Parameter(torch.sqrt(torch.ones(channels) + pedestal))
        self.gamma = nn.Parameter(torch.sqrt(gamma + pedestal))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta.clamp(min=(1e-6 + self.pedestal) ** 0.5) ** 2 - self.pedestal
        gamma = self.gamma.clamp(min=self.pedestal**0.5) ** 2 - self.pedestal
        channels = gamma.shape[0]
        norm = F.conv2d(x * x, gamma.view(channels, channels, 1, 1).to(x.dtype), beta.to(x.dtype))
        norm = norm.float().clamp(min=1e-6)
        scale = torch.sqrt(norm) if self.inverse else torch.rsqrt(norm)
        return x * scale.to(x.dtype)


def conv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


def deconv(cin: int, cout: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1)


class IntConv2d(nn.Module):
    """A convolution with integer weights and activations, trained quantization-aware, evaluated exactly.

    ``forward`` works on real values (x = x_int / 2**FRAC_BITS) for training; ``forward_exact`` works on the
    integers themselves in float64 and is what the coder runs. Both compute the same function, the first up
    to float32 rounding.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, transpose: bool = False,
                 activation: bool = True):
        super().__init__()
        self.cin, self.cout, self.kernel, self.stride = cin, cout, kernel, stride
        self.transpose, self.activation = transpose, activation
        layer = (deconv if transpose else conv)(cin, cout, kernel, stride)
        self.weight = nn.Parameter(layer.weight.detach().clone())
        self.bias = nn.Parameter(torch.zeros(cout))
        # Frozen integer parameters: what the coder uses. Filled by freeze() or by loading a model file.
        self.register_buffer("weight_int", torch.zeros(self.weight.shape, dtype=torch.int32), persistent=True)
        self.register_buffer("bias_int", torch.zeros(cout, dtype=torch.int64), persistent=True)

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        pad = self.kernel // 2
        if self.transpose:
            return F.conv_transpose2d(x, weight, bias, stride=self.stride, padding=pad,
                                      output_padding=self.stride - 1)
        return F.conv2d(x, weight, bias, stride=self.stride, padding=pad)

    def quantized_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Real-valued weight and bias on the fixed-point grid (straight-through gradients)."""
        weight = round_ste(self.weight.clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT - 2.0**-WEIGHT_BITS) * 2.0**WEIGHT_BITS)
        bias = round_ste(self.bias * 2.0 ** (FRAC_BITS + WEIGHT_BITS))
        return weight / 2.0**WEIGHT_BITS, bias / 2.0 ** (FRAC_BITS + WEIGHT_BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.quantized_parameters()
        y = round_ste(self._conv(x, weight, bias) * 2.0**FRAC_BITS) / 2.0**FRAC_BITS
        if self.activation:
            y = y.clamp(0.0, ACT_MAX / 2.0**FRAC_BITS)
        return y

    @torch.no_grad()
    def freeze(self) -> None:
        """Copy the fixed-point grid of the float parameters into the integer buffers."""
        weight, bias = self.quantized_parameters()
        self.weight_int.copy_(torch.round(weight * 2.0**WEIGHT_BITS).to(torch.int32))
        self.bias_int.copy_(torch.round(bias.double() * 2.0 ** (FRAC_BITS + WEIGHT_BITS)).to(torch.int64))

    @torch.no_grad()
    def thaw(self) -> None:
        """Set the float parameters from the integer buffers (to resume training from a model file)."""
        self.weight.copy_(self.weight_int.float() / 2.0**WEIGHT_BITS)
        self.bias.copy_((self.bias_int.double() / 2.0 ** (FRAC_BITS + WEIGHT_BITS)).float())

    def output_bound(self, input_bound: float) -> float:
        """Largest |acc| any input with |x_int| <= input_bound can produce (exactness needs it below 2**53)."""
        w = self.weight_int.double().abs()
        # For a transposed convolution each output sums over at most all taps of every input channel.
        per_output = w.sum(dim=(0, 2, 3)) if self.transpose else w.sum(dim=(1, 2, 3))
        return float((per_output * input_bound + self.bias_int.double().abs()).max())

    @torch.no_grad()
    def forward_exact(self, x_int: torch.Tensor) -> torch.Tensor:
        """The integer layer on integer-valued float64 input; returns integer-valued float64."""
        acc = self._conv(x_int.double(), self.weight_int.double(), self.bias_int.double())
        y = torch.floor((acc + 2.0 ** (WEIGHT_BITS - 1)) / 2.0**WEIGHT_BITS)
        if self.activation:
            y = y.clamp(0.0, float(ACT_MAX))
        return y


class IntSequential(nn.Sequential):
    """A stack of IntConv2d layers with an exact twin of its forward pass."""

    def forward_exact(self, x_int: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x_int = layer.forward_exact(x_int)
        return x_int

    def check_exact(self, input_bound: float) -> None:
        """Raise if some input within ``input_bound`` could push a partial sum past 2**53."""
        bound = input_bound
        for layer in self:
            acc = layer.output_bound(bound)
            if acc >= EXACT_LIMIT:
                raise ValueError(f"integer layer can reach |acc| = {acc:.3g} >= 2**53: not exact")
            bound = float(ACT_MAX) if layer.activation else acc / 2.0**WEIGHT_BITS + 1
