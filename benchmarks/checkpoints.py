"""Compare training checkpoints and model files on Kodak by estimated rate: `python benchmarks/checkpoints.py A B ...`.

Each argument is a checkpoint (`.pt`, its EMA weights when it has them; `NAME.pt:raw` for the raw weights) or a
model file (`.safetensors`). Every model runs the eval forward pass (rounded latents, as the coder) at every trained
quality on the same images (all 24 Kodak images by default), and the table gives each one's BD-rate against the
first. The rates are the model's own estimates, within about 1 % of real file sizes: right for ranking models and
choosing a recipe, not for comparing with other codecs (that is `benchmarks/rd.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from aec.model_files import load_model_file  # noqa: E402
from aec.train.checkpoint import load_checkpoint  # noqa: E402
from aec.train.data import DEFAULT_KODAK, load_validation  # noqa: E402
from aec.train.validation import validate  # noqa: E402
from benchmarks.pilots import report  # noqa: E402


def load(spec: str) -> tuple[torch.nn.Module, int, float]:
    """The model a spec names, with its training steps and hours (0 when a model file does not say)."""
    path, _, variant = spec.partition(":")
    if path.endswith(".safetensors"):
        model, _, _ = load_model_file(Path(path))
        return model, 0, 0.0
    model, state = load_checkpoint(Path(path), raw=variant == "raw")
    return model, int(state["step"]), float(state["hours"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/checkpoints.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="checkpoints (.pt, .pt:raw) or model files (.safetensors)")
    p.add_argument("--kodak", default=str(DEFAULT_KODAK), help=f"images (default {DEFAULT_KODAK})")
    p.add_argument("--images", type=int, default=24, help="how many of them (default 24)")
    p.add_argument("--json", help="also write the points as JSON here")
    args = p.parse_args(argv)
    images = load_validation(Path(args.kodak), args.images)
    if not images:
        raise SystemExit(f"error: no images in {args.kodak}")
    results = {}
    for spec in args.models:
        started = time.time()
        model, steps, hours = load(spec)
        results[spec] = {"parameters": sum(p.numel() for p in model.parameters()), "steps": steps,
                         "steps_per_second": steps / max(hours * 3600, 1e-9),
                         "points": validate(model, images, torch.device("cpu"))}
        print(f"{spec}: {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"{len(images)} images of {args.kodak}, estimated bits\n")
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
