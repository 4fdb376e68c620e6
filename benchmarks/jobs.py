"""What `aec compress -j` costs and buys: a worker's start against the coding it takes over.

    python benchmarks/jobs.py --image ../shared/data/kodak/kodim01.png

Times the start of one `-j` worker process as the command line starts it (spawn, import aec, unpickle the Codec,
which loads its model; at effort 0 neither side imports torch) and the encode seconds per megapixel on one thread. N workers pay their start once (in
parallel) and save (1 - 1/N) of the coding, so two pay from about twice a start's worth of coding: the command
line's default (``aec.cli.AUTO_JOBS_MEGAPIXELS``) is set from these numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def worker_start_seconds(codec) -> float:
    """Wall seconds from asking for one -j worker (``aec.pool.PooledCodec``, as the command line starts it) to its
    first answer."""
    from aec.pool import PooledCodec

    started = time.perf_counter()
    with PooledCodec(codec, 1) as pool:
        pool.ready()
    return time.perf_counter() - started


def measure(weights: str | None, image: np.ndarray, runs: int) -> dict:
    import aec

    codec = aec.Codec(weights=weights, threads=1)  # one thread, as in a worker
    codec.model_id  # noqa: B018  (loads the default model first, as the command line does)
    starts = [worker_start_seconds(codec) for _ in range(runs)]
    codec.compress(image)  # warm-up
    encodes = []
    for _ in range(runs):
        started = time.perf_counter()
        codec.compress(image)
        encodes.append(time.perf_counter() - started)
    megapixels = image.shape[0] * image.shape[1] / 1e6
    start, encode = statistics.median(starts), statistics.median(encodes) / megapixels
    return {"model_id": codec.model_id, "worker_start_s": start, "encode_s_per_megapixel": encode,
            "break_even_megapixels": 2 * start / encode, "load_average": os.getloadavg()[0], "cores": os.cpu_count()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/jobs.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, required=True, help="an image to encode (e.g. a Kodak image)")
    parser.add_argument("--weights", help="a model file instead of the installed default model")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.weights, np.asarray(Image.open(args.image).convert("RGB")), args.runs)
    print(f"model {result['model_id']}: a -j worker starts in {result['worker_start_s']:.2f} s, encodes "
          f"{result['encode_s_per_megapixel']:.2f} s per megapixel on one thread: two workers pay from about "
          f"{result['break_even_megapixels']:.1f} megapixels ({result['cores']} cores, load average "
          f"{result['load_average']:.1f})")


if __name__ == "__main__":
    main()
