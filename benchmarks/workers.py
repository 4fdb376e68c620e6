"""How much the layer workers (``aec.ops.workers``) and the g_s tile buy, in one process, taking turns:

    python benchmarks/workers.py --model aec-light-r2 --model aec-sc192-r9 --images 12 --rounds 3

After 0.9.0, aec shares each numpy layer's strips (and a stride-1 layer's or a GDN's columns) out to one thread per core,
each with a one-thread BLAS, and runs g_s in tiles of 48 latent pixels; before, the BLAS's own threads split only the
matrix products, and g_s ran in tiles of 32 (two tiles and a quarter recomputed for a Kodak image). This times the
three ways side by side with the same codec objects: before (BLAS threads, tile 32), the tile alone (BLAS threads,
tile 48) and now (workers, tile 48). The old ways are set by replacing ``aec.api.workers`` with a no-op and
``aec.channel_slice.SYNTHESIS_TILE``, in this process only. Each round codes every image of every model in every way
(encode of the image, decode of its file), the ways taking turns image by image in a rotating order, so that a slow
spell of a shared machine falls on all of them; the table gives the medians in milliseconds of the whole call and of
the two stages that the change touches most. Run it on an idle machine, or say what ran beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

import aec  # noqa: E402
import aec.api  # noqa: E402
import aec.channel_slice  # noqa: E402
from aec.timing import Stopwatch  # noqa: E402
from benchmarks import side_by_side  # noqa: E402

WAYS = {"BLAS threads, tile 32 (before)": (False, 32), "BLAS threads, tile 48": (False, 48),
        "workers, tile 48 (now)": (True, 48)}
COLUMNS = ("encode", "decode", "g_s", "slice networks")


@contextlib.contextmanager
def way(workers: bool, tile: int):
    """The codec as it was (no layer workers) or is, with this g_s tile, while the block runs."""
    saved = aec.api.workers, aec.channel_slice.SYNTHESIS_TILE
    if not workers:
        aec.api.workers = lambda jobs: contextlib.nullcontext()
    aec.channel_slice.SYNTHESIS_TILE = tile
    try:
        yield
    finally:
        aec.api.workers, aec.channel_slice.SYNTHESIS_TILE = saved


def measure(codecs: dict[str, aec.Codec], images: list[np.ndarray], rounds: int) -> dict:
    """{model: {way: {column: median ms}}} over ``rounds`` rounds of every image."""
    files = {name: [codec.compress(image) for image in images] for name, codec in codecs.items()}
    times: dict = {name: {w: {c: [] for c in COLUMNS} for w in WAYS} for name in codecs}
    labels = list(WAYS)
    for round_ in range(rounds):
        for name, codec in codecs.items():
            for index, (image, data) in enumerate(zip(images, files[name])):
                shift = (round_ + index) % len(labels)  # the ways take turns image by image, their order rotating
                for label in labels[shift:] + labels[:shift]:
                    with way(*WAYS[label]):
                        started = time.perf_counter()
                        codec.compress(image)
                        times[name][label]["encode"].append(time.perf_counter() - started)
                        with Stopwatch() as watch:
                            started = time.perf_counter()
                            codec.decompress_array(data)
                            times[name][label]["decode"].append(time.perf_counter() - started)
                    for stage in ("g_s", "slice networks"):
                        times[name][label][stage].append(watch.seconds.get(stage, 0.0))
    return {name: {label: {c: 1000 * statistics.median(v) for c, v in columns.items()}
                   for label, columns in ways.items()} for name, ways in times.items()}


def table(results: dict) -> str:
    lines = ["| model | way | " + " | ".join(f"{c} ms" for c in COLUMNS) + " | decode / before |",
             "|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for name, ways in results.items():
        before = ways[next(iter(WAYS))]["decode"]
        for label, columns in ways.items():
            lines.append(f"| {name} | {label} | " + " | ".join(f"{columns[c]:.0f}" for c in COLUMNS)
                         + f" | {columns['decode'] / before:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    side_by_side.add_arguments(parser, images=12)
    args = parser.parse_args(argv)
    images, codecs = side_by_side.load(parser, args)
    results = measure(codecs, images, args.rounds)
    print(f"{len(images)} images, {args.rounds} rounds, {args.threads} thread(s); medians in ms\n")
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "images": len(images), "rounds": args.rounds,
                                        "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
