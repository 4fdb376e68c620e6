"""aec: a learned image codec.

    >>> import codec
    >>> data = codec.compress("photo.png", quality=4)
    >>> image = codec.decompress(data)          # a PIL image
"""

from bitstream.errors import (AECError, AecError, FormatError, InputError, ModelMismatchError,
                              UnsupportedVersionError)

from .api import (DEFAULT_QUALITY, Codec, EncodeResult, compress, decompress, decompress_array,
                  read_header)

__version__ = "0.1.0"

__all__ = ["Codec", "EncodeResult", "compress", "decompress", "decompress_array", "read_header",
           "DEFAULT_QUALITY", "AECError", "AecError", "FormatError", "InputError", "ModelMismatchError",
           "UnsupportedVersionError", "__version__"]
