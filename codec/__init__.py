"""aec: a learned image codec.

    >>> import codec
    >>> data = codec.compress("photo.png", quality=4)
    >>> image = codec.decompress(data)          # a PIL image
"""

from bitstream.errors import (AECError, AecError, FormatError, InputError, ModelMismatchError,
                              UnsupportedVersionError)

_API = {"DEFAULT_QUALITY", "Codec", "EncodeResult", "compress", "decompress", "decompress_array", "read_header"}


def __getattr__(name: str):
    # Lazy, so that `aec --help` and `aec info` (codec.cli) do not pay for importing torch.
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = ["Codec", "EncodeResult", "compress", "decompress", "decompress_array", "read_header",
           "DEFAULT_QUALITY", "AECError", "AecError", "FormatError", "InputError", "ModelMismatchError",
           "UnsupportedVersionError", "__version__"]
