"""Building blocks: GDN, and the integer convolutions of the probability path as they train.

``IntConv2d`` is trained quantization-aware in float32 (Ballé, Johnston & Minnen, ICLR 2019) and frozen into integer
weights, which ``aec.exact`` evaluates exactly, in numpy, at coding time (see there for the arithmetic).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .exact import ACT_MAX, FRAC_BITS, INPUT_LIMIT, WEIGHT_BITS, IntegerLayer, IntegerNetwork
from .ops import GDN_PEDESTAL

__all__ = ["ACT_MAX", "FRAC_BITS", "INPUT_LIMIT", "WEIGHT_BITS", "GDN", "IntConv2d", "IntSequential", "conv", "deconv",
           "round_ste"]

WEIGHT_LIMIT = 8.0  # |w| < 8, so |W_int| <= 2**15


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half up in the forward pass, identity gradient (straight-through)."""
    return x + (torch.floor(x + 0.5) - x).detach()


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016); ``inverse=True`` gives IGDN."""

    def __init__(self, channels: int, inverse: bool = False, pedestal: float = GDN_PEDESTAL):
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

    ``forward`` works on real values (x = x_int / 2**FRAC_BITS) for training; ``exact()`` gives the frozen integer
    layer the coder runs (``aec.exact``). Both compute the same function, the first up to float32 rounding.
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

    def exact(self) -> IntegerLayer:
        """The frozen integers as the coder's layer (``aec.exact``)."""
        if self.stride != (2 if self.transpose else 1):
            raise ValueError("aec.exact evaluates stride-1 convolutions and stride-2 transposed ones")
        return IntegerLayer(self.weight_int.numpy(), self.bias_int.numpy(), self.transpose, self.activation)


class IntSequential(nn.Sequential):
    """A stack of IntConv2d layers; ``exact()`` is its frozen twin for coding."""

    def exact(self) -> IntegerNetwork:
        return IntegerNetwork([layer.exact() for layer in self])

    def check_exact(self, input_bound: float = float(INPUT_LIMIT)) -> None:
        """Raise ValueError if some input within ``input_bound`` could push a partial sum past 2**53."""
        self.exact().check_exact(input_bound)
