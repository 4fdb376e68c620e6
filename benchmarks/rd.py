"""Rate-distortion benchmark of aec against the classic image codecs.

For every codec, quality and image: bits per pixel of the real bytes written, RGB PSNR, MS-SSIM, encode and decode
time and peak memory. Writes per-image and per-curve CSV, a JSON summary, RD plots, a Bjøntegaard table, a speed
table, a side-by-side crop figure at about equal rate, and report.md that ties them together.

    python benchmarks/rd.py                         # all codecs on ../shared/data/kodak, into bench_out/
    python benchmarks/rd.py --quick --out /tmp/rd   # smoke test: two images, three qualities per codec
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # Run as `python benchmarks/rd.py`: make the repository importable (benchmarks.*, and aec's codec package).
    sys.path.insert(0, str(REPO_ROOT))

from aec.images import IMAGE_SUFFIXES, list_images  # noqa: E402
from aec.train.data import DEFAULT_KODAK, SHARED  # noqa: E402
from benchmarks import adapters, memory, metrics, report  # noqa: E402
from benchmarks.adapters import Adapter  # noqa: E402
from benchmarks.report import Crop, ImageResult  # noqa: E402

DEFAULT_REFERENCE = SHARED / "reference" / "kodak"  # from the current folder, as the images
# The crop figure: the red macaw's eye and beak in kodim23 show blocking, ringing and chroma bleeding well.
DEFAULT_CROP_IMAGE = "kodim23"
DEFAULT_CROP_BOX = (390, 100, 256)


@dataclass(frozen=True)
class TestImage:
    name: str
    pixels: np.ndarray  # H x W x 3 uint8
    sha256: str
    path: Path | None = None

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def load_images(directory: Path, limit: int | None = None) -> list[TestImage]:
    """The images of a folder, sorted by name, as RGB arrays (an alpha channel is dropped)."""
    paths = list_images(directory)
    if limit is not None:
        paths = paths[:limit]
    images = []
    for path in paths:
        with Image.open(path) as image:
            pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        images.append(TestImage(path.stem, pixels, hashlib.sha256(path.read_bytes()).hexdigest(), path))
    return images


# --- measuring -----------------------------------------------------------------------------------------------------


def timed(call: Callable[[], object], repeat: int = 1) -> tuple[object, float]:
    """Run `call` `repeat` times: its first result and the median wall time in milliseconds."""
    times = []
    result = None
    for attempt in range(repeat):
        start = time.perf_counter()
        outcome = call()
        times.append(time.perf_counter() - start)
        if attempt == 0:
            result = outcome
    return result, 1e3 * statistics.median(times)


def measure(adapter: Adapter, quality: float, image: TestImage, repeat: int = 1) -> ImageResult:
    """Encode and decode one image at one quality; rate from the bytes, quality metrics from the decoded pixels."""
    data, encode_ms = timed(lambda: adapter.encode(image.pixels, quality), repeat)
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise RuntimeError(f"encoder returned {type(data).__name__} of length {len(data) if data else 0}, not bytes")
    decoded, decode_ms = timed(lambda: adapter.decode(bytes(data)), repeat)
    decoded = np.asarray(decoded)
    if decoded.shape != image.pixels.shape or decoded.dtype != np.uint8:
        raise RuntimeError(f"decoded {decoded.shape} {decoded.dtype}, expected {image.pixels.shape} uint8")
    try:
        ms_ssim = metrics.ms_ssim(image.pixels, decoded)
    except ValueError:
        ms_ssim = math.nan  # image too small for five scales
    return ImageResult(
        codec=adapter.name,
        quality=float(quality),
        image=image.name,
        width=image.width,
        height=image.height,
        bytes=len(data),
        bpp=metrics.bits_per_pixel(len(data), image.height, image.width),
        psnr=metrics.psnr(image.pixels, decoded),
        ms_ssim=ms_ssim,
        ms_ssim_db=metrics.ms_ssim_db(ms_ssim),
        encode_ms=encode_ms,
        decode_ms=decode_ms,
    )


def run(
    codecs: Sequence[Adapter],
    images: Sequence[TestImage],
    qualities: dict[str, Sequence[float]],
    repeat: int = 1,
    progress: bool = True,
) -> tuple[list[ImageResult], list[str]]:
    """Every codec at each of its qualities on every image; failed points are reported, not fatal."""
    from tqdm import tqdm

    total = sum(len(qualities[c.name]) for c in codecs) * len(images)
    rows, errors = [], []
    with tqdm(total=total, unit="img", file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        for adapter in codecs:
            for quality in qualities[adapter.name]:
                bar.set_description(f"{adapter.name} q={quality:g}")
                for image in images:
                    try:
                        rows.append(measure(adapter, quality, image, repeat))
                    except Exception as error:  # noqa: BLE001  (one bad point must not end the run)
                        message = f"{adapter.name} q={quality:g} {image.name}: {type(error).__name__}: {error}"
                        errors.append(message)
                        bar.write(f"error: {message}", file=sys.stderr)
                    bar.update()
    return rows, errors


def _candidates(adapter: Adapter, steps: int = 65) -> list[float]:
    """Quality settings from worst to best, for the equal-rate search."""
    worst, best = adapter.quality_range
    if adapter.integer_quality:
        step = 1 if best >= worst else -1
        return [float(q) for q in range(int(worst), int(best) + step, step)]
    return [float(q) for q in np.linspace(worst, best, steps)]


def at_rate(adapter: Adapter, image: TestImage, target_bpp: float) -> tuple[float, bytes]:
    """The best quality whose file is at most `target_bpp` (the worst quality if none is), by bisection."""
    candidates = _candidates(adapter)
    encoded: dict[int, bytes] = {}

    def bpp(index: int) -> float:
        if index not in encoded:
            encoded[index] = adapter.encode(image.pixels, candidates[index])
        return metrics.bits_per_pixel(len(encoded[index]), image.height, image.width)

    low, high = 0, len(candidates) - 1
    if bpp(low) > target_bpp:
        return candidates[low], encoded[low]
    if bpp(high) <= target_bpp:
        return candidates[high], encoded[high]
    while high - low > 1:  # invariant: bpp(low) <= target < bpp(high)
        middle = (low + high) // 2
        if bpp(middle) <= target_bpp:
            low = middle
        else:
            high = middle
    return candidates[low], encoded[low]


def equal_rate_crops(
    codecs: Sequence[Adapter], image: TestImage, target_bpp: float, box: tuple[int, int, int]
) -> list[Crop]:
    """The original and each codec's decoded crop at about `target_bpp` on this image."""
    left, top, size = box
    window = (slice(top, top + size), slice(left, left + size))
    crops = [Crop("original", "Original", None, None, None, image.pixels[window])]
    for adapter in codecs:
        quality, data = at_rate(adapter, image, target_bpp)
        decoded = np.asarray(adapter.decode(data))
        crops.append(
            Crop(
                codec=adapter.name,
                label=adapter.label,
                quality=quality,
                bpp=metrics.bits_per_pixel(len(data), image.height, image.width),
                psnr=metrics.psnr(image.pixels, decoded),
                pixels=decoded[window],
            )
        )
    return crops


