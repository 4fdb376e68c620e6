"""Images in and out: every input a user has becomes the RGB planes the model codes plus lossless side sections.

    L, 1, I;16, I, F      -> layout "L": gray, coded as R=G=B, decoded back to one channel
    LA, La                -> layout "LA": gray plus alpha
    RGB, CMYK, YCbCr, ... -> layout "RGB"
    RGBA, RGBa, P (with transparency), PA -> layout "RGBA"

Alpha is stored losslessly (zlib) in an ALPH section; the ICC profile and the EXIF block travel verbatim in
ICCP and EXIF sections (unless stripped). EXIF orientation is applied before coding, and the orientation tag removed
from the stored EXIF.

aec codes 8 bits a channel; wider input is converted by its real range, with a PrecisionWarning that names it, or
refused (InputError): 16-bit channels (gray, RGB, RGBA, LA; Pillow reduces the colour ones as it reads) are divided by
257; 32-bit integers (mode I) in 0..255 are taken as they are and in 0..65535 as 16-bit, others refused; 32-bit
floats (mode F) in [0, 1] are scaled by 255 and in [0, 255] rounded, others (and NaN or infinity) refused.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .bitstream import COMPRESSED_SECTIONS, FormatError, Section, padded_size
from .errors import InputError, PrecisionWarning
from .inputs import text_stream

ImageLike = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, Image.Image, np.ndarray]
EXPECTED_IMAGE = ("a path, an encoded image's bytes (PNG, JPEG, ...), a binary file object, a PIL image or a uint8 "
                  "numpy array")
ALPHA_SECTION, ICC_SECTION, EXIF_SECTION = "ALPH", "ICCP", "EXIF"
# The most an ICCZ or EXFZ section may inflate to: what aec reads of an input beyond its pixels (aec.inputs).
MAX_METADATA_BYTES = 64 << 20
_GRAY_MODES = {"1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
# A file's raw mode that stores 16 bits a channel ("BGR;16" is a whole pixel in 16 bits, 5-6-5).
_SIXTEEN_BIT_RAWMODE = re.compile(r"(?!BGR)[A-Za-z]+;16[BLN]?")
REDUCED = "16-bit image reduced to 8 bits per channel"
# Pillow's own pixel limit (Image.MAX_IMAGE_PIXELS: a warning over 89.5 M pixels, an error over twice that) is
# process-wide and belongs to the application: aec never sets it. It identifies an image as Image.open does but
# without that check (``open_header``), judges the size from the header by its own limit (max_pixels), and only then
# decodes the pixels.
_BOMB_SUFFIX = "could be decompression bomb DOS attack."
# What a folder of pictures (training data, the Kodak set, a benchmark's test images) may hold.
IMAGE_SUFFIXES = {".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"}


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder (by suffix, in any case; not subfolders), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


@dataclass(frozen=True)
class SourceImage:
    """What the codec codes: the RGB planes, the layout, and the lossless side data."""

    rgb: np.ndarray  # HxWx3 uint8
    layout: str
    alpha: np.ndarray | None = None  # HxW uint8
    icc_profile: bytes | None = None
    exif: bytes | None = None

    def side_sections(self) -> list[Section]:
        sections = []
        if self.alpha is not None:
            sections.append(Section(ALPHA_SECTION, zlib.compress(np.ascontiguousarray(self.alpha).tobytes(), 9)))
        for kind, block in ((ICC_SECTION, self.icc_profile), (EXIF_SECTION, self.exif)):
            if block:
                sections.append(_metadata_section(kind, block))
        return sections


def _metadata_section(kind: str, block: bytes) -> Section:
    """ICCP or EXIF verbatim, or zlib-compressed as ICCZ or EXFZ (format 1.1) when that is smaller."""
    compressed = zlib.compress(block, 9)
    if len(compressed) >= len(block):
        return Section(kind, block)
    return Section(next(z for z, plain in COMPRESSED_SECTIONS.items() if plain == kind), compressed)


def metadata(payloads: dict[str, bytes]) -> dict[str, bytes]:
    """The ICC profile and Exif block a file holds, as Pillow's info keys, from ICCP/EXIF or inflated ICCZ/EXFZ."""
    found = {}
    for key, kind in (("icc_profile", ICC_SECTION), ("exif", EXIF_SECTION)):
        compressed = next(z for z, plain in COMPRESSED_SECTIONS.items() if plain == kind)
        if kind in payloads:
            found[key] = payloads[kind]
        elif compressed in payloads:
            found[key] = _inflate(payloads[compressed], compressed)
    return found


