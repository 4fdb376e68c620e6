"""Where an output goes and how it is written: the names (photo.png -> photo.aec, photo.aec -> photo.png), the image
format a name asks for, Pillow saving (a mode the format holds, the ICC profile and EXIF it carries, with fallbacks when
a writer refuses them) and writes that never clobber (a temporary file, then a link; devices and pipes written
into). ``aec compress`` and ``decompress`` write through it; so can any program that writes aec's outputs.

Every failure is an ``OutputError`` with a one-line message (naming ``-o`` and ``-f`` where the command line's
options are the remedy).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import png
from .errors import OutputError, reason

__all__ = ["AEC_SUFFIX", "compressed_name", "decompressed_name", "encode_image", "named_format", "normalise",
           "output_format", "same_file", "special_kind", "write_all", "write_file"]

AEC_SUFFIX = ".aec"
# decompress writes any format Pillow writes, by the output's suffix; these are the names it gives each format.
PREFERRED_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp",
                      "AVIF": ".avif", "PPM": ".ppm", "GIF": ".gif", "JPEG2000": ".jp2"}
DEFAULT_OUTPUT_FORMAT = "PNG"
# A lossy output format stacks a second loss on aec's: near-transparent settings (JPEG without chroma subsampling).
# PNG at zlib level 1, not Pillow's 6: on Kodak images (originals and decodes) level 3 wrote in about half the time
# of 6 (37-45 ms against 63-101) and 1-7 % smaller files; level 1 takes a quarter less again (35 ms against 46-50 on
# the first 8 Kodak originals) for files 2.0 % larger than level 3's (docs/speed.md). Since 0.10.0 aec writes PNG
# itself (aec.png) at that level, on every core, in about half Pillow's time.
SAVE_OPTIONS: dict[str, dict[str, Any]] = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95},
                                           "AVIF": {"quality": 90}, "HEIF": {"quality": 90}, "JXL": {"quality": 95},
                                           "PNG": {"compress_level": 1}}
# Formats whose Pillow writer keeps an alpha channel; for any other the alpha channel is dropped with a warning.
ALPHA_FORMATS = frozenset({"PNG", "TIFF", "WEBP", "AVIF", "JPEG2000", "TGA", "ICO", "ICNS", "IM", "DDS", "SGI",
                           "QOI", "HEIF", "JXL"})
# Formats whose Pillow writer takes an ICC profile and an EXIF block.
METADATA_FORMATS = frozenset({"PNG", "TIFF", "JPEG", "WEBP", "AVIF", "HEIF"})
# Pillow plugins that add writers when they are installed (imported only when Pillow's own writers lack the format
# asked for): pillow-heif's HEIC/HEIF (registered by a call), pillow-jxl-plugin's JPEG XL (registered on import).
PLUGINS = {"pillow_heif": "register_heif_opener", "pillow_jxl": None}
# What to install for a format only a plugin writes, by suffix and by format name, for the message when it is missing.
PLUGIN_PACKAGES = {".heic": "pillow-heif", ".heif": "pillow-heif", ".hif": "pillow-heif", ".jxl": "pillow-jxl-plugin",
                   "heic": "pillow-heif", "heif": "pillow-heif", "jxl": "pillow-jxl-plugin",
                   "jpegxl": "pillow-jxl-plugin"}
# Pillow reads back a PNG text chunk (the ICC profile's iCCP among them) of at most this many bytes inflated.
_PNG_TEXT_LIMIT_NAME = "PngImagePlugin.MAX_TEXT_CHUNK"


def special_kind(target: str) -> str | None:
    """What an existing output that is not a regular file (nor a folder) is: written into, never replaced."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISCHR, "device"), (stat.S_ISFIFO, "pipe"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return None


def compressed_name(source: str) -> str:
    """photo.png -> photo.aec (a name that already ends in .aec is refused: never the input)."""
    root, suffix = os.path.splitext(source)
    if suffix.lower() == AEC_SUFFIX:
        raise OutputError(f"{source} already has the {AEC_SUFFIX} suffix; give the output name with -o")
    return root + AEC_SUFFIX


def decompressed_name(source: str, image_format: str | None = None) -> str:
    """photo.aec -> photo.png, photo.bmp.aec -> photo.bmp, photo.bin -> photo.bin.png (never the input); with
    image_format (--format) its suffix: photo.aec -> photo.jpg."""
    wanted = _suffix_of(image_format or DEFAULT_OUTPUT_FORMAT)
    root, suffix = os.path.splitext(source)
    if suffix.lower() != AEC_SUFFIX:
        return source + wanted
    inner = os.path.splitext(root)[1].lower()
    if (image_format is None and inner and _with_plugins(lambda formats: formats.get(inner))) or inner == wanted:
        return root
    return root + wanted


