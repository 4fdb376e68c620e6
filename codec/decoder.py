"""Model files to numpy coders, without torch: ``decompress`` and effort-0 ``compress`` load their models here.

A model file names its architecture; the architecture registered under that name (``aec.registry``) builds the
decoder and the encoder of the file's tensors, so decoding never imports torch (about 1.2 s of a decode's process
start here) and needs only numpy, constriction and safetensors. The shipped architecture's coders are in
``aec.channel_slice``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .architecture import Architecture, NumpyDecoder, NumpyEncoder
from .errors import ModelMismatchError
from .manifest import (DECODER_ONLY_KEY, WEIGHTS_DIR, check_encodes, locate_model, model_config,
                       read_checked_model_file, shipped_sha256)
from .registry import architecture as registered

__all__ = ["coders_from_file", "decoder_from_file", "decoder_side_bytes", "load_coders", "load_decoder",
           "read_model_file"]


def read_model_file(path: Path, expected_sha256: str | None = None, encodes: bool = False
                    ) -> tuple[Architecture, object, dict[str, np.ndarray], str, str]:
    """A model file's (architecture, config, tensors, model id, sha256), hash-checked when a hash is expected;
    ModelMismatchError for a file of an architecture this aec does not know or one that is not a model file, and
    with ENCODES for a file that holds a decoder side alone (``tools/release.py --decoder-only``)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    digest, metadata, data = read_checked_model_file(path, expected_sha256)
    if encodes and DECODER_ONLY_KEY in metadata:
        raise ModelMismatchError(f"{path.name} holds the decoder side of model {metadata.get('model_id')!r} alone: it "
                                 "decodes files but cannot encode")
    entry = architecture_of(metadata["architecture"], path)
    try:
        tensors = load(data)
        config = entry.read_config(model_config(metadata, path))
    except (SafetensorError, OSError, ValueError, TypeError) as error:
        raise ModelMismatchError(f"{path.name} is not a valid .safetensors model file ({error})") from None
    for name, tensor in tensors.items():  # NaN or infinity would code, and decode, garbage without an error
        if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
            raise ModelMismatchError(f"{path.name} is not a valid model file: its tensor {name} holds NaN or "
                                     "infinite values")
    return entry, config, tensors, metadata["model_id"], digest


def architecture_of(name: str, path: Path) -> Architecture:
    """The registered architecture of a model file's name; ModelMismatchError for one this aec does not know."""
    try:
        return registered(name)
    except KeyError as error:
        raise ModelMismatchError(f"{Path(path).name}: {error.args[0]}; a newer aec may know it") from None


def _built(path: Path, entry: Architecture, build):
    """build() with a file's tensors; a tensor the architecture does not find is a ModelMismatchError naming it."""
    try:
        return build()
    except (ValueError, KeyError, TypeError) as error:
        raise ModelMismatchError(f"{Path(path).name} does not match architecture {entry.name!r}: {error}") from None


def decoder_from_file(path: Path, expected_sha256: str | None = None) -> tuple[NumpyDecoder, str, str]:
    """A model file's decoder, hash-checked when a hash is expected: (decoder, model id, sha256)."""
    entry, config, tensors, model_id, digest = read_model_file(path, expected_sha256)
    return _built(path, entry, lambda: entry.decoder(config, tensors)), model_id, digest


def coders_from_file(path: Path, expected_sha256: str | None = None) -> tuple[NumpyDecoder, NumpyEncoder, str, str]:
    """A model file's decoder and one-pass encoder, which share what they can, from one reading:
    (decoder, encoder, model id, sha256)."""
    entry, config, tensors, model_id, digest = read_model_file(path, expected_sha256, encodes=True)
    decoder = _built(path, entry, lambda: entry.decoder(config, tensors))
    return decoder, _built(path, entry, lambda: entry.encoder(config, tensors, decoder)), model_id, digest


def decoder_side_bytes(path: Path) -> int:
    """The bytes of the tensors a model file's decoder reads, from the file's header (no tensor is loaded): what a
    kept model costs every later release (docs/bitstream.md, "Files of earlier releases")."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(path), framework="numpy") as handle:
        entry = architecture_of(handle.metadata()["architecture"], path)
        for name in handle.keys():
            if entry.is_decoder_tensor(name):
                tensor = handle.get_slice(name)
                total += int(np.prod(tensor.get_shape())) * _DTYPE_BYTES[tensor.get_dtype()]
    return total


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _released_file(model_id: str | None, directory: Path) -> tuple[str, Path, str, str, dict]:
    """(id, file, the file's sha256, the released weights' sha256, manifest entry) of a released model by id (the
    manifest's default when None); the two hashes differ for a model that ships its decoder side alone."""
    model_id, entry = locate_model(model_id, directory)
    return model_id, Path(directory) / entry["file"], shipped_sha256(entry), entry["sha256"], entry


def _same_id(model_id: str, file_id: str, path: Path) -> None:
    if file_id != model_id:
        raise ModelMismatchError(f"{path.name} holds model {file_id!r}, the manifest says {model_id!r}")


def load_decoder(model_id: str | None = None, directory: Path = WEIGHTS_DIR) -> tuple[NumpyDecoder, str, str]:
    """The decoder of a released model by id (the manifest's default when None), hash-checked: (decoder, id, the
    released weights' sha256, whose first bytes are its files' weights tag)."""
    model_id, path, expected, released, _ = _released_file(model_id, directory)
    decoder, file_id, _ = decoder_from_file(path, expected)
    _same_id(model_id, file_id, path)
    return decoder, model_id, released


def load_coders(model_id: str | None = None,
                directory: Path = WEIGHTS_DIR) -> tuple[NumpyDecoder, NumpyEncoder, str, str]:
    """A released model's decoder and encoder (``coders_from_file``) by id: (decoder, encoder, id, sha256);
    ModelMismatchError for a model that ships its decoder side alone."""
    model_id, path, expected, _, entry = _released_file(model_id, directory)
    check_encodes(model_id, entry)
    decoder, encoder, file_id, digest = coders_from_file(path, expected)
    _same_id(model_id, file_id, path)
    return decoder, encoder, model_id, digest
