"""The aec error tree: every failure a user can cause is an AECError."""

from __future__ import annotations

__all__ = [
    "AECError",
    "AecError",
    "FormatError",
    "UnsupportedVersionError",
    "ModelMismatchError",
    "InputError",
]


class AECError(Exception):
    """Base class of every error aec raises on purpose."""


# The style guide spells it AecError; both names are the same class.
AecError = AECError


class FormatError(AECError):
    """Malformed, corrupt or truncated .aec data (bad CRC, bad symbol checksum, ...)."""


class UnsupportedVersionError(FormatError):
    """The .aec data uses a format version this aec cannot read."""


class ModelMismatchError(AECError):
    """The .aec data needs a model (id or weights tag) that is not available."""


class InputError(AECError):
    """Bad user input: an unusable image or argument."""
