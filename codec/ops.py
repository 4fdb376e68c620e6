"""Convolutions in numpy, for the decoder (``aec.decoder``) and the exact probability path (``aec.exact``): no torch.

Arrays are (channels, height, width), one image at a time. Each convolution is one matrix product over shifted
copies of its input (im2col), so its speed is the BLAS's; in float64 on integer values the result is exact and so
does not depend on how the BLAS orders its sums. Weights are rearranged once, when a layer is built.

The transposed convolutions are those of the model (stride 2, padding k // 2, output padding 1: the output is
exactly twice the input). Each output pixel of phase (row % 2, column % 2) sums the input over a 3x3 neighbourhood
for k = 5, so one product with the four phases' kernels stacked gives all of them; a layer with few outputs (g_s's
last, 3 channels) instead multiplies every tap at once and adds the 25 shifted results, which needs far less memory.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FEW_OUTPUTS = 16  # transposed layers with fewer output channels scatter their taps instead of stacking phases


def _shifted(x: np.ndarray, kernel: int) -> np.ndarray:
    """(C, H, W) -> (C * kernel**2, H * W): every kernel tap's view of the zero-padded input, one row per (c, tap)."""
    channels, height, width = x.shape
    pad = kernel // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, (kernel, kernel), axis=(1, 2))  # (C, H, W, k, k), no copy
    return np.ascontiguousarray(windows.transpose(0, 3, 4, 1, 2)).reshape(channels * kernel * kernel, height * width)


class Conv:
    """A stride-1 convolution with zero padding kernel // 2 (odd kernels); weight (out, in, k, k)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.outputs, self.inputs, self.kernel = weight.shape[0], weight.shape[1], weight.shape[2]
        self.matrix = np.ascontiguousarray(weight.reshape(self.outputs, -1))
        self.bias = bias.reshape(-1, 1, 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        _, height, width = x.shape
        columns = x.reshape(self.inputs, -1) if self.kernel == 1 else _shifted(x, self.kernel)
        return (self.matrix @ columns).reshape(self.outputs, height, width) + self.bias


class ConvTranspose:
    """A stride-2 transposed convolution with padding k // 2 and output padding 1; weight (in, out, k, k) as torch
    stores it."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.inputs, self.outputs, self.kernel = weight.shape[0], weight.shape[1], weight.shape[2]
        self.pad = self.kernel // 2
        self.bias = bias.reshape(-1, 1, 1)
        self.scatter = self.outputs < FEW_OUTPUTS
        if self.scatter:  # rows (dy, dx, out)
            self.matrix = np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, self.inputs))
        else:
            self.matrix = self._phase_matrix(weight)

    def _phase_matrix(self, weight: np.ndarray) -> np.ndarray:
        """(4 * out, in * r**2): output phase (py, px) as a convolution of the input over an r x r neighbourhood.

        Output row 2m + py takes input row i = m + s from tap dy = py + pad - 2s, for each s with 0 <= dy < k.
        """
        k, pad = self.kernel, self.pad
        self.radius = (pad + 1) // 2
        size = 2 * self.radius + 1
        phases = np.zeros((2, 2, self.outputs, self.inputs, size, size), weight.dtype)
        for py in range(2):
            for px in range(2):
                for sy in range(-self.radius, self.radius + 1):
                    for sx in range(-self.radius, self.radius + 1):
                        dy, dx = py + pad - 2 * sy, px + pad - 2 * sx
                        if 0 <= dy < k and 0 <= dx < k:
                            phases[py, px, :, :, sy + self.radius, sx + self.radius] = weight[:, :, dy, dx].T
        return phases.reshape(4 * self.outputs, -1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        _, height, width = x.shape
        if self.scatter:
            return self._scattered(x)
        phases = self.matrix @ _shifted(x, 2 * self.radius + 1)
        out = phases.reshape(2, 2, self.outputs, height, width).transpose(2, 3, 0, 4, 1)
        return out.reshape(self.outputs, 2 * height, 2 * width) + self.bias

    def _scattered(self, x: np.ndarray) -> np.ndarray:
        _, height, width = x.shape
        k = self.kernel
        taps = (self.matrix @ x.reshape(self.inputs, -1)).reshape(k, k, self.outputs, height, width)
        full = np.zeros((self.outputs, 2 * height + k - 1, 2 * width + k - 1), taps.dtype)
        for dy in range(k):
            for dx in range(k):
                full[:, dy:dy + 2 * height:2, dx:dx + 2 * width:2] += taps[dy, dx]
        return full[:, self.pad:self.pad + 2 * height, self.pad:self.pad + 2 * width] + self.bias


class GDN:
    """(Inverse) generalized divisive normalization from GDN's effective parameters: gamma (C, C), beta (C,)."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, inverse: bool):
        self.gamma, self.beta, self.inverse = np.ascontiguousarray(gamma), beta.reshape(-1, 1), inverse

    def __call__(self, x: np.ndarray) -> np.ndarray:
        channels, height, width = x.shape
        flat = x.reshape(channels, -1)
        norm = np.maximum(self.gamma @ (flat * flat) + self.beta, np.float32(1e-6))
        scale = np.sqrt(norm) if self.inverse else 1 / np.sqrt(norm)
        return (flat * scale).reshape(channels, height, width)