def output_format(target: str | None, forced: str | None = None) -> str:
    """The Pillow format name for an output name (None: a stream): the one its suffix names, else forced (--format),
    else PNG."""
    suffix = "" if target is None else os.path.splitext(target)[1].lower()
    named = _with_plugins(lambda formats: formats.get(suffix)) if suffix else None
    if forced is not None:
        if named is not None and named != forced:
            raise OutputError(f"{target} names {named}, --format {forced}; give one of them, or names that agree")
        return forced
    if not suffix:
        return DEFAULT_OUTPUT_FORMAT
    if named is None and suffix in PLUGIN_PACKAGES:
        raise OutputError(f"cannot write {suffix} files here: Pillow writes them with a plugin that is not "
                          f"installed (pip install {PLUGIN_PACKAGES[suffix]})")
    if named is None:
        raise OutputError(f"cannot write {suffix} files: not a format Pillow writes (e.g. "
                          f"{', '.join(PREFERRED_SUFFIXES.values())}; PNG when the name has no suffix)")
    return named


def named_format(name: str) -> str:
    """The Pillow format that --format names, by format name (jpeg) or suffix (jpg, .jpg)."""
    key = name.strip().lower()
    found = _with_plugins(lambda formats: formats.get(key if key.startswith(".") else "." + key)
                          or {f.lower(): f for f in formats.values()}.get(key))
    if found is None and key.lstrip(".") in PLUGIN_PACKAGES:
        raise OutputError(f"{name} is written by a Pillow plugin that is not installed here "
                          f"(pip install {PLUGIN_PACKAGES[key.lstrip('.')]})")
    if found is None:
        raise OutputError(f"{name} is not a format Pillow writes here (e.g. png, jpeg, webp, avif, tiff, bmp)")
    return found


def _suffix_of(image_format: str) -> str:
    if image_format in PREFERRED_SUFFIXES:
        return PREFERRED_SUFFIXES[image_format]
    return min(suffix for suffix, name in _writable_formats().items() if name == image_format)


def _with_plugins(find: Callable[[dict[str, str]], str | None]) -> str | None:
    """find(the writable formats): first those of Pillow's common plugins (PNG, JPEG, BMP, GIF, PPM: loading every
    plugin took 29 ms of a 0.8 s ``aec decompress``, docs/speed.md), then all of Pillow's, then once the installed
    plugins (``PLUGINS``) are, as long as it finds nothing."""
    found = find(_writable_formats(common=True)) or find(_writable_formats())
    if found is None and _load_plugins():
        found = find(_writable_formats())
    return found


_PLUGINS_LOADED: list[bool] = []


def _load_plugins() -> bool:
    """Register the installed Pillow plugins' writers (once); True the first time."""
    import importlib

    if _PLUGINS_LOADED:
        return False
    _PLUGINS_LOADED.append(True)
    for module, register in PLUGINS.items():
        try:
            plugin = importlib.import_module(module)
            if register:
                getattr(plugin, register)()
        except Exception:  # noqa: BLE001  (not installed, or broken: Pillow's own writers still serve)
            continue
    return True


def _writable_formats(common: bool = False) -> dict[str, str]:
    """Suffix -> Pillow format name, for every format Pillow can write here (AVIF only where it has it; HEIC and
    JPEG XL once the plugins are loaded, ``_with_plugins``); with ``common``, of the plugins Pillow loads first
    alone."""
    from PIL import Image

    Image.preinit()
    if not common:
        Image.init()
    return {suffix: name for suffix, name in Image.EXTENSION.items() if name in Image.SAVE and suffix != AEC_SUFFIX}


def write_all(stream: Any, data: bytes) -> None:
    """Write every byte of data, then flush. A buffered write to a pipe whose reader has gone returns how much it
    wrote instead of failing (a short write), so the count is checked and the rest written again, which then fails
    with the pipe's error (EPIPE): a truncated output is never reported as success."""
    view = memoryview(data).cast("B")
    while view:
        written = stream.write(view)
        if written is None:  # a non-blocking stream that is full
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable (a non-blocking output is full)")
        if written <= 0:
            raise OSError(errno.EIO, f"short write ({len(view)} bytes not written)")
        view = view[written:]
    stream.flush()


