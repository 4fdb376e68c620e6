"""The decoder without torch: a model file's tensors, in numpy, from .aec payloads to pixels.

``aec decompress`` and ``Codec.decode`` run this, so decoding never imports torch (about 1.2 s of a decode's process
start here) and needs only numpy, constriction and safetensors:

    ZHYP, YLAT --[ExactLatentPath: h_s, slices, range decoder]--> y_hat --* inverse_gain[q]--> --g_s--> x_hat

The probability path is ``aec.exact``, the same code the encoder runs, so every file decodes to the same symbols on
every machine. The synthesis is float32 as in torch (``aec.model``'s g_s), summed in another order, so its pixels may
differ from torch's by one level at rare positions (measured: ``tests/codec/test_decoder.py``); the format does not
promise more (docs/bitstream.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import architecture
from .architecture import LATENT_STRIDE, STRIDE, FloatNetwork, named_tensor
from .bitstream.entropy import CategoricalTables
from .config import ModelConfig
from .encoder import Encoder
from .errors import ModelMismatchError
from .exact import ExactLatentPath, IntegerLayer, IntegerNetwork
from .manifest import WEIGHTS_DIR, checked_model_file, locate_model, model_config
from .progress import part, shares
from .tiling import tiled
from .timing import stage

__all__ = ["STRIDE", "LATENT_STRIDE", "Decoder", "coders_from_file", "decoder_from_file", "decoder_side_bytes",
           "load_coders", "load_decoder"]

# The synthesis runs in overlapping tiles (in latent pixels) so that memory stays bounded on big photos; the margin
# covers g_s's receptive-field radius, under 2 latent px. A 32-pixel tile recomputes about a quarter.
SYNTHESIS_TILE, SYNTHESIS_MARGIN = 32, 2
# Each stage's share of an image's decoding time, for progress (aec.progress): milliseconds per Kodak image on one
# thread on an idle machine (benchmarks/results/speed.md, r7: z and y coding, h_s and the slices 310, the numpy g_s 594;
# torch's g_s, which AECModel.decompress runs, took about 325).
DECODE_MS = {"latents": 310.0, "g_s": 594.0}

ARCHITECTURE = "aec-channel-slice-v1"


def _integer_network(tensors: dict[str, np.ndarray], prefix: str,
                     layers: Sequence[architecture.Layer]) -> IntegerNetwork:
    return IntegerNetwork([IntegerLayer(named_tensor(tensors, f"{prefix}.{i}.weight_int", layer.weight_shape),
                                        named_tensor(tensors, f"{prefix}.{i}.bias_int", (layer.outputs,)),
                                        layer.transpose, layer.activation)
                           for i, layer in enumerate(layers)])


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
            named_tensor(tensors, "scale_table", (c.scale_levels,)),
            CategoricalTables(named_tensor(tensors, "prior.counts", (c.Z, 2 * c.z_support + 2)).astype(np.int64),
                              named_tensor(tensors, "prior.offsets", (c.Z,)).astype(np.int64)))
        self.log_inverse_gains = named_tensor(tensors, "log_inverse_gains", (len(c.lambdas), c.M)).astype(np.float32)
        self.synthesis = FloatNetwork(tensors, "g_s", architecture.synthesis(c), "igdn")
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


def _read_model_file(path: Path, expected_sha256: str | None) -> tuple[ModelConfig, dict[str, np.ndarray], str, str]:
    """A model file's (config, tensors, model id, sha256), hash-checked when a hash is expected; ModelMismatchError
    for a file of another architecture or one that is not a model file."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    digest, metadata = checked_model_file(path, expected_sha256)
    if metadata["architecture"] != ARCHITECTURE:
        raise ModelMismatchError(f"{path.name}: unknown architecture {metadata['architecture']!r} (this aec decodes "
                                 f"{ARCHITECTURE}); a newer aec may know it")
    try:
        tensors = load_file(str(path))
        config = ModelConfig.from_dict(model_config(metadata, path))
    except (SafetensorError, OSError, ValueError, TypeError) as error:
        raise ModelMismatchError(f"{path.name} is not a valid .safetensors model file ({error})") from None
    for name, tensor in tensors.items():  # NaN or infinity would code, and decode, garbage without an error
        if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
            raise ModelMismatchError(f"{path.name} is not a valid model file: its tensor {name} holds NaN or "
                                     "infinite values")
    return config, tensors, metadata["model_id"], digest


