"""What the side-by-side timing benchmarks (workers.py, y_coding.py, analysis_tile.py) share: the models and images
they take, and for those that time ways of running the same codec, the turns, the table and the command line."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import aec
from aec.threads import cores
from aec.timing import Stopwatch

DEFAULT_IMAGES = Path("../shared/data/kodak")


def add_arguments(parser: argparse.ArgumentParser, images: int) -> None:
    """--model, --weights, --images-dir, --images (default ``images``), --rounds, --threads and --out."""
    parser.add_argument("--model", action="append", dest="models", help="an installed model id (repeat)")
    parser.add_argument("--weights", action="append", default=[], help="a .safetensors model file (repeat)")
    parser.add_argument("--images-dir", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--images", type=int, default=images, help=f"the first N images (default {images})")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=cores(), help="threads to code with (default: every core)")
    parser.add_argument("--out", type=Path, help="also write the results here as JSON")


def load(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[list[np.ndarray], dict[str, aec.Codec]]:
    """The images (RGB arrays) and {name: Codec} the arguments ask for; the parser's error for no images."""
    paths = sorted(args.images_dir.glob("*.png"))[:args.images]
    if not paths:
        parser.error(f"no PNG images in {args.images_dir}")
    images = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    codecs = {}
    for model in args.models or ([] if args.weights else ["default"]):
        codec = aec.Codec(None if model == "default" else model, threads=args.threads)
        codecs[codec.model_id] = codec
    for weights in args.weights:
        codec = aec.Codec(weights=weights, threads=args.threads)
        codecs[f"{codec.model_id} ({Path(weights).name})"] = codec
    return images, codecs


def measure_ways(codecs: dict[str, aec.Codec], images: list[np.ndarray], rounds: int, ways: dict[str, Callable],
                 encode_stages: tuple[str, ...] = (), decode_stages: tuple[str, ...] = ()) -> dict:
    """{model: {way: {column: median ms}}}: every image of every model encoded, and its file decoded, in every way
    (``ways[label]()``, a context manager that sets the way up while the block runs), ``rounds`` times. The ways take
    turns image by image in a rotating order, so that a slow spell of a shared machine falls on all of them. The
    columns are encode, the ``encode_stages`` of aec.timing, decode, then the ``decode_stages``."""
    files = {name: [codec.compress(image) for image in images] for name, codec in codecs.items()}
    stages = {"encode": encode_stages, "decode": decode_stages}
    columns = [column for side in stages for column in (side, *stages[side])]
    times: dict = {name: {label: {c: [] for c in columns} for label in ways} for name in codecs}
    labels = list(ways)
    for round_ in range(rounds):
        for name, codec in codecs.items():
            for index, (image, data) in enumerate(zip(images, files[name])):
                shift = (round_ + index) % len(labels)
                for label in labels[shift:] + labels[:shift]:
                    found = times[name][label]
                    with ways[label]():
                        for side, call in (("encode", lambda: codec.compress(image)),
                                           ("decode", lambda: codec.decompress_array(data))):
                            with Stopwatch() as watch:
                                started = time.perf_counter()
                                call()
                                found[side].append(time.perf_counter() - started)
                            for stage in stages[side]:
                                found[stage].append(watch.seconds.get(stage, 0.0))
    return {name: {label: {c: 1000 * statistics.median(v) for c, v in found.items()}
                   for label, found in by_way.items()} for name, by_way in times.items()}


def table(results: dict, ratios: tuple[str, ...] = ("decode",)) -> str:
    """The results of ``measure_ways`` as a markdown table, with each way's ``ratios`` columns over the first way's."""
    columns = list(next(iter(next(iter(results.values())).values())))
    lines = ["| model | way | " + " | ".join(f"{c} ms" for c in columns) + " | "
             + " | ".join(f"{c} / before" for c in ratios) + " |",
             "|---|---|" + "---|" * (len(columns) + len(ratios))]
    for name, ways in results.items():
        before = next(iter(ways.values()))
        for label, found in ways.items():
            lines.append(f"| {name} | {label} | " + " | ".join(f"{found[c]:.0f}" for c in columns) + " | "
                         + " | ".join(f"{found[c] / before[c]:.2f}" for c in ratios) + " |")
    return "\n".join(lines)


def main(doc: str, argv: list[str] | None, ways: dict[str, Callable], encode_stages: tuple[str, ...] = (),
         decode_stages: tuple[str, ...] = (), ratios: tuple[str, ...] = ("decode",)) -> int:
    """A ways benchmark's command line (``add_arguments``; its description the first line of ``doc``): measure, print
    the table, write the JSON that --out asks for."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_arguments(parser, images=12)
    args = parser.parse_args(argv)
    images, codecs = load(parser, args)
    results = measure_ways(codecs, images, args.rounds, ways, encode_stages, decode_stages)
    print(f"{len(images)} images, {args.rounds} rounds, {args.threads} thread(s); medians in ms\n")
    print(table(results, ratios))
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "images": len(images), "rounds": args.rounds,
                                        "results": results}, indent=1))
    return 0
