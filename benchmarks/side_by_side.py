"""What the side-by-side timing benchmarks (workers.py, y_coding.py) share: the models and images they take."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import aec
from aec.threads import cores

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
