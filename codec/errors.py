"""aec's error tree and warnings, as the library raises them.

    AECError
    +-- FormatError               malformed, corrupt or truncated .aec data
    |   +-- UnsupportedVersionError   a format or coder version this aec cannot read
    +-- ModelMismatchError        the model a file or an option names is not available, or its file is bad
    +-- InputError                an unusable image or argument

FormatError and UnsupportedVersionError come from the container layer (``aec.bitstream``); the other two are raised
only by the codec.
"""

from __future__ import annotations

from .bitstream.errors import AECError, FormatError, UnsupportedVersionError

__all__ = ["AECError", "FormatError", "UnsupportedVersionError", "ModelMismatchError", "InputError",
           "PrecisionWarning"]


class ModelMismatchError(AECError):
    """The .aec data or the caller needs a model (id or weights tag) that is not available or not valid."""


class InputError(AECError):
    """Bad user input: an unusable image or argument."""


class PrecisionWarning(UserWarning):
    """The image holds more precision than aec codes (16-bit channels are reduced to 8 bits)."""
