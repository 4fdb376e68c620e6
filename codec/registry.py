"""Architectures by stable name (CompressAI's ``registry``): a model file names its architecture, and the loader
builds whatever class is registered under that name, so a second architecture ships beside the first with no change
to the loader.

An architecture is an ``nn.Module`` class with ``config_class`` (a frozen dataclass with ``from_dict``/``to_json``),
``__init__(config)``, ``freeze()``, ``check_exact()``, ``file_state_dict()`` and the coding interface
``compress(x, quality)`` / ``decompress(z_payload, y_payload, quality, height, width, checksum)``. The name is a
contract: a file written under it must keep loading, so a change of layout or semantics takes a new name.
"""

from __future__ import annotations

from collections.abc import Callable

ARCHITECTURES: dict[str, type] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make ``cls`` the architecture called ``name`` (and set ``cls.architecture``)."""

    def decorate(cls: type) -> type:
        if ARCHITECTURES.get(name, cls) is not cls:
            raise ValueError(f"architecture {name!r} is already registered to {ARCHITECTURES[name].__qualname__}")
        cls.architecture = name
        ARCHITECTURES[name] = cls
        return cls

    return decorate


def architecture(name: str) -> type:
    """The class registered under ``name``; KeyError names the known ones."""
    _load_builtin()
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES)) or "none"
        raise KeyError(f"unknown architecture {name!r} (this aec knows {known})") from None


def _load_builtin() -> None:
    from . import model  # noqa: F401  (registers aec-channel-slice-v1)
