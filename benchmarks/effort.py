"""What encoder effort buys: BD-rate against encode time, per effort level: `python benchmarks/effort.py --out DIR`.

Every image is coded at every effort and quality through the public API (real bytes, decoded by the real decoder,
PSNR on 8-bit RGB); the curve of each effort (bpp and PSNR averaged over the images at each quality) is compared
with effort 0's by BD-rate (PCHIP). Encode seconds are per image, median over the images, on the threads given.
Refinement costs grow with the pixels, so the default is a centre crop of a few Kodak images (--crop 0 for whole
images). Writes DIR/effort.json, DIR/effort.md and DIR/effort.png (gain against seconds).
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
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from aec.images import list_images  # noqa: E402
from aec.config import EFFORT_ITERATIONS  # noqa: E402
from aec.train.data import DEFAULT_KODAK  # noqa: E402
from benchmarks.bd import bd_quality, bd_rate  # noqa: E402
from benchmarks.metrics import psnr  # noqa: E402

DEFAULT_IMAGES = ("kodim03.png", "kodim13.png", "kodim21.png")


def load_images(folder: Path, names: list[str], crop: tuple[int, int] | None) -> list[np.ndarray]:
    available = {p.name: p for p in list_images(folder)}
    images = []
    for name in names:
        if name not in available:
            raise SystemExit(f"error: no {name} in {folder}")
        array = np.asarray(Image.open(available[name]).convert("RGB"))
        if crop:
            top, left = (array.shape[0] - crop[0]) // 2, (array.shape[1] - crop[1]) // 2
            array = array[max(top, 0):max(top, 0) + crop[0], max(left, 0):max(left, 0) + crop[1]]
        images.append(np.ascontiguousarray(array))
    return images


def measure(codec, images: list[np.ndarray], efforts: list[int], qualities: list[float],
            levels: tuple[int, ...] = EFFORT_ITERATIONS) -> dict:
    """Per effort: the averaged (bpp, PSNR) at each quality and the median encode seconds per image; ``levels`` are
    the refinement steps of each effort, as recorded."""
    results = {}
    for effort in efforts:
        points, seconds = [], []
        for quality in qualities:
            bpps, psnrs = [], []
            for array in images:
                started = time.perf_counter()
                result = codec.encode(array, model_quality=quality, effort=effort)
                seconds.append(time.perf_counter() - started)
                decoded = codec.decompress_array(result.data)
                bpps.append(result.bits_per_pixel)
                psnrs.append(psnr(array, decoded))
            points.append({"quality": quality, "bpp": float(np.mean(bpps)), "psnr": float(np.mean(psnrs))})
        results[str(effort)] = {"iterations": levels[effort], "points": points,
                                "seconds_per_image": float(statistics.median(seconds))}
        print(f"effort {effort}: {results[str(effort)]['seconds_per_image']:.1f} s per image", file=sys.stderr,
              flush=True)
    base = results[str(efforts[0])]["points"]
    for entry in results.values():
        curves = ([p["bpp"] for p in base], [p["psnr"] for p in base],
                  [p["bpp"] for p in entry["points"]], [p["psnr"] for p in entry["points"]])
        entry["bd_rate"] = bd_rate(*curves).value
        entry["bd_psnr"] = bd_quality(*curves).value
    return results


def report(results: dict, header: str) -> str:
    lines = [header, "", "| effort | iterations | encode s per image | BD-rate vs effort 0 | BD-PSNR |", "|---|---|---|---|---|"]
    for effort, entry in results.items():
        rate = "n/a" if entry["bd_rate"] is None else f"{entry['bd_rate']:+.1f} %"
        quality = "n/a" if entry["bd_psnr"] is None else f"{entry['bd_psnr']:+.2f} dB"
        lines.append(f"| {effort} | {entry['iterations']} | {entry['seconds_per_image']:.1f} | {rate} | {quality} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    seconds = [entry["seconds_per_image"] for entry in results.values()]
    gains = [entry["bd_rate"] or 0.0 for entry in results.values()]
    axis.plot(seconds, gains, "o-", color="tab:red")
    for effort, x, y in zip(results, seconds, gains):
        axis.annotate(f"effort {effort}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axis.set_xscale("symlog", linthresh=1.0)
    axis.set_xlabel("encode seconds per image")
    axis.set_ylabel("BD-rate against effort 0 (%)")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/effort.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--images-dir", default=str(DEFAULT_KODAK), help=f"images (default {DEFAULT_KODAK})")
    p.add_argument("--images", default=",".join(DEFAULT_IMAGES), help="file names (default %(default)s)")
    p.add_argument("--crop", default="256x384", help="centre crop HxW of each image, 0 for whole images")
    p.add_argument("--efforts", default=",".join(str(e) for e in range(len(EFFORT_ITERATIONS))))
    p.add_argument("--qualities", default="1,2.5,4,5.5")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--weights", help="a .safetensors model file instead of the shipped default model")
    p.add_argument("--iterations", help="a study: refinement steps to measure in place of the released effort levels "
                                        "(at most 5, e.g. 400,1000), beside effort 0; --efforts is then ignored")
    args = p.parse_args(argv)
    import aec

    torch.set_num_threads(args.threads)
    crop = None if args.crop == "0" else tuple(int(v) for v in args.crop.lower().split("x"))
    images = load_images(Path(args.images_dir), args.images.split(","), crop)
    codec = aec.Codec(weights=args.weights) if args.weights else aec.Codec()
    efforts, levels = [int(e) for e in args.efforts.split(",")], codec.effort_iterations  # the model's own levels
    if args.iterations:
        levels = (0, *(int(v) for v in args.iterations.split(",")))
        if len(levels) > len(EFFORT_ITERATIONS):
            raise SystemExit(f"error: at most {len(EFFORT_ITERATIONS) - 1} refinement lengths at once")
        efforts = list(range(len(levels)))
        codec._efforts[codec.model_id] = levels  # effort i refines levels[i] steps, in this codec alone
    results = measure(codec, images, efforts, [float(q) for q in args.qualities.split(",")], levels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python benchmarks/effort.py", *(argv if argv is not None else sys.argv[1:])])
    header = (f"`{command}`: model {codec.model_id}, {len(images)} images ({args.images}, crop {args.crop}), "
              f"qualities {args.qualities}, {args.threads} thread(s)")
    (out / "effort.json").write_text(json.dumps({"command": command, "model_id": codec.model_id,
                                                 "threads": args.threads, "efforts": results}, indent=2) + "\n")
    (out / "effort.md").write_text(report(results, header))
    plot(results, out / "effort.png", f"encoder effort, model {codec.model_id}")
    print((out / "effort.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
