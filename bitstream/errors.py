"""The errors of the .aec container and its entropy coding; the root of aec's error tree lives here, the lowest layer."""

from __future__ import annotations

__all__ = ["AECError", "FormatError", "UnsupportedVersionError"]


class AECError(Exception):
    """Base class of every error aec raises on purpose (the codec's InputError and ModelMismatchError too)."""


class FormatError(AECError):
    """Malformed, corrupt or truncated .aec data (bad CRC, bad symbol checksum, ...)."""


class UnsupportedVersionError(FormatError):
    """The .aec data uses a format version (or an entropy-coder version) this aec cannot read."""
