"""aec's PNG writer (``aec.png``) against Pillow's at the same zlib level, taking turns image by image:

    python benchmarks/png_writer.py --images 12 --rounds 3

Each round writes every image with Pillow (``compress_level=1``, what aec used before 0.10.0) and with aec.png on 1
and on 2 threads (or --threads), in a rotating order; the table gives the median milliseconds a write and the bytes
of all the images. Run it on an idle machine, or say what ran beside it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from aec import png  # noqa: E402
from aec.outputs import SAVE_OPTIONS  # noqa: E402

DEFAULT_IMAGES = Path("../shared/data/kodak")


def writers(threads: list[int]) -> dict:
    level = SAVE_OPTIONS["PNG"]["compress_level"]

    def pillow(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=level)
        return buffer.getvalue()

    ways = {f"Pillow, level {level}": pillow}
    for count in threads:
        ways[f"aec.png, {count} thread(s)"] = (
            lambda image, count=count: png.encode(np.asarray(image), image.mode, level=level, threads=count))
    return ways


def measure(images: list[Image.Image], rounds: int, threads: list[int]) -> dict:
    """{writer: {"ms": median ms a write, "bytes": bytes of all the images}}."""
    ways = writers(threads)
    times: dict = {name: [] for name in ways}
    sizes = {name: sum(len(write(image)) for image in images) for name, write in ways.items()}
    names = list(ways)
    for round_ in range(rounds):
        for index, image in enumerate(images):
            shift = (round_ + index) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                ways[name](image)
                times[name].append(time.perf_counter() - started)
    return {name: {"ms": 1000 * statistics.median(times[name]), "bytes": sizes[name]} for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-dir", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="aec.png's thread counts (default 1,2)")
    args = parser.parse_args(argv)
    paths = sorted(args.images_dir.glob("*.png"))[:args.images]
    if not paths:
        parser.error(f"no PNG images in {args.images_dir}")
    images = [Image.open(path).convert("RGB") for path in paths]
    results = measure(images, args.rounds, [int(t) for t in args.threads.split(",")])
    first = next(iter(results.values()))
    print(f"{len(images)} images, {args.rounds} rounds; medians\n")
    print("| writer | ms a write | bytes | bytes / Pillow's |\n|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['ms']:.1f} | {row['bytes']:,} | {row['bytes'] / first['bytes']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
