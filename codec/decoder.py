"""The decoder without torch: a model file's tensors, in numpy, from .aec payloads to pixels.

``aec decompress`` and ``Codec.decode`` run this, so decoding never imports torch (about 1.2 s of a decode's process
start here) and needs only numpy, constriction and safetensors:

    ZHYP, YLAT --[ExactLatentPath: h_s, slices, range decoder]--> y_hat --* inverse_gain[q]--> --Synthesis (g_s)--> x_hat

The probability path is ``aec.exact``, the same code the encoder runs, so every file decodes to the same symbols on
every machine. The synthesis is float32 as in torch (``aec.model``'s g_s), summed in another order, so its pixels may
differ from torch's by one level at rare positions (measured: ``tests/codec/test_decoder.py``); the format does not
promise more (docs/bitstream.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import architecture
from .bitstream.entropy import CategoricalTables
from .config import ModelConfig
from .errors import ModelMismatchError
from .exact import ExactLatentPath, IntegerLayer, IntegerNetwork
from .manifest import WEIGHTS_DIR, checked_model_file, locate_model
from .ops import GDN, Conv, ConvTranspose
from .progress import part, shares
from .tiling import tiled
from .timing import stage

__all__ = ["STRIDE", "LATENT_STRIDE", "Decoder", "load_decoder"]

STRIDE = 64  # total stride of g_a (16) followed by h_a (4): images are padded to a multiple of it
LATENT_STRIDE = 16
# The synthesis runs in overlapping tiles (in latent pixels) so that memory stays bounded on big photos; the margin
# covers g_s's receptive-field radius, under 2 latent px. A 32-pixel tile recomputes about a quarter.
SYNTHESIS_TILE, SYNTHESIS_MARGIN = 32, 2
# Each stage's share of an image's decoding time, for progress (aec.progress): milliseconds per Kodak image on one
# thread (benchmarks/results/speed.md).
DECODE_MS = {"latents": 307.0, "g_s": 325.0}

ARCHITECTURE = "aec-channel-slice-v1"


def _integer_network(tensors: dict[str, np.ndarray], prefix: str,
                     layers: Sequence[architecture.Layer]) -> IntegerNetwork:
    return IntegerNetwork([IntegerLayer(_tensor(tensors, f"{prefix}.{i}.weight_int", layer.weight_shape),
                                        _tensor(tensors, f"{prefix}.{i}.bias_int", (layer.outputs,)),
                                        layer.transpose, layer.activation)
                           for i, layer in enumerate(layers)])


def _tensor(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The named tensor, which must have this shape; ValueError otherwise (the caller names the file)."""
    if name not in tensors:
        raise ValueError(f"tensor {name} is missing")
    value = tensors[name]
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"tensor {name} has shape {tuple(value.shape)}, the architecture needs {tuple(shape)}")
    return value


