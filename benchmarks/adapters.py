"""The codecs under test, each behind one small adapter: encode an RGB array to bytes, decode bytes to an RGB array.

Every adapter records its library versions and its fixed settings, so a result file says exactly what was run.
A codec whose library is missing raises CodecUnavailable from its factory; `load` turns that into a skip message.
"""

from __future__ import annotations

import importlib.metadata
import io
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import PIL
from PIL import Image, features


class CodecUnavailable(Exception):
    """The codec's library is missing or cannot be used here; the message says why."""


@dataclass(frozen=True)
class Adapter:
    """One codec at a sweep of quality settings.

    Args:
        qualities: the default sweep, from worst to best. Each was chosen on six Kodak images to span about 0.1 to
            2 bpp (JPEG XL's lowest setting reaches only about 0.17 bpp), so that every curve overlaps aec's.
        quality_meaning: what the quality number is (e.g. "libjpeg quality 0-100").
        quality_range: (worst, best) settings the codec accepts, for the equal-rate search of the crop figure.
        integer_quality: whether only whole-number settings are valid.
    """

    name: str
    label: str
    qualities: tuple[float, ...]
    encode: Callable[[np.ndarray, float], bytes]
    decode: Callable[[bytes], np.ndarray]
    quality_meaning: str
    quality_range: tuple[float, float]
    integer_quality: bool = True
    lossless: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)


def package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _pillow_versions(*feature_names: str) -> dict[str, str]:
    versions = {"pillow": PIL.__version__}
    for feature in feature_names:
        versions[feature] = str(features.version(feature))
    return versions


def _require_pillow_feature(feature: str, what: str) -> None:
    if not features.check(feature):
        raise CodecUnavailable(f"this Pillow ({PIL.__version__}) was built without {what}")


def _pillow_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _pillow_encoder(image_format: str, options: Callable[[float], dict]) -> Callable[[np.ndarray, float], bytes]:
    """An encoder that saves a fresh PIL image with fresh options for every call.

    A failed save can leave settings behind on a Pillow image (encoderinfo) and pillow-heif adds keys to the
    enc_params dict it is given, so neither the image nor the options dict is ever reused.
    """

    def encode(array: np.ndarray, quality: float) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, image_format, **options(quality))
        return buffer.getvalue()

    return encode


def make_jpeg(subsampling: str) -> Adapter:
    """JPEG through Pillow and libjpeg-turbo: baseline, YCbCr, optimized Huffman tables."""
    pillow_subsampling = {"4:2:0": 2, "4:4:4": 0}[subsampling]
    return Adapter(
        name="jpeg" + subsampling.replace(":", ""),
        label=f"JPEG {subsampling}",
        qualities=(3, 5, 8, 12, 20, 30, 40, 50, 65, 80, 90),
        encode=_pillow_encoder(
            "JPEG", lambda q: {"quality": int(q), "subsampling": pillow_subsampling, "optimize": True}
        ),
        decode=_pillow_decode,
        quality_meaning="libjpeg quality 1-100",
        quality_range=(1, 100),
        versions=_pillow_versions("libjpeg_turbo"),
        settings={"subsampling": subsampling, "optimize": True, "progressive": False},
    )


def make_webp() -> Adapter:
    """Lossy WebP (always 4:2:0) through Pillow and libwebp, method 6 (slowest, best)."""
    _require_pillow_feature("webp", "WebP")
    return Adapter(
        name="webp",
        label="WebP",
        qualities=(0, 5, 10, 20, 30, 45, 60, 75, 85, 90),
        encode=_pillow_encoder("WEBP", lambda q: {"quality": int(q), "method": 6}),
        decode=_pillow_decode,
        quality_meaning="libwebp quality 0-100",
        quality_range=(0, 100),
        versions=_pillow_versions("webp"),
        settings={"method": 6, "lossless": False, "subsampling": "4:2:0"},
    )


def make_avif(threads: int) -> Adapter:
    """AVIF through Pillow's built-in libavif encoder, 4:4:4, full range, default speed 6."""
    _require_pillow_feature("avif", "AVIF")
    from PIL import AvifImagePlugin, _avif

    # Decoding threads are a module default in Pillow, not an argument of Image.open.
    AvifImagePlugin.DEFAULT_MAX_THREADS = threads
    versions = _pillow_versions("avif")
    versions["avif_codecs"] = _avif.codec_versions()
    return Adapter(
        name="avif",
        label="AVIF 4:4:4",
        qualities=(0, 10, 15, 25, 35, 45, 55, 65, 75, 85),
        encode=_pillow_encoder(
            "AVIF",
            lambda q: {"quality": int(q), "subsampling": "4:4:4", "speed": 6, "range": "full", "max_threads": threads},
        ),
        decode=_pillow_decode,
        quality_meaning="libavif quality 0-100",
        quality_range=(0, 100),
        versions=versions,
        settings={"subsampling": "4:4:4", "speed": 6, "range": "full", "codec": "auto", "threads": threads},
    )