def _built(path: Path, build):
    """build() with a file's tensors; a tensor the architecture does not find is a ModelMismatchError naming it."""
    try:
        return build()
    except (ValueError, KeyError, TypeError) as error:
        raise ModelMismatchError(f"{Path(path).name} does not match architecture {ARCHITECTURE!r}: {error}") from None


def decoder_from_file(path: Path, expected_sha256: str | None = None) -> tuple[Decoder, str, str]:
    """A model file's decoder, hash-checked when a hash is expected: (decoder, model id, sha256)."""
    config, tensors, model_id, digest = _read_model_file(path, expected_sha256)
    return _built(path, lambda: Decoder(config, tensors)), model_id, digest


def coders_from_file(path: Path, expected_sha256: str | None = None) -> tuple[Decoder, Encoder, str, str]:
    """A model file's decoder and one-pass encoder (``aec.encoder``), which share its exact path, from one reading:
    (decoder, encoder, model id, sha256)."""
    config, tensors, model_id, digest = _read_model_file(path, expected_sha256)
    decoder = _built(path, lambda: Decoder(config, tensors))
    return decoder, _built(path, lambda: Encoder(config, tensors, decoder.latents)), model_id, digest


# What the decoder reads of a model file (``Decoder``): the rest (g_a, h_a, the training-only tensors) encodes only.
DECODER_PREFIXES = ("h_s.", "context.", "g_s.")
DECODER_NAMES = ("scale_table", "prior.counts", "prior.offsets", "log_inverse_gains")


def decoder_side_bytes(path: Path) -> int:
    """The bytes of the tensors a model file's decoder reads, from the file's header (no tensor is loaded): what a
    kept model costs every later release (docs/bitstream.md, "Files of earlier releases")."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(path), framework="numpy") as handle:
        for name in handle.keys():
            if name.startswith(DECODER_PREFIXES) or name in DECODER_NAMES:
                tensor = handle.get_slice(name)
                total += int(np.prod(tensor.get_shape())) * _DTYPE_BYTES[tensor.get_dtype()]
    return total


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _released_file(model_id: str | None, directory: Path) -> tuple[str, Path, str]:
    """(id, file, sha256) of a released model by id (the manifest's default when None)."""
    model_id, entry = locate_model(model_id, directory)
    return model_id, Path(directory) / entry["file"], entry["sha256"]


def _same_id(model_id: str, file_id: str, path: Path) -> None:
    if file_id != model_id:
        raise ModelMismatchError(f"{path.name} holds model {file_id!r}, the manifest says {model_id!r}")


def load_decoder(model_id: str | None = None, directory: Path = WEIGHTS_DIR) -> tuple[Decoder, str, str]:
    """The decoder of a released model by id (the manifest's default when None), hash-checked: (decoder, id, sha256)."""
    model_id, path, expected = _released_file(model_id, directory)
    decoder, file_id, digest = decoder_from_file(path, expected)
    _same_id(model_id, file_id, path)
    return decoder, model_id, digest


def load_coders(model_id: str | None = None, directory: Path = WEIGHTS_DIR) -> tuple[Decoder, Encoder, str, str]:
    """A released model's decoder and encoder (``coders_from_file``) by id: (decoder, encoder, id, sha256)."""
    model_id, path, expected = _released_file(model_id, directory)
    decoder, encoder, file_id, digest = coders_from_file(path, expected)
    _same_id(model_id, file_id, path)
    return decoder, encoder, model_id, digest