def encode_image(image: Any, image_format: str, name: str, threads: int = 1) -> bytes:
    """The image as file bytes in a format Pillow writes, in memory, so a Pillow failure never reaches the output;
    name: the output's, for the warnings and errors. PNG of 8-bit L, LA, RGB and RGBA images is aec's own writer on
    ``threads`` threads (``aec.png``), every other format and mode Pillow's."""
    image = _convert_for(image, image_format, name)
    extra: dict[str, Any] = {}
    if image_format in METADATA_FORMATS:  # formats that carry both; others drop them
        extra = {k: image.info[k] for k in ("icc_profile", "exif") if image.info.get(k)}
    profile = extra.get("icc_profile") or b""
    if image_format == "PNG" and len(profile) > _png_text_limit():
        # Written, it would make a PNG that Pillow, and so aec, cannot read back (libpng stops at 8 MiB). None, not
        # absent: Pillow falls back to image.info.
        extra["icc_profile"] = None
        warnings.warn(f"{name}: the ICC profile ({len(profile)} bytes) is larger than PNG readers "
                      f"take ({_PNG_TEXT_LIMIT_NAME} = {_png_text_limit()} bytes) and is left out; write .tif to "
                      "keep it", stacklevel=2)
    if image_format == "PNG" and image.mode in png.COLOR_TYPES:
        return png.encode(np.asarray(image), image.mode, icc_profile=extra.get("icc_profile"),
                          exif=extra.get("exif"), level=SAVE_OPTIONS["PNG"]["compress_level"], threads=threads)
    try:
        return _saved(image, image_format, extra)
    except (OSError, ValueError, KeyError, SyntaxError) as error:
        if "exif" not in extra:
            raise OutputError(f"cannot save the image as {image_format} ({name}): {error}") from None
        # The file's EXIF block is the stranger's: a TIFF writer parses it, and may not manage.
        warnings.warn(f"{name}: the file's EXIF block cannot be written as {image_format} "
                      f"({error}) and is left out", stacklevel=2)
        del extra["exif"]
    try:
        return _saved(image, image_format, extra)
    except (OSError, ValueError, KeyError, SyntaxError) as error:
        raise OutputError(f"cannot save the image as {image_format} ({name}): {error}") from None


def _convert_for(image: Any, image_format: str, name: str) -> Any:
    """The image in a mode the format holds: alpha dropped (with a warning) where it has none; gray as RGB and
    gray + alpha as RGBA (lossless) where the writer takes only those."""
    if image.mode in ("LA", "RGBA") and image_format not in ALPHA_FORMATS:
        warnings.warn(f"{name}: {image_format} has no alpha channel, so the image's alpha channel is "
                      "dropped; write .png, .webp or .tif to keep it", stacklevel=3)
        converted = image.convert(image.mode[:-1])
        converted.info = dict(image.info)
        return converted
    return image


def _saved(image: Any, image_format: str, extra: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    options = {**SAVE_OPTIONS.get(image_format, {}), **extra}
    try:
        image.save(buffer, format=image_format, **options)
    except (OSError, ValueError) as error:
        wider = {"L": "RGB", "LA": "RGBA"}.get(image.mode)
        if wider is None:
            raise
        # A writer that takes no gray (e.g. QOI, SGI with alpha): the same pixels as RGB(A).
        try:
            converted = image.convert(wider)
            buffer = io.BytesIO()
            converted.save(buffer, format=image_format, **options)
        except (OSError, ValueError):
            raise error from None
    return buffer.getvalue()


def _png_text_limit() -> int:
    from PIL import PngImagePlugin

    return PngImagePlugin.MAX_TEXT_CHUNK


def _write_into(target: str, data: bytes) -> None:
    """Write into a device or a pipe (as gzip and zstd do): a rename would replace it with a regular file."""
    try:
        with open(target, "wb") as handle:
            if is_terminal(handle):
                raise OutputError(f"refusing to write binary data to a terminal ({target}); give -o FILE")
            write_all(handle, data)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {reason(error)}") from None


def _rename_no_clobber(temporary: str, target: str) -> None:
    """Give the temporary file its final name unless that name exists, without a check-then-write race."""
    try:
        os.link(temporary, target)  # fails if target exists; the caller then unlinks the temporary name
    except FileExistsError:
        raise OutputError(f"{target} already exists; use -f to overwrite it") from None
    except OSError:  # a filesystem without hard links
        if os.path.lexists(target):
            raise OutputError(f"{target} already exists; use -f to overwrite it") from None
        os.replace(temporary, target)


def _new_file_mode() -> int:
    """The mode open() would give a new file (mkstemp makes it private to the user)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def same_file(source: str, target: str) -> bool:
    """Whether two names are one file (by its inode where both exist, else by their normalised paths)."""
    try:
        return os.path.samefile(source, target)
    except OSError:
        return normalise(source) == normalise(target)


def normalise(path: str) -> str:
    """A path as the file system resolves it: two names of one output compare equal."""
    return os.path.normcase(os.path.realpath(path))


def write_file(target: str, data: bytes, *, force: bool = False) -> None:
    """Write data to a file atomically (a temporary in the same folder, then a rename), never over an existing
    file unless ``force``; a device or a pipe is written into."""
    if special_kind(target) is not None:
        _write_into(target, data)
        return
    folder, name = os.path.split(target)
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as handle:
            write_all(handle, data)
            # A rename can reach the disk before the data does; without fsync a crash could leave an empty file.
            os.fsync(handle.fileno())
        os.chmod(temporary, _new_file_mode())
        if force:
            os.replace(temporary, target)
        else:
            _rename_no_clobber(temporary, target)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {reason(error)}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def is_terminal(stream: Any) -> bool:
    """True if the stream is an interactive terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