def make_heic(threads: int) -> Adapter:
    """HEIC through pillow-heif, libheif and x265, 4:4:4, libheif's x265 defaults (preset slow, tune ssim)."""
    try:
        import pillow_heif
    except ImportError as error:
        raise CodecUnavailable(f"pillow-heif is not installed ({error}); pip install pillow-heif") from error
    encoders = pillow_heif.libheif_info().get("encoders", {})
    if "x265" not in encoders:
        raise CodecUnavailable(f"this libheif has no x265 encoder (encoders: {sorted(encoders)})")
    pillow_heif.register_heif_opener()
    pillow_heif.options.DECODE_THREADS = threads
    x265_threads = {"x265:pools": str(threads), "x265:frame-threads": "1"}
    return Adapter(
        name="heic",
        label="HEIC 4:4:4 (x265)",
        qualities=(5, 10, 15, 20, 25, 30, 35, 40, 50, 60),
        encode=_pillow_encoder(
            "HEIF", lambda q: {"quality": int(q), "chroma": 444, "enc_params": dict(x265_threads)}
        ),
        decode=_pillow_decode,
        quality_meaning="libheif quality 0-100",
        quality_range=(0, 100),
        versions={
            "pillow_heif": pillow_heif.__version__,
            "libheif": pillow_heif.libheif_version(),
            "x265": encoders["x265"],
            "decoder": ", ".join(pillow_heif.libheif_info().get("decoders", {}).values()),
        },
        settings={"chroma": "4:4:4", "preset": "slow", "tune": "ssim", "matrix": "BT.601 full range", "threads": threads},
    )


def make_jxl(threads: int) -> Adapter:
    """JPEG XL through pillow-jxl-plugin (libjxl via jpegxl-rs), effort 7."""
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL plugin with Pillow)
        from pillow_jxl import JpegXLImagePlugin
    except ImportError as error:
        raise CodecUnavailable(
            f"pillow-jxl-plugin is not installed ({error}); pip install pillow-jxl-plugin"
        ) from error
    # 0 disables the thread pool; the plugin reads decoding threads from a module default.
    JpegXLImagePlugin.DECODE_THREADS = 0 if threads == 1 else threads
    encode_threads = 0 if threads == 1 else threads
    return Adapter(
        name="jxl",
        label="JPEG XL",
        qualities=(0, 10, 20, 30, 45, 60, 75, 85, 92),
        encode=_pillow_encoder(
            "JXL", lambda q: {"quality": int(q), "effort": 7, "lossless": False, "num_threads": encode_threads}
        ),
        decode=_pillow_decode,
        quality_meaning="libjxl quality 0-100 (mapped to a Butteraugli distance)",
        quality_range=(0, 100),
        versions={"pillow_jxl_plugin": package_version("pillow-jxl-plugin"), "pillow": PIL.__version__},
        settings={"effort": 7, "lossless": False, "container": False, "threads": threads},
    )


def make_jpeg2000() -> Adapter:
    """JPEG 2000 through Pillow and OpenJPEG: irreversible 9/7 wavelet with the YCbCr transform, raw codestream."""
    _require_pillow_feature("jpg_2000", "JPEG 2000 (OpenJPEG)")
    return Adapter(
        name="jpeg2000",
        label="JPEG 2000",
        # Compression ratios: 24 bits per pixel divided by the ratio is the target rate, 0.08 to 2 bpp.
        qualities=(300, 240, 160, 120, 80, 60, 48, 32, 24, 16, 12),
        encode=_pillow_encoder(
            "JPEG2000",
            lambda q: {
                "quality_mode": "rates",
                "quality_layers": [float(q)],
                "irreversible": True,
                "mct": 1,
                "no_jp2": True,
            },
        ),
        decode=_pillow_decode,
        quality_meaning="compression ratio (target bpp = 24 / ratio)",
        quality_range=(400, 2),
        integer_quality=False,
        versions=_pillow_versions("jpg_2000"),
        settings={"irreversible": True, "mct": 1, "layers": 1, "container": "raw codestream (.j2k)"},
    )


def make_png() -> Adapter:
    """Lossless PNG through Pillow and zlib, compression level 9: a rate-only reference."""
    return Adapter(
        name="png",
        label="PNG (lossless)",
        qualities=(9,),
        encode=_pillow_encoder("PNG", lambda q: {"compress_level": int(q)}),
        decode=_pillow_decode,
        quality_meaning="zlib compression level 0-9",
        quality_range=(0, 9),
        lossless=True,
        versions=_pillow_versions("zlib"),
        settings={"compress_level": 9},
    )


def aec_sweep(trained: Sequence[float]) -> tuple[float, ...]:
    """The trained quality points plus the midpoint of each neighbouring pair, ascending."""
    points = sorted(float(q) for q in trained)
    midpoints = [(low + high) / 2.0 for low, high in zip(points, points[1:])]
    return tuple(sorted(set(points) | set(midpoints)))