def _inflate(payload: bytes, kind: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, MAX_METADATA_BYTES + 1)
    except zlib.error as error:
        raise FormatError(f"the {kind} section is corrupt ({error})") from None
    if len(raw) > MAX_METADATA_BYTES or inflater.unconsumed_tail:
        raise FormatError(f"the {kind} section inflates to over {MAX_METADATA_BYTES} bytes; the file is corrupt")
    if not inflater.eof or inflater.unused_data:
        raise FormatError(f"the {kind} section is not one whole zlib stream; the file is corrupt")
    return raw


def _warn(message: str) -> None:
    warnings.warn(message, PrecisionWarning, stacklevel=5)  # the caller of Codec.encode


def _reduce_16bit(values: np.ndarray, message: str = REDUCED) -> np.ndarray:
    _warn(message)
    return np.round(np.clip(values.astype(np.float64), 0, 65535) / 257).astype(np.uint8)


def _gray_to_8bit(values: np.ndarray, mode: str, sixteen_bit: bool) -> np.ndarray:
    """A plane of Pillow mode I;16*, I or F as uint8, by its real range (see the module docstring)."""
    if mode.startswith("I;16") or (mode == "I" and sixteen_bit):
        return _reduce_16bit(values)
    if mode == "F":
        if not np.isfinite(values).all():
            raise InputError("the image has NaN or infinite pixels (a 32-bit float image); aec codes 8-bit images")
        low, high = float(values.min()), float(values.max())
        if low >= 0 and high <= 1:
            _warn(f"32-bit float image with values in [0, 1] (here {low:g} to {high:g}) scaled to 8 bits")
            return np.round(values.astype(np.float64) * 255).astype(np.uint8)
        if low >= 0 and high <= 255:
            if not np.array_equal(values, np.round(values)):
                _warn(f"32-bit float image with values in [0, 255] (here {low:g} to {high:g}) rounded to 8 bits")
            return np.round(values).astype(np.uint8)
        raise InputError(f"32-bit float image with values from {low:g} to {high:g}: aec takes float images in [0, 1] "
                         "or [0, 255]; scale it first")
    low, high = int(values.min()), int(values.max())  # mode I: 32-bit integers
    if low >= 0 and high <= 255:
        return values.astype(np.uint8)
    if low >= 0 and high <= 65535:
        return _reduce_16bit(values, f"32-bit integer image with values up to {high} read as 16-bit and reduced to "
                                     "8 bits per channel")
    raise InputError(f"32-bit integer image with values from {low} to {high}: aec takes integer images in 0..255 "
                     "or 0..65535; scale it first")


def _has_16bit_channels(pil: Image.Image) -> bool:
    """Whether the file stores 16 bits a channel (read before load, from the tiles Pillow will decode)."""
    for tile in pil.tile:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        if args and isinstance(args[0], str) and _SIXTEEN_BIT_RAWMODE.fullmatch(args[0]):
            return True
        if tile.codec_name == "ppm" and len(args) > 1 and isinstance(args[1], int) and args[1] > 255:  # maxval
            return True
    return False


def _from_array(array: np.ndarray) -> SourceImage:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"expected an HxW, HxWx1, HxWx2, HxWx3 or HxWx4 array, got shape {array.shape}")
    if array.shape[0] * array.shape[1] == 0:
        raise InputError("the image is empty (0 pixels)")
    if array.dtype == np.uint16:
        array = _reduce_16bit(array)
    elif array.dtype != np.uint8:
        raise InputError(f"expected a uint8 (or uint16) array, got {array.dtype}")
    channels = array.shape[2]
    color = array[:, :, :3] if channels >= 3 else np.repeat(array[:, :, :1], 3, axis=2)
    alpha = array[:, :, -1] if channels in (2, 4) else None
    layout = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    return SourceImage(np.array(color, order="C"), layout, None if alpha is None else np.ascontiguousarray(alpha))


