"""Format 2.0's indexed y blocks against format 1's Gaussian blocks, the same images, taking turns:

    python benchmarks/y_coding.py --model aec-fast-r1 --model aec-sc192-r10 --images 24 --rounds 3

Each image is compressed once (format 2.0, as aec writes since 0.10.0); its y symbols and scale indexes are kept
and coded again as format 1 codes them (``SymbolEncoder.encode_gaussian``), which makes the 1.x file an older aec
would have written: the same header and sections but the YLAT payload. Both files must decode to the same pixels.
Then both are decoded by the same codec, taking turns image by image in a rotating order, and the table gives each
format's YLAT bytes (summed over the images) and the medians of the y coding stage and of the whole decode in
milliseconds. Run it on an idle machine, or say what ran beside it.
"""

from __future__ import annotations

import argparse
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
import aec.entropy_models as entropy_models  # noqa: E402
from aec.bitstream import Section, SymbolEncoder, lowest_version, pack, parse  # noqa: E402
from aec.timing import Stopwatch  # noqa: E402
from benchmarks import side_by_side  # noqa: E402

FORMATS = ("1.x (Gaussian blocks)", "2.0 (indexed blocks)")


def both_formats(codec: aec.Codec, image: np.ndarray, quality: float) -> tuple[bytes, bytes]:
    """(the format 1 file, the format 2.0 file) of one image: the same symbols, YLAT coded each way."""
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    encode = entropy_models.IndexedGaussian.encode

    def kept(self, stream, y, mean, index):
        symbols = encode(self, stream, y, mean, index)
        blocks.append((symbols.copy(), np.array(index)))
        return symbols

    entropy_models.IndexedGaussian.encode = kept
    try:
        data = codec.compress(image, model_quality=quality)
    finally:
        entropy_models.IndexedGaussian.encode = encode
    header, sections = parse(data)
    scale_table = codec._decoder_for(header).latents.y_model.scale_table
    encoder = SymbolEncoder(scale_table)
    for symbols, index in blocks:
        encoder.encode_gaussian(symbols, index)
    old = [Section(s.kind, encoder.finish() if s.kind == "YLAT" else s.payload) for s in sections]
    old_header = header.__class__(**{**header.__dict__, "version": lowest_version(old, 1)})
    return pack(old_header, old), data


def measure(codecs: dict[str, aec.Codec], images: list[np.ndarray], rounds: int, quality: float) -> dict:
    """{model: {format: {"ylat bytes", "y coding", "decode"}}}: bytes summed, times median ms."""
    results = {}
    for name, codec in codecs.items():
        files = [both_formats(codec, image, quality) for image in images]
        for old, new in files:
            if not np.array_equal(codec.decompress_array(old), codec.decompress_array(new)):
                raise SystemExit(f"{name}: the two formats decode to different pixels")
        times = {f: {"y coding": [], "decode": []} for f in FORMATS}
        for round_ in range(rounds):
            for index, pair in enumerate(files):
                order = (0, 1) if (round_ + index) % 2 == 0 else (1, 0)
                for which in order:
                    with Stopwatch() as watch:
                        started = time.perf_counter()
                        codec.decompress_array(pair[which])
                        elapsed = time.perf_counter() - started
                    times[FORMATS[which]]["decode"].append(elapsed)
                    times[FORMATS[which]]["y coding"].append(watch.seconds.get("y coding", 0.0))
        results[name] = {
            label: {"ylat bytes": sum(len(dict((s.kind, s.payload) for s in parse(pair[which])[1])["YLAT"])
                                      for pair in files),
                    **{column: 1000 * statistics.median(values) for column, values in times[label].items()}}
            for which, label in enumerate(FORMATS)}
    return results


def table(results: dict) -> str:
    lines = ["| model | format | YLAT bytes | y coding ms | decode ms | y coding / 1.x | decode / 1.x |",
             "|---|---|---|---|---|---|---|"]
    for name, formats in results.items():
        first = formats[FORMATS[0]]
        for label, row in formats.items():
            lines.append(f"| {name} | {label} | {row['ylat bytes']:,} ({100 * (row['ylat bytes'] / first['ylat bytes'] - 1):+.3f} %) "
                         f"| {row['y coding']:.1f} | {row['decode']:.0f} | {row['y coding'] / first['y coding']:.2f} "
                         f"| {row['decode'] / first['decode']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    side_by_side.add_arguments(parser, images=24)
    parser.add_argument("--quality", type=float, default=4.0, help="model quality (the model's own scale; default 4)")
    args = parser.parse_args(argv)
    images, codecs = side_by_side.load(parser, args)
    results = measure(codecs, images, args.rounds, args.quality)
    print(f"{len(images)} images at model quality {args.quality:g}, {args.rounds} rounds, {args.threads} thread(s); "
          "medians in ms\n")
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps({"threads": args.threads, "images": len(images), "rounds": args.rounds,
                                        "quality": args.quality, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
