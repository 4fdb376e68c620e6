"""The decoder side of the channel-slice architecture, layer by layer, written once and read by both implementations.

The torch modules (``aec.transforms``, ``aec.context``: training and encoding) and the numpy decoder (``aec.decoder``)
build their networks from these lists, so a layer's shape, its place in the file and the order of its channels are
stated in one place; a second architecture adds its own lists here. Torch-free.

    h_s:            z_hat (Z) -> hyper features (hyper_width), integer, two stride-2 transposed layers
    params[i]:      hyper + y_hat_0..i-1 -> mean and scale index of slice i (2 x M / slices), integer
    residuals[i]:   hyper + y_hat_0..i-1 + slice i -> its latent residual prediction (M / slices), integer
    g_s:            y_hat (M) -> pixels (3), float, four stride-2 transposed 5x5 layers with inverse GDN between
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ModelConfig

__all__ = ["Layer", "hyper_synthesis", "parameter_net", "residual_net", "slice_channels", "synthesis"]


@dataclass(frozen=True)
class Layer:
    """One convolution: stride 1 with zero padding kernel // 2, or (``transpose``) stride 2 transposed with output
    padding 1, so its output is exactly twice its input. ``activation``: an integer layer's bounded ReLU, or in g_s
    the inverse GDN that follows the layer."""

    inputs: int
    outputs: int
    kernel: int
    transpose: bool = False
    activation: bool = True

    @property
    def stride(self) -> int:
        return 2 if self.transpose else 1

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """The weight tensor's shape as torch stores it: (in, out, k, k) transposed, (out, in, k, k) otherwise."""
        k = self.kernel
        return (self.inputs, self.outputs, k, k) if self.transpose else (self.outputs, self.inputs, k, k)


def hyper_synthesis(c: ModelConfig) -> tuple[Layer, ...]:
    """h_s, integer: total stride 4, to the latent's resolution."""
    return (Layer(c.Z, c.N, 5, transpose=True), Layer(c.N, c.N, 5, transpose=True), Layer(c.N, c.hyper_width, 3))


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
    return (Layer(c.M, c.N, 5, transpose=True), Layer(c.N, c.N, 5, transpose=True), Layer(c.N, c.N, 5, transpose=True),
            Layer(c.N, 3, 5, transpose=True, activation=False))