def _open(image: ImageLike, max_pixels: int) -> tuple[Image.Image, bool]:
    """The image, loaded, and whether its file has 16-bit channels; its size is judged from the header first."""
    name = image if isinstance(image, (str, os.PathLike)) else getattr(image, "name", "input")
    try:
        pil = open_header(image)
        try:
            if pil.format == "AEC":  # aec's own Pillow plugin read it: coding it again would stack a second loss
                raise InputError(f"{name}: already an .aec file; decompress it first")
            check_size(pil.width, pil.height, max_pixels, name)
            sixteen_bit = _has_16bit_channels(pil)
            pil.load()
        except BaseException:
            if pil._exclusive_fp:  # a file aec opened (a caller's stream stays the caller's)
                pil.close()
            raise
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except UnidentifiedImageError:
        raise InputError(f"{name}: not a readable image (not a format Pillow can read)") from None
    except Image.DecompressionBombError as error:
        # A plugin's own check as it reads (a GIF frame beyond its screen, a TIFF tile): Pillow's limit, which aec
        # does not change; within aec's, the image is not what its header says or is for the application to allow.
        raise InputError(f"{name}: refused by Pillow as it read the pixels ({str(error).replace(_BOMB_SUFFIX, '')}"
                         "a possible decompression bomb)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{name}: not a readable image ({error})") from None
    return pil, sixteen_bit


def open_header(image: ImageLike) -> Image.Image:
    """Image.open without its process-wide pixel check (``_BOMB_SUFFIX``): the format's plugin reads the header (size,
    mode, tiles) and nothing else; the caller judges the size by its own limit before loading the pixels."""
    if isinstance(image, (str, os.PathLike)):
        handle, exclusive = open(image, "rb"), True
    else:
        handle, exclusive = image, False
    try:
        try:
            handle.seek(0)
        except (AttributeError, io.UnsupportedOperation):
            handle, exclusive = io.BytesIO(handle.read()), True
        prefix = handle.read(16)
        if not isinstance(prefix, bytes):
            raise text_stream(image)
        filename = os.fspath(image) if isinstance(image, (str, os.PathLike)) else ""
        tried: set[str] = set()
        for loader in (Image.preinit, Image.init):  # the common plugins first, as Image.open tries them
            loader()
            for format_id in [f for f in Image.ID if f not in tried]:
                tried.add(format_id)
                factory, accept = Image.OPEN[format_id]
                try:
                    if accept and (not (accepted := accept(prefix)) or isinstance(accepted, str)):
                        continue
                    handle.seek(0)
                    found = factory(handle, filename)
                except (SyntaxError, IndexError, TypeError, struct.error):
                    continue  # not this format (Image.open's rule)
                found._exclusive_fp = exclusive  # closed after loading, as Image.open's files are
                return found
        raise UnidentifiedImageError(f"cannot identify image file {filename or handle!r}")
    except BaseException:
        if exclusive:
            handle.close()
        raise


