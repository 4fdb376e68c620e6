"""How good a model's transforms could be: `python benchmarks/ceiling.py MODEL [MODEL ...] [--images N]`.

The PSNR of g_s(g_a(x)) with no quantization at all (the gain and the inverse gain of a quality applied, nothing
rounded), beside the PSNR with the latents rounded at that quality (y * gain rounded to integers, as the coder
quantizes them up to the predicted means, which move the rounding grid but not its step). At high qualities the
rounding error shrinks, so the second approaches the first: when a model's top quality is close to its unquantized
reconstruction, more bits (a larger lambda) cannot buy more PSNR, and only transforms that reconstruct better (more
latent channels, wider layers) raise the top. Beside them, the latent channels active at each quality (varying by more
than one quantization step over the images): when all M are active at the top, the latent is full. MODEL is an
installed model id or a .safetensors file; the images the first N of ../shared/data/kodak (from the current folder),
or --images-dir. Torch, one thread, float32; PSNR on 8-bit RGB, averaged over the images (cropped to multiples of
16). Prints one line per model and writes --json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from aec.images import list_images  # noqa: E402
from aec.train.data import DEFAULT_KODAK  # noqa: E402


def psnr(x, x_hat) -> float:
    """PSNR in dB of two float tensors in [0, 1], X_HAT rounded to 8 bits first."""
    import torch

    mse = float(((torch.round(x_hat.clamp(0, 1) * 255) / 255 - x) ** 2).mean())
    return 10 * float(np.log10(1 / max(mse, 1e-12)))


def ceiling(model, images: list[np.ndarray], qualities: list[float]) -> dict[str, dict[str, float]]:
    """{quality: {"unquantized": dB, "rounded": dB, "active_channels": n}}: the mean over IMAGES (H x W x 3 uint8)
    of MODEL's reconstruction (a training module) at that quality, and how many latent channels vary by more than
    one quantization step over the images (the standard deviation of y * gain above 1: channels that carry bits)."""
    import torch

    sums = {q: {"unquantized": 0.0, "rounded": 0.0} for q in qualities}
    scaled_latents: dict[float, list] = {q: [] for q in qualities}
    with torch.no_grad():
        for image in images:
            height, width = (side // 16 * 16 for side in image.shape[:2])  # whole latent pixels (Kodak is)
            x = torch.from_numpy(np.array(image[:height, :width])).permute(2, 0, 1)[None].float() / 255
            for q in qualities:
                at = torch.tensor([float(q)])
                gain, inverse = model.gains(at)
                scaled = model.analyze(x, at).float() * gain[:, :, None, None]
                scaled_latents[q].append(scaled.flatten(2)[0])
                for kind, latent in (("unquantized", scaled), ("rounded", torch.round(scaled))):
                    sums[q][kind] += psnr(x, model.synthesize(latent * inverse[:, :, None, None], at).float())
    result = {}
    for q, sides in sums.items():
        active = int((torch.cat(scaled_latents[q], dim=1).std(dim=1) > 1.0).sum())
        result[f"{q:g}"] = {**{kind: round(total / len(images), 3) for kind, total in sides.items()},
                            "active_channels": active}
    return result


def load(name: str):
    from aec.model_files import load_model, load_model_file

    model, model_id, _ = (load_model_file(Path(name)) if name.endswith(".safetensors") else load_model(name))
    return model.eval(), model_id


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/ceiling.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="installed model ids or .safetensors files")
    p.add_argument("--images-dir", default=str(DEFAULT_KODAK))
    p.add_argument("--images", type=int, default=24, help="how many of them (default 24)")
    p.add_argument("--qualities", default="top",
                   help="model qualities, comma-separated ('top': the model's highest, default)")
    p.add_argument("--json", help="write every number here")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    paths = list_images(args.images_dir)[:args.images] if Path(args.images_dir).is_dir() else []
    if not paths:
        raise SystemExit(f"error: no images in {args.images_dir}")
    images = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    results = {}
    for name in args.models:
        model, model_id = load(name)
        top = float(len(model.config.lambdas))
        qualities = [top if q == "top" else float(q) for q in args.qualities.split(",")]
        results[name] = {"model_id": model_id, "M": model.config.M, "images": len(images),
                         "qualities": ceiling(model, images, qualities)}
        cells = "; ".join(f"q{q}: {v['unquantized']:.2f} dB unquantized, {v['rounded']:.2f} rounded, "
                          f"{v['active_channels']} channels active" for q, v in results[name]["qualities"].items())
        print(f"{name} ({model_id}, M {model.config.M}): {cells}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
