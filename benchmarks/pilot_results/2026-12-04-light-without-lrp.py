"""A probe (session 21): aec-light-r1 with its latent residual prediction (LRP) switched off on both sides, without
retraining, against it as it is: BD-rate on the 24 Kodak images (`rd`) and decode time, taking turns (`time`).
See the .md file beside it. Needs ../shared/data/kodak (as /work/shared/data/kodak here)."""

import glob
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import aec  # noqa: E402
from aec.timing import Stopwatch  # noqa: E402
from benchmarks.bd import bd_rate  # noqa: E402

KODAK = sorted(glob.glob("/work/shared/data/kodak/*.png")) or sorted(glob.glob("../shared/data/kodak/*.png"))


def codec_for(way: str, threads: int, image: np.ndarray) -> aec.Codec:
    codec = aec.Codec("aec-light-r1", threads=threads)
    if way == "without LRP":  # every residual network answers zeros: y_hat = 256 s + m, on both sides
        latents = codec._decoder_for(aec.bitstream.parse(codec.compress(image[:64, :64]))[0]).latents
        latents.residuals = [(lambda net: (lambda piece: np.zeros((net.layers[-1].conv.outputs,) + piece.shape[1:])))(net)
                             for net in latents.residuals]
    return codec


def rd() -> None:
    images = [np.asarray(Image.open(f).convert("RGB")) for f in KODAK]
    curves = {}
    for way in ("with LRP", "without LRP"):
        codec = codec_for(way, 1, images[0])
        rows = []
        for q in range(1, 7):
            bpp, psnr = [], []
            for im in images:
                data = codec.compress(im, model_quality=q)
                out = codec.decompress_array(data).astype(np.float64)
                bpp.append(8 * len(data) / (im.shape[0] * im.shape[1]))
                psnr.append(10 * np.log10(255 ** 2 / np.mean((out - im) ** 2)))
            rows.append((np.mean(bpp), np.mean(psnr)))
            print(way, q, "%.4f bpp %.2f dB" % rows[-1], flush=True)
        curves[way] = rows
    a, b = curves["with LRP"], curves["without LRP"]
    print(bd_rate([r for r, _ in a], [p for _, p in a], [r for r, _ in b], [p for _, p in b]))


def timing() -> None:
    images = [np.asarray(Image.open(f).convert("RGB")) for f in KODAK[:6]]
    codecs = {}
    for way in ("with LRP", "without LRP"):
        codec = codec_for(way, 2, images[0])
        codecs[way] = (codec, [codec.compress(im, model_quality=4) for im in images])
    times = {w: {"decode": [], "slice networks": []} for w in codecs}
    for r in range(3):
        for i in range(len(images)):
            for way in (list(codecs) if (r + i) % 2 == 0 else list(codecs)[::-1]):
                codec, files = codecs[way]
                with Stopwatch() as watch:
                    started = time.perf_counter()
                    codec.decompress_array(files[i])
                    elapsed = time.perf_counter() - started
                times[way]["decode"].append(elapsed)
                times[way]["slice networks"].append(watch.seconds["slice networks"])
    for way, t in times.items():
        print(way, {k: round(1000 * statistics.median(v), 1) for k, v in t.items()})


if __name__ == "__main__":
    {"rd": rd, "time": timing}[sys.argv[1] if len(sys.argv) > 1 else "rd"]()
