"""Peak memory and time to code one big photo: `python benchmarks/large_image.py [--size 6000x4000]`.

Each step runs in a fresh process, so that the peak resident set (ru_maxrss) belongs to that step alone. The decoded
picture is written as `aec decompress` writes it (before 0.10.0: by Pillow's default PNG settings, zlib level 6,
about 3.6 s of a 6000x4000 picture where aec's level 1 takes 1.0 s).
The picture is a Kodak image tiled and mirrored up to the size (or --image), so it has photo-like content.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aec.train.data import DEFAULT_KODAK

REPO = Path(__file__).resolve().parent.parent
KODAK = DEFAULT_KODAK / "kodim23.png"  # from the current folder

STEP = """
import resource, sys, time, json
sys.path.insert(0, {repo!r})
from aec import Codec
codec = Codec(weights={weights!r}) if {weights!r} else Codec()
start = time.perf_counter()
if {step!r} == "compress":
    data = codec.compress({source!r}, model_quality={quality!r})
    open({target!r}, "wb").write(data)
else:  # written as `aec decompress` writes it (aec.outputs: PNG at zlib level 1)
    from aec.outputs import encode_image
    image = codec.decompress({source!r})
    open({target!r}, "wb").write(encode_image(image, "PNG", {target!r}))
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def make_picture(size: tuple[int, int], source: Path, path: Path) -> None:
    import numpy as np
    from PIL import Image

    tile = np.asarray(Image.open(source).convert("RGB"))
    reps = (size[1] // tile.shape[0] + 2, size[0] // tile.shape[1] + 2)
    row = np.concatenate([tile, tile[:, ::-1]] * (reps[1] // 2 + 1), axis=1)
    full = np.concatenate([row, row[::-1]] * (reps[0] // 2 + 1), axis=0)
    Image.fromarray(full[:size[1], :size[0]]).save(path)


def run_step(step: str, source: Path, target: Path, weights: str, quality: float) -> dict:
    code = STEP.format(repo=str(REPO), weights=weights or "", step=step, source=str(source), target=str(target),
                       quality=quality)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="6000x4000")
    parser.add_argument("--image", type=Path, default=KODAK,
                        help=f"picture to tile up to the size (default {KODAK}, from the current folder)")
    parser.add_argument("--quality", type=float, default=4.0)
    parser.add_argument("--weights", default="", help=".safetensors file (default: the shipped model)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        started = time.perf_counter()
        make_picture((width, height), args.image, folder / "big.png")
        print(f"{width}x{height} test picture made in {time.perf_counter() - started:.1f} s", flush=True)
        encoded = run_step("compress", folder / "big.png", folder / "big.aec", args.weights, args.quality)
        decoded = run_step("decompress", folder / "big.aec", folder / "out.png", args.weights, args.quality)
        size = (folder / "big.aec").stat().st_size
    report = {"size": f"{width}x{height}", "quality": args.quality, "bytes": size,
              "bpp": 8 * size / (width * height), "compress": encoded, "decompress": decoded}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
