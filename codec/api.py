"""The Python API: `compress(image, quality=...) -> bytes`, `decompress(data) -> PIL.Image`, on a reusable `Codec`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from bitstream import (DEFAULT_MAX_PIXELS, FormatError, Header, InputError, ModelMismatchError, Section, pack,
                       parse)
from bitstream import read_header as _read_header

from .model import STRIDE, AECModel
from .weights import WEIGHTS_DIR, load_model, load_model_file

ImageLike = Union[str, os.PathLike, BinaryIO, Image.Image, np.ndarray]
DataLike = Union[bytes, bytearray, memoryview, str, os.PathLike, BinaryIO]
DEFAULT_QUALITY = None  # the model's default_quality (4 of 1..6 for the shipped model)


@dataclass(frozen=True)
class EncodeResult:
    """One compressed image: the bytes, their header and the rate."""

    data: bytes
    header: Header
    bits_per_pixel: float
    estimated_bits: float


def _read_bytes(data: DataLike) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        try:
            return Path(data).read_bytes()
        except OSError as error:
            raise InputError(f"cannot read {data}: {error.strerror or error}") from None
    if hasattr(data, "read"):
        return data.read()
    raise InputError(f"expected bytes, a path or a binary file, got {type(data).__name__}")


def _load_image(image: ImageLike, max_pixels: int) -> np.ndarray:
    """Any supported input as an HxWx3 uint8 array, EXIF orientation applied."""
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise InputError(f"expected an HxWx3 uint8 array, got shape {array.shape} dtype {array.dtype}")
        if array.shape[0] * array.shape[1] == 0:
            raise InputError("the image is empty (0 pixels)")
    else:
        if isinstance(image, Image.Image):
            pil = image
        else:
            name = image if isinstance(image, (str, os.PathLike)) else getattr(image, "name", "input")
            try:
                pil = Image.open(image)
                if pil.width * pil.height > max_pixels:
                    raise InputError(f"{name}: {pil.width}x{pil.height} exceeds the pixel limit of {max_pixels}; "
                                     "raise it with max_pixels (CLI: --max-pixels)")
                pil.load()
            except FileNotFoundError:
                raise InputError(f"{name}: no such file") from None
            except UnidentifiedImageError:
                raise InputError(f"{name}: not a readable image (not a format Pillow can read)") from None
            except (Image.DecompressionBombError, OSError, SyntaxError) as error:
                raise InputError(f"{name}: not a readable image ({error})") from None
        pil = ImageOps.exif_transpose(pil)
        if pil.mode != "RGB":
            pil = pil.convert("RGBA").convert("RGB") if "A" in pil.getbands() or pil.mode == "P" else \
                pil.convert("RGB")
        array = np.array(pil)
    if array.shape[0] * array.shape[1] > max_pixels:
        raise InputError(f"{array.shape[1]}x{array.shape[0]} exceeds the pixel limit of {max_pixels}")
    return np.ascontiguousarray(array)


class Codec:
    """Loads a model once and codes many images with it; thread-safe (one image at a time)."""

    def __init__(self, model_id: str | None = None, *, weights: str | os.PathLike | None = None,
                 device: str | torch.device = "cpu", max_pixels: int | None = None):
        self.device = torch.device(device)
        self.max_pixels = max_pixels or DEFAULT_MAX_PIXELS
        if weights is not None:
            model, self.model_id, digest = load_model_file(Path(weights))
        else:
            model, self.model_id, digest = load_model(model_id)
        self._models: dict[str, tuple[AECModel, bytes]] = {self.model_id: (model, bytes.fromhex(digest[:8]))}
        self._from_file = weights is not None
        self._lock = threading.Lock()

    @property
    def model(self) -> AECModel:
        return self._models[self.model_id][0]

    @property
    def qualities(self) -> tuple[float, ...]:
        return self.model.config.qualities

    @property
    def quality_range(self) -> tuple[float, float]:
        return self.qualities[0], self.qualities[-1]

    def _model_for(self, header: Header) -> AECModel:
        if header.model_id not in self._models:
            if self._from_file:
                raise ModelMismatchError(f"the file was written with model {header.model_id!r}, "
                                         f"but this codec holds only {self.model_id!r}")
            model, model_id, digest = load_model(header.model_id)
            self._models[model_id] = (model, bytes.fromhex(digest[:8]))
        model, tag = self._models[header.model_id]
        if tag != header.weights_tag:
            raise ModelMismatchError(f"the file was written with other weights for model {header.model_id!r} "
                                     f"(tag {header.weights_tag.hex()}, installed {tag.hex()})")
        return model

    @property
    def default_quality(self) -> float:
        return self.model.config.default_quality

    def encode(self, image: ImageLike, quality: float | None = DEFAULT_QUALITY) -> EncodeResult:
        """Compress and return the bytes with their header and rate."""
        low, high = self.quality_range
        if quality is None:
            quality = self.default_quality
        try:
            quality = float(quality)
        except (TypeError, ValueError):
            raise InputError(f"quality must be a number in [{low:g}, {high:g}], got {quality!r}") from None
        if not low <= quality <= high:  # also refuses NaN
            raise InputError(f"quality {quality:g} is outside the model's range [{low:g}, {high:g}]")
        quality = round(quality * 100) / 100  # the header stores hundredths; code what the decoder will use
        array = _load_image(image, self.max_pixels)
        height, width = array.shape[:2]
        x = torch.from_numpy(array if array.flags.writeable else array.copy()).permute(2, 0, 1).unsqueeze(0).float().div(255).to(self.device)
        x = F.pad(x, (0, (-width) % STRIDE, 0, (-height) % STRIDE), mode="replicate")
        model, tag = self._models[self.model_id]
        with self._lock:
            coded = model.compress(x, quality)
        header = Header(model_id=self.model_id, weights_tag=tag, quality=quality, width=width, height=height,
                        layout="RGB", symbol_checksum=coded.checksum)
        data = pack(header, [Section("ZHYP", coded.z_payload), Section("YLAT", coded.y_payload)])
        return EncodeResult(data, header, 8 * len(data) / (width * height), coded.estimated_bits)

    def compress(self, image: ImageLike, quality: float | None = DEFAULT_QUALITY) -> bytes:
        """Compress an image (path, file, PIL image or HxWx3 uint8 array) to .aec bytes."""
        return self.encode(image, quality).data

    def decompress_array(self, data: DataLike) -> np.ndarray:
        """Decode .aec bytes (or a path or file) to an HxWx3 uint8 array."""
        header, sections = parse(_read_bytes(data), max_pixels=self.max_pixels)
        payloads = {s.kind: s.payload for s in sections}
        missing = {"ZHYP", "YLAT"} - set(payloads)
        if missing:
            raise FormatError(f"the file lacks its {', '.join(sorted(missing))} section")
        model = self._model_for(header)
        height = header.height + (-header.height) % STRIDE
        width = header.width + (-header.width) % STRIDE
        with self._lock:
            x_hat = model.decompress(payloads["ZHYP"], payloads["YLAT"], header.quality, height, width,
                                     header.symbol_checksum, self.device)
        x_hat = x_hat[0, :, :header.height, :header.width]
        return torch.round(x_hat * 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()

    def decompress(self, data: DataLike) -> Image.Image:
        """Decode .aec bytes (or a path or file) to a PIL image."""
        return Image.fromarray(self.decompress_array(data), "RGB")


_default: Codec | None = None
_default_lock = threading.Lock()


def default_codec() -> Codec:
    """The shipped default model, loaded once per process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Codec()
        return _default


def compress(image: ImageLike, quality: float | None = DEFAULT_QUALITY) -> bytes:
    """Compress an image with the default model."""
    return default_codec().compress(image, quality)


def decompress(data: DataLike) -> Image.Image:
    """Decode .aec data to a PIL image (loads the model the file names)."""
    return default_codec().decompress(data)


def decompress_array(data: DataLike) -> np.ndarray:
    """Decode .aec data to an HxWx3 uint8 array."""
    return default_codec().decompress_array(data)


def read_header(data: DataLike) -> Header:
    """The header of .aec data, without decoding the image."""
    return _read_header(_read_bytes(data))


__all__ = ["Codec", "EncodeResult", "compress", "decompress", "decompress_array", "read_header",
           "DEFAULT_QUALITY", "WEIGHTS_DIR"]
