"""Architectures by the stable name a model file carries (CompressAI's ``registry``, one level lower: the entries are
torch-free ``aec.architecture.Architecture`` objects, which build the numpy coders and, on request, the torch module).

The API, the model files, the trainer and the benchmarks look an architecture up here by the file's name; a second
architecture is one module, added to ``SHIPPED`` here when it ships (or registered by whoever imports it, as the
tests' second architecture is), with no change to them.
"""

from __future__ import annotations

from .architecture import Architecture
from .channel_slice import CHANNEL_SLICE
from .conditional import CONDITIONAL
from .light import LIGHT

SHIPPED = (CHANNEL_SLICE, LIGHT, CONDITIONAL)  # the first is the default: new models' and that of checkpoints that predate the name
ARCHITECTURES: dict[str, Architecture] = {entry.name: entry for entry in SHIPPED}


def register(entry: Architecture) -> Architecture:
    """Make ``entry`` the architecture called ``entry.name``; ValueError if another holds the name."""
    if ARCHITECTURES.get(entry.name, entry) is not entry:
        raise ValueError(f"architecture {entry.name!r} is already registered ({ARCHITECTURES[entry.name]!r})")
    ARCHITECTURES[entry.name] = entry
    return entry


def architecture(name: str) -> Architecture:
    """The architecture registered under ``name``; KeyError names the known ones."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES)) or "none"
        raise KeyError(f"unknown architecture {name!r} (this aec knows {known})") from None


def default_architecture() -> Architecture:
    """The architecture of new models (the trainer's default) and of checkpoints that predate the name."""
    return SHIPPED[0]