class Synthesis:
    """g_s in numpy float32 (``architecture.synthesis``): transposed convolutions with inverse GDN between them. Its
    tensors are named as the torch module's (``aec.transforms.synthesis``), each GDN counting as a layer."""

    def __init__(self, tensors: dict[str, np.ndarray], config: ModelConfig):
        self.layers: list = []
        for layer in architecture.synthesis(config):
            name = f"g_s.{len(self.layers)}"
            weight = _tensor(tensors, f"{name}.weight", layer.weight_shape).astype(np.float32)
            bias = _tensor(tensors, f"{name}.bias", (layer.outputs,)).astype(np.float32)
            self.layers.append((ConvTranspose if layer.transpose else Conv)(weight, bias))
            if layer.activation:
                name, channels = f"g_s.{len(self.layers)}", layer.outputs
                gamma = _tensor(tensors, f"{name}.gamma", (channels, channels)).astype(np.float32)
                beta = _tensor(tensors, f"{name}.beta", (channels,)).astype(np.float32)
                self.layers.append(GDN.from_stored(gamma, beta, inverse=True))

    def __call__(self, y: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            y = layer(y)
        return y


class Decoder:
    """One model's decoding state, built from its file's tensors (the names of ``AECModel.file_state_dict``) and
    checked against its config: the exact probability path, the inverse gains and the synthesis."""

    def __init__(self, config: ModelConfig, tensors: dict[str, np.ndarray], latents: ExactLatentPath | None = None):
        """``latents``: the exact path already built from these tensors (``AECModel.decoder`` passes its own)."""
        c = self.config = config
        self.latents = latents or ExactLatentPath(
            _integer_network(tensors, "h_s", architecture.hyper_synthesis(c)),
            [_integer_network(tensors, f"context.params.{i}", architecture.parameter_net(c, i))
             for i in range(c.slices)],
            [_integer_network(tensors, f"context.residuals.{i}", architecture.residual_net(c, i))
             for i in range(c.slices)],
            _tensor(tensors, "scale_table", (c.scale_levels,)),
            CategoricalTables(_tensor(tensors, "prior.counts", (c.Z, 2 * c.z_support + 2)).astype(np.int64),
                              _tensor(tensors, "prior.offsets", (c.Z,)).astype(np.int64)))
        self.log_inverse_gains = _tensor(tensors, "log_inverse_gains", (len(c.lambdas), c.M)).astype(np.float32)
        self.synthesis = Synthesis(tensors, c)
        self.latents.check_exact()

    def inverse_gain(self, quality: float) -> np.ndarray:
        """The inverse gain (M,) at a model quality: log-linear between the trained ones (``ModelConfig.interpolation``,
        as ``AECModel.gains`` has it)."""
        low, high, t = self.config.interpolation(quality)
        table = self.log_inverse_gains
        return np.exp(table[low] * np.float32(1 - t) + table[high] * np.float32(t))

    def decode(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
               checksum: int | None = None) -> np.ndarray:
        """Decode padded dimensions (multiples of 64) to a (3, height, width) float32 image in [0, 1]; FormatError for
        a corrupt payload (``ExactLatentPath.decode``)."""
        parts = shares(DECODE_MS)
        with part(*parts["latents"]):
            y_hat = self.latents.decode(z_payload, y_payload, height // LATENT_STRIDE, width // LATENT_STRIDE,
                                        checksum)
        y = (y_hat * self.inverse_gain(quality).astype(np.float64)[:, None, None]).astype(np.float32)
        with stage("g_s"), part(*parts["g_s"]):
            x_hat = tiled(self.synthesis, y, SYNTHESIS_TILE, SYNTHESIS_MARGIN, LATENT_STRIDE)
        return np.clip(x_hat, 0, 1, out=x_hat)


def decoder_from_file(path: Path, expected_sha256: str | None = None) -> tuple[Decoder, str, str]:
    """A model file's decoder, hash-checked when a hash is expected: (decoder, model id, sha256)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    digest, metadata = checked_model_file(path, expected_sha256)
    if metadata["architecture"] != ARCHITECTURE:
        raise ModelMismatchError(f"{path.name}: unknown architecture {metadata['architecture']!r} (this aec decodes "
                                 f"{ARCHITECTURE}); a newer aec may know it")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelMismatchError(f"{path.name} is not a valid .safetensors model file ({error})") from None
    try:
        decoder = Decoder(ModelConfig.from_dict(json.loads(metadata["config"])), tensors)
    except (ValueError, KeyError, TypeError) as error:
        raise ModelMismatchError(f"{path.name} does not match architecture {ARCHITECTURE!r}: {error}") from None
    return decoder, metadata["model_id"], digest


def load_decoder(model_id: str | None = None, directory: Path = WEIGHTS_DIR) -> tuple[Decoder, str, str]:
    """The decoder of a released model by id (the manifest's default when None), hash-checked: (decoder, id, sha256)."""
    model_id, entry = locate_model(model_id, directory)
    decoder, file_id, digest = decoder_from_file(Path(directory) / entry["file"], entry["sha256"])
    if file_id != model_id:
        raise ModelMismatchError(f"{entry['file']} holds model {file_id!r}, the manifest says {model_id!r}")
    return decoder, model_id, digest