# --- command line --------------------------------------------------------------------------------------------------


def parse_qualities(specs: Sequence[str], names: Sequence[str]) -> dict[str, list[float]]:
    """`--qualities 10,20,30` (every codec) or `--qualities jpeg420=10,20 --qualities avif=30,50` (one codec)."""
    chosen: dict[str, list[float]] = {}
    for spec in specs:
        target, _, values = spec.rpartition("=")
        try:
            numbers = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise SystemExit(f"error: --qualities {spec!r}: expected numbers separated by commas") from None
        if not numbers:
            raise SystemExit(f"error: --qualities {spec!r}: no values")
        if target and target not in names:
            raise SystemExit(f"error: --qualities {spec!r}: {target!r} is not one of the codecs ({', '.join(names)})")
        for name in [target] if target else names:
            chosen[name] = numbers
    return chosen


def spread(values: Sequence[float], count: int) -> list[float]:
    """`count` values spread over a sorted sweep, ends included (for --quick)."""
    if len(values) <= count:
        return list(values)
    indexes = np.linspace(0, len(values) - 1, count).round().astype(int)
    return [values[i] for i in sorted(set(indexes))]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/rd.py",
        description="Rate-distortion benchmark of aec against the classic image codecs (--codecs lists them).",
    )
    parser.add_argument(
        "--images",
        type=Path,
        default=None,
        help=f"folder of test images (default: {DEFAULT_KODAK}, from the current folder, when it exists)",
    )
    parser.add_argument(
        "--codecs",
        default=",".join(adapters.CODEC_NAMES),
        help="comma-separated codecs (default: all: %(default)s)",
    )
    parser.add_argument(
        "--qualities",
        action="append",
        default=[],
        metavar="[CODEC=]Q1,Q2,...",
        help="quality settings for every codec, or for one codec with CODEC=; repeatable (default: each codec's sweep)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench_out", help="output folder (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smoke test: two images, three qualities per codec")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--aec-weights", default=None, metavar="PATH", help="aec weights file, passed to Codec(weights=)")
    parser.add_argument("--threads", type=int, default=1, help="threads per codec where the library allows (default: 1)")
    parser.add_argument("--repeat", type=int, default=1, help="time each encode and decode N times, keep the median")
    parser.add_argument(
        "--bd-test",
        default="aec",
        metavar="CODEC",
        help="the codec whose BD-rate against every other curve is tabulated (default: aec)",
    )
    parser.add_argument("--bd-method", choices=("pchip", "akima"), default="pchip", help="BD interpolation")
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help=f"folder of published curves (default: {DEFAULT_REFERENCE}, from the current folder, used only with "
        "the default Kodak images)",
    )
    parser.add_argument(
        "--plot-references",
        default=",".join(report.DEFAULT_PLOTTED_REFERENCES),
        help="published curves to draw, comma-separated, or 'all' or 'none' (default: %(default)s)",
    )
    parser.add_argument("--max-bpp", type=float, default=2.0, help="right end of the RD plots' bpp axis")
    parser.add_argument("--crop-image", default=DEFAULT_CROP_IMAGE, help="image of the crop figure (default: %(default)s)")
    parser.add_argument(
        "--crop-box",
        default=None,
        metavar="LEFT,TOP,SIZE",
        help="square crop (default: 390,100,256 on kodim23, else the centre)",
    )
    parser.add_argument("--crop-bpp", type=float, default=0.15, help="target rate of the crop figure (default: 0.15)")
    parser.add_argument(
        "--crop-codecs", default=",".join(adapters.CROP_CODECS), help="codecs of the crop figure (default: %(default)s)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _crop_box(spec: str | None, image: TestImage) -> tuple[int, int, int]:
    if spec:
        try:
            left, top, size = (int(v) for v in spec.split(","))
        except ValueError:
            raise SystemExit(f"error: --crop-box {spec!r}: expected LEFT,TOP,SIZE") from None
    elif image.name == DEFAULT_CROP_IMAGE:
        left, top, size = DEFAULT_CROP_BOX
    else:
        size = min(256, image.height, image.width)
        left, top = (image.width - size) // 2, (image.height - size) // 2
    if left < 0 or top < 0 or size <= 0 or left + size > image.width or top + size > image.height:
        raise SystemExit(f"error: crop box {left},{top},{size} does not fit {image.name} ({image.width}x{image.height})")
    return left, top, size


def _machine() -> dict:
    import scipy

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "bjontegaard": adapters.package_version("bjontegaard"),
        "matplotlib": adapters.package_version("matplotlib"),
    }