def _checked_input(image: object) -> ImageLike:
    """The input, with encoded image bytes as a file; InputError for any type aec does not take."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        if not len(image):
            raise InputError("the image bytes are empty: not an image")
        buffer = io.BytesIO(bytes(image))
        buffer.name = "<bytes>"  # names the input in error messages
        return buffer
    if isinstance(image, (str, os.PathLike, Image.Image, np.ndarray)) or callable(getattr(image, "read", None)):
        return image  # type: ignore[return-value]
    hint = ""
    if type(image).__module__.split(".")[0] == "torch":
        hint = "; for a tensor pass tensor.permute(1, 2, 0).numpy() (HxWxC uint8)"
    raise InputError(f"expected {EXPECTED_IMAGE}, got {type(image).__name__}{hint}")


def _warn_animation(pil: Image.Image, image: ImageLike) -> None:
    frames = getattr(pil, "n_frames", 1)
    if getattr(pil, "is_animated", False) and isinstance(frames, int) and frames > 1:
        name = os.fspath(image) if isinstance(image, (str, os.PathLike)) else getattr(image, "name", None)
        warnings.warn(f"{f'{name}: ' if isinstance(name, str) else ''}the image is animated ({frames} frames); aec "
                      "codes only the first frame", UserWarning, stacklevel=4)


def load(image: ImageLike, max_pixels: int, strip: bool = False) -> SourceImage:
    """Any supported input (path, encoded bytes, file, PIL image, array) as a SourceImage, orientation applied.

    Raises InputError for an input of any other type (None, a tensor, ...) or an unusable image.
    """
    image = _checked_input(image)
    if isinstance(image, np.ndarray):
        source = _from_array(image)
    else:
        pil, sixteen_bit = (image, False) if isinstance(image, Image.Image) else _open(image, max_pixels)
        _warn_animation(pil, image)
        if pil.width * pil.height == 0:
            raise InputError("the image is empty (0 pixels)")
        icc_profile = pil.info.get("icc_profile")
        try:
            pil = ImageOps.exif_transpose(pil)
        except (OSError, ValueError, SyntaxError, TypeError):
            pass  # a broken EXIF block: keep the stored orientation
        exif = pil.info.get("exif")
        mode = pil.mode
        if sixteen_bit and mode not in _GRAY_MODES:
            _warn(REDUCED)  # Pillow has read the colour channels as 8 bits already
        if mode in _GRAY_MODES:
            wide = mode.startswith("I") or mode == "F"
            source = _from_array(_gray_to_8bit(np.asarray(pil), mode, sixteen_bit) if wide
                                 else np.asarray(pil.convert("L")))
        elif mode in ("LA", "La"):
            source = _from_array(np.asarray(pil.convert("LA")))
        elif mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in pil.info):
            source = _from_array(np.asarray(pil.convert("RGBA")))
        else:
            if mode not in ("RGB", "P", "RGBX"):
                icc_profile = None  # a CMYK/Lab profile does not describe the converted RGB
            source = _from_array(np.asarray(pil.convert("RGB")))
        if not strip:
            source = SourceImage(source.rgb, source.layout, source.alpha, icc_profile or None, exif or None)
    check_size(source.rgb.shape[1], source.rgb.shape[0], max_pixels, "the image")
    return source


def check_size(width: int, height: int, max_pixels: int, name: str) -> None:
    """InputError if the image, padded as the model codes it, is over the pixel limit (the decoder's rule too)."""
    padded_width, padded_height = padded_size(width, height)
    if padded_width * padded_height > max_pixels:
        raise InputError(f"{name}: {width}x{height} (coded padded to {padded_width}x{padded_height} = "
                         f"{padded_width * padded_height} pixels) exceeds the pixel limit of {max_pixels}; "
                         "raise it with max_pixels (CLI: --max-pixels)")


def assemble(rgb: np.ndarray, layout: str, payloads: dict[str, bytes]) -> np.ndarray:
    """The decoded planes in the file's layout: HxW (L), HxWx2 (LA), HxWx3 (RGB) or HxWx4 (RGBA)."""
    if layout == "RGB":
        return rgb
    height, width = rgb.shape[:2]
    planes = [rgb] if layout in ("RGB", "RGBA") else [
        np.round(rgb.astype(np.float32).mean(axis=2, keepdims=True)).astype(np.uint8)]
    if layout in ("LA", "RGBA"):  # the container made sure that the ALPH section is there
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(payloads[ALPHA_SECTION], height * width + 1)
        except zlib.error as error:
            raise FormatError(f"the alpha channel is corrupt ({error})") from None
        if len(raw) != height * width or inflater.unconsumed_tail or not inflater.eof:
            raise FormatError("the alpha channel does not match the image size; the file is corrupt")
        if inflater.unused_data:
            raise FormatError(f"the ALPH section has {len(inflater.unused_data)} bytes after its zlib stream; "
                              "the file is corrupt")
        planes.append(np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 1))
    array = np.concatenate(planes, axis=2)
    return array[:, :, 0] if layout == "L" else array


def to_pil(array: np.ndarray, layout: str, payloads: dict[str, bytes]) -> Image.Image:
    """A PIL image of the right mode carrying the stored ICC profile and EXIF block."""
    image = Image.fromarray(np.ascontiguousarray(array), layout)
    image.info.update(metadata(payloads))
    return image

