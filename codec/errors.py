"""aec's error tree and warnings, as the library raises them.

    AECError
    +-- FormatError               malformed, corrupt or truncated .aec data
    |   +-- UnsupportedVersionError   a format or coder version this aec cannot read
    +-- ModelMismatchError        the model a file or an option names is not available, or its file is bad
    +-- InputError                an unusable image or argument
    +-- OutputError               an output that cannot be named, saved or written (``aec.outputs``)

FormatError and UnsupportedVersionError come from the container layer (``aec.bitstream``); the other two are raised
only by the codec.
"""

from __future__ import annotations

from .bitstream.errors import AECError, FormatError, UnsupportedVersionError

__all__ = ["AECError", "FormatError", "UnsupportedVersionError", "ModelMismatchError", "InputError", "OutputError",
           "PrecisionWarning", "TORCH_EXTRA", "reason", "torch_missing"]

# What installs PyTorch for aec: the default install codes at effort 0 without it.
TORCH_EXTRA = 'pip install "aec-codec[torch]"'


def torch_missing(what: str, extra: str = "torch") -> str:
    """The one line that says what needs PyTorch and which extra installs it."""
    return (f"{what} needs PyTorch, which is not installed here: "
            f"{TORCH_EXTRA.replace('[torch]', f'[{extra}]')} (effort 0 and decoding do not)")


class ModelMismatchError(AECError):
    """The .aec data or the caller needs a model (id or weights tag) that is not available or not valid."""


class InputError(AECError):
    """Bad user input: an unusable image or argument."""


class OutputError(AECError):
    """An output that cannot be named, saved in its format or written (it exists, it is a socket, the disk is full)."""


def reason(error: OSError) -> str:
    """'No such file or directory' rather than "[Errno 2] No such file or directory: 'x'"."""
    return error.strerror or str(error) or type(error).__name__


class PrecisionWarning(UserWarning):
    """The image holds more precision than aec codes (16-bit channels are reduced to 8 bits)."""