def make_aec(threads: int, weights: str | None = None, effort: int = 0) -> Adapter:
    """aec through its public API only: Codec(), compress(array, model_quality=, effort=), decompress_array().

    At the model's own qualities (``model_quality``: 1 to 6 for the shipped models, as earlier results were measured),
    not the 0-100 scale, which is calibrated from these very curves (``benchmarks/quality_scale.py``).

    effort > 0 is the adapter `aec-eN` (label "aec effort N"), so that one run can draw a curve per effort.
    """
    try:
        import aec
        from aec import Codec
    except Exception as error:  # noqa: BLE001  (any import failure means: not usable yet)
        raise CodecUnavailable(f"cannot import aec's codec package ({type(error).__name__}: {error})") from error
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)  # the encoder's float transforms

    def on_threads(call: Callable) -> Callable:
        """call with numpy's BLAS (the decoder, the exact path: aec.ops) on ``threads`` threads too."""
        def limited(*args):
            with threadpool_limits(threads):
                return call(*args)
        return limited

    try:
        model = Codec(weights=weights) if weights else Codec()
        trained = tuple(model.model_qualities)
    except Exception as error:  # noqa: BLE001
        raise CodecUnavailable(f"Codec({weights or ''}) failed ({type(error).__name__}: {error})") from error
    versions = {
        "aec": str(getattr(aec, "__version__", "unknown")),
        "model_id": str(model.model_id),
        "torch": torch.__version__,
    }
    if weights:
        versions["weights"] = str(weights)
    return Adapter(
        name=f"aec-e{effort}" if effort else "aec",
        label=f"aec effort {effort}" if effort else "aec",
        qualities=aec_sweep(trained),
        encode=on_threads(lambda array, quality: model.compress(array, model_quality=float(quality), effort=effort)),
        decode=on_threads(model.decompress_array),
        quality_meaning=f"aec model quality (its own scale, not 0-100), trained points {list(trained)}",
        quality_range=(min(trained), max(trained)),
        integer_quality=False,
        versions=versions,
        settings={"threads": threads, "trained_qualities": list(trained), "effort": effort},
    )


@dataclass(frozen=True)
class _Entry:
    """How to make one codec's adapter, and how the report shows it."""

    make: Callable[[int, str | None], Adapter]  # (threads, aec_weights) -> Adapter
    colour: str | None = None  # of its curve in the RD plots; None: matplotlib's next one
    crop: bool = False  # in the crop figure by default


# The one list of codec names, in the order of the tables and plots.
CODECS: dict[str, _Entry] = {
    "aec": _Entry(make_aec, "tab:red", crop=True),
    "jpeg420": _Entry(lambda threads, weights: make_jpeg("4:2:0"), "tab:brown", crop=True),
    "jpeg444": _Entry(lambda threads, weights: make_jpeg("4:4:4"), "tab:orange"),
    "webp": _Entry(lambda threads, weights: make_webp(), "tab:green"),
    "avif": _Entry(lambda threads, weights: make_avif(threads), "tab:blue", crop=True),
    "heic": _Entry(lambda threads, weights: make_heic(threads), "tab:purple", crop=True),
    "jxl": _Entry(lambda threads, weights: make_jxl(threads), "tab:cyan"),
    "jpeg2000": _Entry(lambda threads, weights: make_jpeg2000(), "tab:olive"),
    "png": _Entry(lambda threads, weights: make_png()),  # lossless: no curve to draw
}
CODEC_NAMES = tuple(CODECS)
# The codecs of the side-by-side crop figure, at about equal bits per pixel.
CROP_CODECS = tuple(name for name, entry in CODECS.items() if entry.crop)
PLOT_COLOURS = {name: entry.colour for name, entry in CODECS.items() if entry.colour}


# aec at a higher encoder effort: `aec-e1` ... `aec-e5` (not in CODEC_NAMES: a run asks for them by name).
AEC_EFFORT = re.compile(r"aec-e([1-9])")


def is_known(name: str) -> bool:
    """A codec name `make` accepts: one of CODEC_NAMES, or aec at an effort level (`aec-e2`)."""
    return name in CODECS or AEC_EFFORT.fullmatch(name) is not None


def make(name: str, *, threads: int = 1, aec_weights: str | None = None) -> Adapter:
    """The adapter for one codec name; raises CodecUnavailable when its library is missing."""
    effort = AEC_EFFORT.fullmatch(name)
    if effort:
        return make_aec(threads, aec_weights, int(effort.group(1)))
    if name not in CODECS:
        raise ValueError(f"unknown codec {name!r}; choose from {', '.join(CODEC_NAMES)} or aec-e1 .. aec-e5")
    return CODECS[name].make(threads, aec_weights)


def load(
    names: Sequence[str], *, threads: int = 1, aec_weights: str | None = None
) -> tuple[list[Adapter], dict[str, str]]:
    """The usable adapters among `names`, in order, and a reason for each codec that was skipped."""
    adapters, skipped = [], {}
    for name in names:
        try:
            adapters.append(make(name, threads=threads, aec_weights=aec_weights))
        except CodecUnavailable as error:
            skipped[name] = str(error)
    return adapters, skipped
