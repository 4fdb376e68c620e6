"""A Pillow plugin for .aec files, registered when aec is imported (as pillow-heif and pillow-jxl-plugin do).

    >>> import aec
    >>> from PIL import Image
    >>> image = Image.open("photo.aec")             # the header only: size, mode, ICC profile and EXIF
    >>> image.load()                                # decodes (loads the decoder of the file's model now; no torch)
    >>> image.save("copy.aec", quality=75)          # 0 to 100, as for JPEG and WebP (model_quality=: the model's own)

Opening reads and checks the headers only (bitstream only, no torch; the payloads are skipped, so a file of any size
costs a few hundred bytes to open); the whole file is read and checked (CRC included) and the image decoded, with the model the file
names, when Pillow first needs its pixels. Saving codes with the default model, or ``model=ID``; it takes
``quality=`` (0 to 100, default 75), ``model_quality=``, ``effort=`` and ``strip=`` as ``aec.compress`` does. The
image's info gives ``aec_model`` and ``aec_model_quality`` from the header, and ``aec_quality`` (0-100) where the
manifest has the model's scale. Pillow has no plugin entry point, so importing aec
registers the format.
"""

from __future__ import annotations

from typing import IO, Any

from PIL import Image, ImageFile

from .bitstream import COMPRESSED_SECTIONS, DEFAULT_MAX_PIXELS, MAGIC, FormatError, read_index
from .images import EXIF_SECTION, ICC_SECTION, MAX_METADATA_BYTES, metadata  # numpy and Pillow, no torch
from .manifest import described_quality  # JSON, no torch
from .inputs import input_limit, read_stream

FORMAT = "AEC"
SUFFIX = ".aec"
MIME = "image/x-aec"
_METADATA_KINDS = frozenset({ICC_SECTION, EXIF_SECTION, *COMPRESSED_SECTIONS})


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


class AecImageFile(ImageFile.ImageFile):
    """An .aec file as a Pillow image: the header on open, the pixels decoded on load (then the file is closed, as
    Pillow's own plugins close theirs)."""

    format = FORMAT
    format_description = "aec learned image codec"

    def _open(self) -> None:
        assert self.fp is not None
        # Only the headers: the fixed one and each section's (payloads are skipped by seeking), plus the ICC profile
        # and EXIF block for info. A damaged or hostile header is refused here as aec refuses it (FormatError), not as
        # "cannot identify"; the rest (lengths, CRC, the payloads) when the pixels are loaded.
        self._aec_start = self.fp.tell()
        header, index = read_index(self.fp)
        payloads = {}
        for kind, offset, length in index:
            if kind in _METADATA_KINDS and length <= MAX_METADATA_BYTES:
                self.fp.seek(self._aec_start + offset)
                payloads[kind] = self.fp.read(length)
        try:
            self.info.update(metadata(payloads))
        except FormatError:
            pass  # a damaged metadata section: refused with the rest of the file on load
        self._size = (header.width, header.height)
        self._mode = header.layout
        self.info["aec_model"], self.info["aec_model_quality"] = header.model_id, header.quality
        quality = described_quality(header.model_id, header.weights_tag, header.quality)
        if quality is not None:
            self.info["aec_quality"] = quality
        self.tile = []
        self._aec_pending = True

    def load(self) -> Any:
        if getattr(self, "_aec_pending", False):
            from .api import default_codec  # the decoder (no torch), only when the pixels are needed

            assert self.fp is not None
            self.fp.seek(self._aec_start)
            name = getattr(self.fp, "name", None)
            data = read_stream(self.fp, input_limit(DEFAULT_MAX_PIXELS),
                               name if isinstance(name, str) else "the .aec data", magic=MAGIC)
            decoded = default_codec().decompress(data)
            self._aec_pending = False
            self.load_prepare()
            self.im.paste(decoded.im, (0, 0, *decoded.size))
            if self._exclusive_fp and self._close_exclusive_fp_after_loading:  # as ImageFile.load does
                self.fp.close()
            self.fp = None
        return Image.Image.load(self)


def _save(image: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    options = image.encoderinfo
    from .api import Codec, default_codec  # encoding loads a model (torch): only when an image is coded

    codec = Codec(options["model"]) if options.get("model") else default_codec()
    fp.write(codec.compress(image, options.get("quality"), model_quality=options.get("model_quality"),
                            effort=options.get("effort", 0), strip=bool(options.get("strip", False))))


def register() -> None:
    """Register the AEC format with Pillow (done on ``import aec``; calling it again does nothing new)."""
    Image.register_open(FORMAT, AecImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, SUFFIX)
    Image.register_mime(FORMAT, MIME)
