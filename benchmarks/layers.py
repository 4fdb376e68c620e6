"""How close each numpy layer runs to the CPU's arithmetic peak: `python benchmarks/layers.py [--threads 1,2]`.

Times every layer of g_a and g_s (the numpy encoder and decoder of ``aec.channel_slice``: float32) and of the exact
slice networks (``aec.exact``: float64) on a Kodak-sized input (768x512 pixels, 48x32 latent pixels), the median of
--runs calls after one warm-up, with numpy's BLAS limited to each thread count; prints the multiply-adds of each
layer and the GFLOP/s it reached (two operations per multiply-add). A convolution of C inputs, D outputs and a k x k
kernel costs C * D * k**2 multiply-adds per output pixel; a stride-2 transposed one the same per input pixel; a GDN
C * C. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from aec.decoder import coders_from_file, load_coders  # noqa: E402
from aec.ops import GDN, Conv, ConvTranspose  # noqa: E402


def multiply_adds(layer, x: np.ndarray, y: np.ndarray) -> float:
    """The multiply-adds of one call of a layer on input x with output y."""
    if isinstance(layer, Conv):
        return float(y.shape[1] * y.shape[2] * layer.outputs * layer.inputs * layer.kernel**2)
    if isinstance(layer, ConvTranspose):
        return float(x.shape[1] * x.shape[2] * layer.outputs * layer.inputs * layer.kernel**2)
    if isinstance(layer, GDN):
        return float(x.shape[1] * x.shape[2] * x.shape[0] ** 2)
    return 0.0


def time_layers(name: str, layers: list, x: np.ndarray, runs: int) -> list[dict]:
    rows = []
    for number, layer in enumerate(layers):
        y = layer(x.copy())  # warm-up (and the next layer's input); some layers work in place
        seconds = []
        for _ in range(runs):
            piece = x.copy()
            started = time.perf_counter()
            layer(piece)
            seconds.append(time.perf_counter() - started)
        rows.append({"layer": f"{name}.{number} {type(layer).__name__}", "seconds": statistics.median(seconds),
                     "multiply_adds": multiply_adds(layer, x, y)})
        x = y
    return rows


def measure(weights: str | None, threads: int, runs: int) -> list[dict]:
    decoder, encoder, _, _ = coders_from_file(Path(weights)) if weights else load_coders()
    rng = np.random.default_rng(0)
    pixels = rng.random((3, 512, 768), dtype=np.float32)
    with threadpool_limits(threads):
        rows = time_layers("g_a", encoder.analysis.layers, pixels, runs)
        latent = encoder.analysis(pixels)
        rows += time_layers("g_s", decoder.synthesis.layers, latent, runs)
        path = decoder.latents
        support = np.floor(rng.random((path.params[0].layers[0].conv.inputs, 32, 48)) * 256)
        for network_name, network in (("params.0", path.params[0]), ("params.3", path.params[-1])):
            width = network.layers[0].conv.inputs
            x = np.floor(rng.random((width, 32, 48)) * 256) if width != support.shape[0] else support
            rows += time_layers(network_name, [layer.conv for layer in network.layers], x, runs)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--weights", help=".safetensors file (default: the shipped model)")
    args = p.parse_args(argv)
    for threads in (int(t) for t in args.threads.split(",")):
        rows = measure(args.weights, threads, args.runs)
        print(f"{threads} thread(s):")
        for row in rows:
            rate = 2 * row["multiply_adds"] / row["seconds"] / 1e9 if row["multiply_adds"] else 0.0
            print(f"  {row['layer']:28s} {row['seconds'] * 1000:7.1f} ms  {row['multiply_adds'] / 1e9:6.2f} G "
                  f"multiply-adds  {rate:6.1f} GFLOP/s")
        for network in ("g_a", "g_s"):
            mine = [r for r in rows if r["layer"].startswith(network)]
            seconds, work = sum(r["seconds"] for r in mine), sum(r["multiply_adds"] for r in mine)
            print(f"  {network} in all: {seconds * 1000:.0f} ms, {work / 1e9:.1f} G multiply-adds, "
                  f"{2 * work / seconds / 1e9:.0f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
