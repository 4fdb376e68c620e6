"""What an architecture is, and the torch-free pieces architectures build their numpy coders from.

An architecture is one object (``Architecture``), registered under the stable name that its model files carry
(``aec.registry``). It owns its layer lists and tensor names, builds the numpy decoder and encoder of a model file's
tensors, and builds its torch training module (importing torch only then). The API, the trainer and the model files
dispatch on the name; nothing above an architecture knows its layers. The shipped one is ``aec.channel_slice``.

The pieces here are shared by architectures: ``Layer`` (one convolution of a layer list), ``named_tensor`` (a
model file's tensor of a required shape), ``FloatNetwork`` (a float32 numpy network of a layer list) and
``integer_network`` (an integer network of ``aec.exact`` from a layer list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .exact import IntegerLayer, IntegerNetwork
from .ops import GDN, Conv, ConvTranspose, costs, leaky_relu
from .progress import in_turn

__all__ = ["LEAKY_SLOPE", "Architecture", "Coded", "FloatNetwork", "Layer", "NumpyDecoder", "NumpyEncoder",
           "integer_network", "named_tensor"]

LEAKY_SLOPE = 0.01  # a leaky ReLU's slope (torch's default)


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

    @classmethod
    def of_steps(cls, steps: list) -> "FloatNetwork":
        """A network of these callables in turn (layers, activations, a quality's modulations: ``aec.conditional``)."""
        network = cls.__new__(cls)
        network.layers = list(steps)
        return network

    def at(self, quality: float) -> "FloatNetwork":
        """The network at a model quality: itself (``aec.conditional``'s networks depend on it)."""
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return in_turn(self.layers, x, costs(self.layers, x.shape))  # progress: each layer by its multiply-adds


def integer_network(tensors: dict[str, np.ndarray], prefix: str, layers: Sequence[Layer]) -> IntegerNetwork:
    """The frozen integer network of a layer list from a model file's ``{prefix}.{i}.weight_int`` / ``bias_int``."""
    return IntegerNetwork([IntegerLayer(named_tensor(tensors, f"{prefix}.{i}.weight_int", layer.weight_shape),
                                        named_tensor(tensors, f"{prefix}.{i}.bias_int", (layer.outputs,)),
                                        layer.transpose, layer.activation)
                           for i, layer in enumerate(layers)])


class Coded(Protocol):
    """An encoder's result: the two payloads of a file (ZHYP, YLAT), the symbols' checksum and the estimated bits."""

    z_payload: bytes
    y_payload: bytes
    checksum: int
    estimated_bits: float


class NumpyDecoder(Protocol):
    """What the API decodes with (torch-free): pixels of padded dimensions (multiples of ``stride``)."""

    config: Any
    stride: int

    def decode(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
               checksum: int | None = None, *, major: int = 2) -> np.ndarray:
        """(3, height, width) float32 in [0, 1] of a file of format ``major``; FormatError for a corrupt payload."""

    def decode_rgb(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
                   checksum: int | None = None, *, major: int = 2) -> np.ndarray:
        """``decode``'s pixels as the picture: uint8 (height, width, 3), ``aec.ops.to_uint8`` of each, which the API
        writes (a decoder may convert part by part rather than make the float picture whole)."""


class NumpyEncoder(Protocol):
    """What the API encodes with at effort 0 on the CPU (torch-free)."""

    config: Any
    stride: int

    def compress(self, rgb: np.ndarray, quality: float) -> Coded:
        """Code a uint8 (H, W, 3) image whose sides are multiples of ``stride`` at a model quality."""


class Architecture:
    """One architecture: a stable name, its config class, and what it builds. Subclass it in the architecture's
    module and register an instance (``aec.registry.register``); a file written under the name must keep loading,
    so a change of layout or semantics takes a new name.

    The torch training module (``training_module``) trains, refines (``compress(x, quality, iterations, valid)``,
    for efforts above 0) and is exported by ``aec.model_files.save_model``: it has ``architecture`` (the name),
    ``config``, ``forward(x, quality, rounding=None)`` giving ``x_hat``, ``y_bits`` and ``z_bits``,
    ``lambdas_for(quality)``, ``encoder_parameters()``, ``freeze()``, ``check_exact()``, ``file_key(name)`` and
    ``file_state_dict()``.
    """

    name: str
    config_class: type
    stride: int  # images are padded to a multiple of it

    def read_config(self, data: dict) -> Any:
        """The config of a model file's (or checkpoint's) dict; ValueError or TypeError for one no model can have."""
        return self.config_class.from_dict(data)

    def is_decoder_tensor(self, name: str) -> bool:
        """Whether the decoder reads this tensor of a model file (the rest encodes, or trains, only)."""
        raise NotImplementedError

    def decoder(self, config: Any, tensors: dict[str, np.ndarray]) -> NumpyDecoder:
        """The numpy decoder of a model file's tensors; ValueError, KeyError or TypeError naming a tensor that does
        not fit."""
        raise NotImplementedError

    def encoder(self, config: Any, tensors: dict[str, np.ndarray], decoder: NumpyDecoder) -> NumpyEncoder:
        """The numpy one-pass encoder of the same tensors, sharing what it can with their decoder."""
        raise NotImplementedError

    def training_module(self, config: Any) -> Any:
        """A new torch module of this architecture (imports torch)."""
        raise NotImplementedError
