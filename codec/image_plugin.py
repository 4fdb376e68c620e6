"""A Pillow plugin for .aec files, registered when aec is imported (as pillow-heif and pillow-jxl-plugin do).

    >>> import aec
    >>> from PIL import Image
    >>> image = Image.open("photo.aec")             # the header only: size, mode, ICC profile and EXIF
    >>> image.load()                                # decodes (loads the decoder of the file's model now; no torch)
    >>> image.save("copy.aec", quality=75)          # 0 to 100, as for JPEG and WebP (model_quality=: the model's own)

Opening reads and checks the container (bitstream only, no torch); the image is decoded, with the model the file
names, when Pillow first needs its pixels. Saving codes with the default model, or ``model=ID``; it takes
``quality=`` (0 to 100, default 75), ``model_quality=``, ``effort=`` and ``strip=`` as ``aec.compress`` does. The
image's info gives ``aec_model`` and ``aec_model_quality`` from the header, and ``aec_quality`` (0-100) where the
manifest has the model's scale. Pillow has no plugin entry point, so importing aec
registers the format.
"""

from __future__ import annotations

from typing import IO, Any

from PIL import Image, ImageFile

from .bitstream import DEFAULT_MAX_PIXELS, MAGIC, parse
from .images import metadata  # numpy and Pillow, no torch
from .manifest import described_quality  # JSON, no torch
from .inputs import input_limit, read_stream

FORMAT = "AEC"
SUFFIX = ".aec"
MIME = "image/x-aec"


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


class AecImageFile(ImageFile.ImageFile):
    """An .aec file as a Pillow image: the header on open, the pixels decoded on load."""

    format = FORMAT
    format_description = "aec learned image codec"

    def _open(self) -> None:
        assert self.fp is not None
        name = getattr(self.fp, "name", None)
        self._aec_data: bytes | None = read_stream(self.fp, input_limit(DEFAULT_MAX_PIXELS),
                                                  name if isinstance(name, str) else "the .aec data", magic=MAGIC)
        # A damaged or hostile file is refused here, as aec refuses it (FormatError), not as "cannot identify".
        header, sections = parse(self._aec_data)
        self._size = (header.width, header.height)
        self._mode = header.layout
        self.info.update(metadata({section.kind: section.payload for section in sections}))
        self.info["aec_model"], self.info["aec_model_quality"] = header.model_id, header.quality
        quality = described_quality(header.model_id, header.weights_tag, header.quality)
        if quality is not None:
            self.info["aec_quality"] = quality
        self.tile = []

    def load(self) -> Any:
        if getattr(self, "_aec_data", None) is not None:
            from .api import default_codec  # the decoder (no torch), only when the pixels are needed

            decoded = default_codec().decompress(self._aec_data)
            self._aec_data = None
            self.load_prepare()
            self.im.paste(decoded.im, (0, 0, *decoded.size))
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
