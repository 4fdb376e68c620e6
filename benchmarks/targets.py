"""How well rate control lands: `python benchmarks/targets.py --bpp 0.5` or `--psnr 32` on every Kodak image.

Each image is coded through the public API with the target (the quality searched at --effort) and the table gives
the quality chosen, what it reached, whether that is within the tolerance (2 % of the rate, 0.05 dB), and the
seconds the search took. A target that the model's quality range cannot reach is coded at the nearest end.
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

import torch  # noqa: E402

from aec.images import list_images  # noqa: E402
from aec.train.data import DEFAULT_KODAK  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/targets.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--bpp", type=float, help="target bits per pixel")
    target.add_argument("--psnr", type=float, help="target PSNR in dB")
    p.add_argument("--images-dir", default=str(DEFAULT_KODAK), help=f"images (default {DEFAULT_KODAK})")
    p.add_argument("--effort", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--weights", help="a .safetensors model file instead of the shipped default model")
    args = p.parse_args(argv)
    import aec

    torch.set_num_threads(args.threads)
    codec = aec.Codec(weights=args.weights) if args.weights else aec.Codec()
    paths = list_images(args.images_dir) if Path(args.images_dir).is_dir() else []
    if not paths:
        raise SystemExit(f"error: no images in {args.images_dir}")
    print(f"model {codec.model_id}, effort {args.effort}, target " + (f"{args.bpp} bpp" if args.bpp else f"{args.psnr} dB"))
    print("\n| image | quality (model quality) | reached | within tolerance | seconds |\n|---|---|---|---|---|")
    met, seconds = 0, []
    for path in paths:
        started = time.perf_counter()
        if args.bpp:
            result = codec.encode(path, effort=args.effort, target_bpp=args.bpp)
            reached = f"{result.bits_per_pixel:.4f} bpp"
        else:
            result = codec.encode(path, effort=args.effort, target_psnr=args.psnr)
            reached = f"{result.psnr:.3f} dB"
        seconds.append(time.perf_counter() - started)
        met += bool(result.target_met)
        print(f"| {path.name} | {result.quality:g} ({result.header.quality:g}) | {reached} | {'yes' if result.target_met else 'no'} | "
              f"{seconds[-1]:.1f} |", flush=True)
    print(f"\n{met} of {len(paths)} within tolerance; median {statistics.median(seconds):.1f} s per image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
