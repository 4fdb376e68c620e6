"""aec: a learned image codec.

    >>> import aec
    >>> data = aec.compress("photo.png", quality=75)  # 0 to 100 (model_quality=: the model's own scale)
    >>> image = aec.decompress(data)          # a PIL image
    >>> array = aec.decompress_array(data)    # a numpy array
    >>> header = aec.read_header(data)        # model id, quality, size, without decoding
    >>> from PIL import Image
    >>> Image.open("photo.aec")               # the Pillow plugin, registered on import (aec.image_plugin)

The package (docs/architecture.md has the map): ``aec.api`` (Codec and the functions above), ``aec.cli`` (the
``aec`` command), ``aec.batch`` (files coded with N workers: ``compress_files``, ``decompress_files``),
``aec.pool`` (a Codec in N worker processes) and ``aec.outputs`` (output names, formats and
no-clobber writes), ``aec.registry`` and ``aec.architecture`` (architectures by the name a model file carries;
torch-free), ``aec.channel_slice`` (the shipped architecture), ``aec.exact``, ``aec.latent_codecs`` and
``aec.entropy_models`` (how latents are coded, in numpy; torch twins for training), ``aec.decoder`` and
``aec.model_files`` (a model file's coders, and its torch module), ``aec.model`` (the torch autoencoder, for
training and refinement), ``aec.train`` (the trainer, ``python -m aec.train``), ``aec.bitstream`` (the .aec container
and the range coder: numpy and constriction only) and ``aec.weights`` (the shipped model files).
"""

from .errors import (AECError, FormatError, InputError, ModelMismatchError, OutputError, PrecisionWarning,
                     UnsupportedVersionError)
from . import image_plugin as _image_plugin

_image_plugin.register()  # Image.open("x.aec") and image.save("x.aec", quality=...) in Pillow; imports no torch

__version__ = "0.14.0"  # 0.14.0: aec-fast-r1 ships beside the default (a decoder at about a fifth of r10's time, 2.2 % more bits than r8, its own effort levels), aec-light-r2 its decoder side alone; 0.13.0: the same decoded pixels for any thread count (layers split alike), a model's own effort levels (manifest effort_iterations); 0.12.0: aec-sc192-r10 the default (r9 trained on with per-quality transforms: 3.4 % fewer bits on Kodak), r9 its decoder side alone; the GDN in four passes, g_a in tiles of 768; 0.11.0: aec-light-r2 ships beside the default (the light model over the whole range, ten qualities), aec-light-r1 its decoder side alone; a model file read once; 0.10.0: format 2.0 (y in indexed blocks: y decoding in about a quarter of the time; 1.x files decode as before), every core for every numpy layer, g_s tiles of 48; 0.9.0: aec-sc192-r9 the default (ten qualities: 0.18 to 1.9 bpp on Kodak), the aec-conditional-v1 architecture registered; 0.8.0: aec-light-r1 ships beside the default r8 (--model aec-light-r1: a decoder of 4.4 MB, about 0.45x the decode time); 0.7.0: a light install (torch in the [torch] extra), a default pixel limit of 2**26, every model id shipped from now on stays decodable, r7 and r8 kept; 0.6.0: aec-sc192-r8 the default, r6 retired (0.5.0 decodes it), encoding at effort 0 without torch; 0.5.0: aec-sc192-r7 the default, r5 retired (0.4.0 decodes it), decoding without torch; 0.4.0: quality is 0-100 (model_quality= the old 1-6 scale); 0.3.0: aec-sc192-r5 the default, r3 retired (0.2.0 decodes it); 0.2.0: one `aec` namespace, r1 and r2 retired (0.1.0 decodes them)

_API = {"Codec", "EncodeResult", "DecodeResult", "compress", "decompress", "decompress_array", "read_header"}


def __getattr__(name: str):
    # Lazy, so that `aec --help` and `aec info` (aec.cli) do not pay for importing the API (numpy, PIL, the coder).
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'aec' has no attribute {name!r}")


__all__ = ["Codec", "EncodeResult", "DecodeResult", "compress", "decompress", "decompress_array", "read_header",
           "AECError", "FormatError", "InputError", "ModelMismatchError", "OutputError", "UnsupportedVersionError",
           "PrecisionWarning",
           "__version__"]
