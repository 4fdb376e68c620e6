"""The networks of the channel-slice architecture, layer by layer, written once and read by both implementations.

The torch modules (``aec.transforms``, ``aec.context``: training and refinement) and the numpy coder (``aec.encoder``,
``aec.decoder``) build their networks from these lists, so a layer's shape, its place in the file and the order of its
channels are stated in one place; a second architecture adds its own lists here. Torch-free.

    g_a:            pixels (3) -> y (M), float, four stride-2 5x5 layers with GDN between them
    h_a:            y (M) -> z (Z), float, stride 1 then two stride-2 layers, leaky ReLU between them
    h_s:            z_hat (Z) -> hyper features (hyper_width), integer, two stride-2 transposed layers
    params[i]:      hyper + y_hat_0..i-1 -> mean and scale index of slice i (2 x M / slices), integer
    residuals[i]:   hyper + y_hat_0..i-1 + slice i -> its latent residual prediction (M / slices), integer
    g_s:            y_hat (M) -> pixels (3), float, four stride-2 transposed 5x5 layers with inverse GDN between
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .ops import GDN, Conv, ConvTranspose, costs, leaky_relu
from .progress import in_turn

__all__ = ["LATENT_STRIDE", "LEAKY_SLOPE", "STRIDE", "FloatNetwork", "Layer", "analysis", "hyper_analysis", "hyper_synthesis", "named_tensor", "parameter_net",
           "residual_net", "slice_channels", "synthesis"]

LEAKY_SLOPE = 0.01  # h_a's leaky ReLU (torch's default)
LATENT_STRIDE = 16  # g_a's total stride (and g_s's)
STRIDE = 64  # g_a's followed by h_a's (4): images are padded to a multiple of it


@dataclass(frozen=True)
class Layer:
    """One convolution with zero padding kernel // 2: stride 1 or 2 (the output half the input), or (``transpose``)
    stride 2 transposed with output padding 1 (the output exactly twice the input). ``activation``: an integer
    layer's bounded ReLU; in g_a and g_s the (inverse) GDN that follows the layer, in h_a its leaky ReLU."""

    inputs: int
    outputs: int
    kernel: int
    transpose: bool = False
    activation: bool = True
    stride: int = 1

    def __post_init__(self) -> None:
        if self.stride not in (1, 2) or (self.transpose and self.stride != 2):
            raise ValueError(f"a layer is stride 1 or 2, and a transposed one stride 2 (got {self})")

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """The weight tensor's shape as torch stores it: (in, out, k, k) transposed, (out, in, k, k) otherwise."""
        k = self.kernel
        return (self.inputs, self.outputs, k, k) if self.transpose else (self.outputs, self.inputs, k, k)


def analysis(c: ModelConfig) -> tuple[Layer, ...]:
    """g_a, float: 3 -> N -> N -> N -> M, total stride 16, a GDN after every layer but the last."""
    return (Layer(3, c.N, 5, stride=2), Layer(c.N, c.N, 5, stride=2), Layer(c.N, c.N, 5, stride=2),
            Layer(c.N, c.M, 5, stride=2, activation=False))


def hyper_analysis(c: ModelConfig) -> tuple[Layer, ...]:
    """h_a, float: y -> z, total stride 4, a leaky ReLU after every layer but the last."""
    return (Layer(c.M, c.N, 3), Layer(c.N, c.N, 5, stride=2), Layer(c.N, c.Z, 5, stride=2, activation=False))


def hyper_synthesis(c: ModelConfig) -> tuple[Layer, ...]:
    """h_s, integer: total stride 4, to the latent's resolution."""
    return (Layer(c.Z, c.N, 5, stride=2, transpose=True), Layer(c.N, c.N, 5, stride=2, transpose=True),
            Layer(c.N, c.hyper_width, 3))


def slice_channels(c: ModelConfig) -> int:
    return c.M // c.slices


def parameter_net(c: ModelConfig, i: int) -> tuple[Layer, ...]:
    """Slice i's parameter network, integer: its input is the hyper features then slices 0..i-1 in order; its output
    the means, then the scale indexes."""
    width, channels = c.context_width, slice_channels(c)
    return (Layer(c.hyper_width + i * channels, width, 3), Layer(width, width, 1),
            Layer(width, 2 * channels, 3, activation=False))


def residual_net(c: ModelConfig, i: int) -> tuple[Layer, ...]:
    """Slice i's latent residual prediction, integer: its input is parameter_net(c, i)'s, then slice i itself."""
    width, channels = c.context_width, slice_channels(c)
    return (Layer(c.hyper_width + (i + 1) * channels, width, 3), Layer(width, channels, 3, activation=False))


def synthesis(c: ModelConfig) -> tuple[Layer, ...]:
    """g_s, float: M -> N -> N -> N -> 3, an inverse GDN after every layer but the last."""
    up = {"stride": 2, "transpose": True}
    return (Layer(c.M, c.N, 5, **up), Layer(c.N, c.N, 5, **up), Layer(c.N, c.N, 5, **up),
            Layer(c.N, 3, 5, **up, activation=False))


def named_tensor(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The named tensor of a model file, which must have this shape; ValueError otherwise (the caller names the
    file)."""
    if name not in tensors:
        raise ValueError(f"tensor {name} is missing")
    value = tensors[name]
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"tensor {name} has shape {tuple(value.shape)}, the architecture needs {tuple(shape)}")
    return value


class FloatNetwork:
    """A float32 numpy network of a layer list: g_a with GDN (``activation="gdn"``), g_s with inverse GDN ("igdn"),
    h_a with leaky ReLU ("leaky"). Its tensors are named as the torch module's (``aec.transforms``), each activation
    counting as a layer."""

    def __init__(self, tensors: dict[str, np.ndarray], name: str, layers: tuple[Layer, ...], activation: str):
        self.layers: list = []
        for layer in layers:
            prefix = f"{name}.{len(self.layers)}"
            weight = named_tensor(tensors, f"{prefix}.weight", layer.weight_shape).astype(np.float32)
            bias = named_tensor(tensors, f"{prefix}.bias", (layer.outputs,)).astype(np.float32)
            self.layers.append(ConvTranspose(weight, bias) if layer.transpose else Conv(weight, bias, layer.stride))
            if not layer.activation:
                continue
            if activation == "leaky":
                self.layers.append(lambda x: leaky_relu(x, LEAKY_SLOPE))
                continue
            prefix, channels = f"{name}.{len(self.layers)}", layer.outputs
            gamma = named_tensor(tensors, f"{prefix}.gamma", (channels, channels)).astype(np.float32)
            beta = named_tensor(tensors, f"{prefix}.beta", (channels,)).astype(np.float32)
            self.layers.append(GDN.from_stored(gamma, beta, inverse=activation == "igdn"))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return in_turn(self.layers, x, costs(self.layers, x.shape))  # progress: each layer by its multiply-adds