def _shown(path: Path) -> str:
    """A path as the committed results should show it: relative to the repository root (../shared/...)."""
    return os.path.relpath(path.resolve(), REPO_ROOT)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python benchmarks/rd.py" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    started = time.time()

    image_dir = args.images or DEFAULT_KODAK
    if not image_dir.is_dir():
        raise SystemExit(f"error: no image folder {image_dir}; pass --images DIR")
    images = load_images(image_dir, 2 if args.quick and args.limit is None else args.limit)
    if not images:
        raise SystemExit(f"error: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {image_dir}")
    small = [i.name for i in images if min(i.height, i.width) < metrics.MS_SSIM_MIN_SIDE]
    if small:
        _say(f"note: MS-SSIM is undefined below {metrics.MS_SSIM_MIN_SIDE} px, recorded as nan for: {', '.join(small)}")

    names = [n.strip() for n in args.codecs.split(",") if n.strip()]
    unknown = [n for n in names if not adapters.is_known(n)]
    if unknown:
        raise SystemExit(f"error: unknown codec(s) {', '.join(unknown)}; choose from {', '.join(adapters.CODEC_NAMES)} "
                         "or aec-e1 .. aec-e5 (aec at an encoder effort)")
    if args.threads < 1 or args.repeat < 1:
        raise SystemExit("error: --threads and --repeat must be at least 1")
    codecs, skipped = adapters.load(names, threads=args.threads, aec_weights=args.aec_weights)
    for name, reason in skipped.items():
        _say(f"skipping {name}: {reason}")
    if not codecs:
        raise SystemExit("error: none of the chosen codecs can run here")

    chosen = parse_qualities(args.qualities, [c.name for c in codecs])
    qualities = {}
    for adapter in codecs:
        sweep = chosen.get(adapter.name, list(adapter.qualities))
        qualities[adapter.name] = spread(sweep, 3) if args.quick and adapter.name not in chosen else sweep

    _say(f"{len(images)} images from {image_dir}; codecs: {', '.join(c.name for c in codecs)}; out: {args.out}")
    rows, errors = run(codecs, images, qualities, repeat=args.repeat, progress=not args.quiet)
    points, dropped = report.summarize_curves(rows, len(images))
    for message in dropped:
        _say(f"note: {message}")
    curves = report.by_codec(points)
    labels = {c.name: c.label for c in codecs}

    # Published Kodak curves belong on the plots only when the images are the Kodak set.
    on_kodak = image_dir.resolve() == DEFAULT_KODAK.resolve()
    reference_dir = args.reference or (DEFAULT_REFERENCE if on_kodak else None)
    references = report.load_reference(reference_dir) if reference_dir and reference_dir.is_dir() else {}
    if args.plot_references == "all":
        plotted = references
    else:
        wanted = [n.strip() for n in args.plot_references.split(",") if n.strip() and n.strip() != "none"]
        plotted = {n: references[n] for n in wanted if n in references}

    lossless = {c.name for c in codecs if c.lossless}
    lossy = {c: curve for c, curve in curves.items() if c not in lossless}
    bd_rows: list[report.BDRow] = []
    bd_note = ""
    if args.bd_test in lossy:
        others = {c: curve for c, curve in lossy.items() if c != args.bd_test}
        bd_rows = report.bd_table(lossy[args.bd_test], others, labels, "measured", args.bd_method)
        bd_rows += report.bd_table(lossy[args.bd_test], references, report.REFERENCE_LABELS, "published", args.bd_method)
    else:
        bd_note = f"{args.bd_test} was not measured in this run, so there is no BD table"
        _say(f"note: {bd_note}")
    peaks = {}
    for adapter in codecs:
        # One fresh process per codec, on the first image at the middle of the sweep: see benchmarks/memory.py.
        middle = qualities[adapter.name][len(qualities[adapter.name]) // 2]
        encode_peak, decode_peak, problem = memory.measure_in_child(
            adapter.name, middle, images[0].path, args.threads, args.aec_weights
        )
        peaks[adapter.name] = (encode_peak, decode_peak)
        if problem:
            _say(f"note: no peak memory for {adapter.name}: {problem}")
    speed = report.speed_table(rows, labels, peaks)

    crops: list[Crop] = []
    crop_codecs = [c for c in codecs if c.name in args.crop_codecs.split(",") and not c.lossless]
    crop_image = next((i for i in images if i.name == args.crop_image), images[0])
    if crop_codecs:
        box = _crop_box(args.crop_box, crop_image)
        crops = equal_rate_crops(crop_codecs, crop_image, args.crop_bpp, box)

    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out
    dataset = f"{image_dir.name} ({len(images)} image{'s' if len(images) != 1 else ''})"
    lossless_notes = [
        f"{labels[c]}: {curve[0].bpp:.2f} bpp" for c, curve in curves.items() if c in lossless
    ]
    footnote = ("Lossless, off the chart: " + "; ".join(lossless_notes)) if lossless_notes else ""
    report.write_csv(out / "per_image.csv", rows)
    report.write_csv(out / "curves.csv", points)
    report.write_bd_csv(out / "bd_rate.csv", bd_rows)
    report.write_csv(out / "speed.csv", speed)
    for metric, filename, what in (("psnr", "rd_psnr.png", "RGB PSNR"), ("ms_ssim_db", "rd_msssim.png", "MS-SSIM")):
        report.plot_rd(
            out / filename,
            metric,
            lossy,
            labels,
            plotted,
            f"{what} against rate on {dataset}",
            highlight=args.bd_test,
            max_bpp=args.max_bpp,
            footnote=footnote,
        )
    if crops:
        report.plot_crops(
            out / "crops.png",
            crops,
            f"{crop_image.name} at about {args.crop_bpp:g} bpp",
            f"Each codec at its best setting whose file is at most {args.crop_bpp:g} bpp; bpp and PSNR are of the "
            f"whole image, the {crops[0].pixels.shape[1]}x{crops[0].pixels.shape[0]} crop is enlarged without smoothing.",
        )
    wall_s = time.time() - started
    summary = {
        "benchmark": "aec rate-distortion",
        "schema": 1,
        "command": command,
        "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
        "machine": _machine(),
        "dataset": {
            "folder": _shown(image_dir),
            "images": [{"name": i.name, "width": i.width, "height": i.height, "sha256": i.sha256} for i in images],
        },
        "method": {
            "bpp": "8 * len(bytes written, container header included) / (width * height), averaged over images",
            "psnr": "RGB, 8-bit, data range 255, per image then averaged over images; inf when lossless",
            "ms_ssim": "Wang 2003, 5 scales, 11x11 Gaussian sigma 1.5, per RGB channel then averaged, data range 255; "
            "averaged over images; ms_ssim_db = -10*log10(1 - mean ms_ssim)",
            "time": f"wall time per image, median of {args.repeat} run(s) per image; curve and speed tables give the "
            "median over images",
            "peak_memory": "rise of the peak resident set (VmHWM) over one encode and one decode of the first image at "
            "the middle quality, in a fresh process that returns large blocks to the kernel (benchmarks/memory.py), MiB",
            "bd": f"bjontegaard package, {args.bd_method}, log10(bpp), over the overlapping range; "
            "negative BD-rate: the test codec needs fewer bits",
            "threads": args.threads,
        },
        "codecs": {
            c.name: {
                "label": c.label,
                "versions": c.versions,
                "settings": c.settings,
                "quality_meaning": c.quality_meaning,
                "qualities": qualities[c.name],
                "lossless": c.lossless,
            }
            for c in codecs
        },
        "skipped": skipped,
        "errors": errors,
        "curves": curves,
        "bd": {"test": args.bd_test, "method": args.bd_method, "note": bd_note, "rows": report.bd_csv_rows(bd_rows)},
        "speed": speed,
        "crops": [
            {"codec": c.codec, "quality": c.quality, "bpp": c.bpp, "psnr": c.psnr} for c in crops if c.bpp is not None
        ],
        "reference": {"folder": _shown(reference_dir) if references else None, "curves": references},
        "rows": rows,
    }
    report.write_json(out / "summary.json", summary)
    report.write_markdown_report(out / "report.md", summary, curves, labels, bd_rows, speed, bool(crops))
    _say(f"done in {wall_s / 60:.1f} min: {len(rows)} measurements, {len(errors)} errors; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
