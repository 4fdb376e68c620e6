"""Train the aec model: `python -m aec.train --run-dir DIR [--resume] [--export MODEL_ID]`.

Variable-rate rate-distortion training (loss = lambda * 255^2 * MSE + bpp, one lambda per sample drawn from the
quality table), random crops and flips from images decoded once into memory, Adam with warm-up and a late
learning-rate drop, gradient clipping, NaN guards, bf16 autocast where it is faster than float32 (measured at start)
and channels_last for the float transforms (the integer probability path stays in float32), an exponential moving
average of the weights (validated and exported), checkpoints every few minutes, resumable. --init with --lambdas
widens a trained model's quality table.

Several GPUs (or CPU processes): `torchrun --standalone --nproc-per-node N -m aec.train ...` runs PyTorch DDP;
--batch is per process, rank 0 alone logs, validates, keeps the EMA and writes checkpoints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..model_files import WEIGHTS_DIR
from .data import DEFAULT_KODAK, DEFAULT_TRAIN, make_subset
from .export import export
from .loop import train
from .plots import plot


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """--data and --kodak, the training and validation folders (also the pilots' options)."""
    parser.add_argument("--data", default=str(DEFAULT_TRAIN),
                        help=f"training images (default {DEFAULT_TRAIN}, from the current folder)")
    parser.add_argument("--kodak", default=str(DEFAULT_KODAK),
                        help=f"validation images (default {DEFAULT_KODAK}, from the current folder)")


def _lambda_list(text: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in text.split(","))
    if not all(0 < v < 10 for v in values):
        raise argparse.ArgumentTypeError(f"lambdas must lie in (0, 10), got {text}")
    return values


def _weight_list(text: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in text.split(","))
    if not all(v >= 0 for v in values) or not any(values):
        raise argparse.ArgumentTypeError(f"weights must be non-negative and not all zero, got {text}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aec.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="folder for checkpoint.pt, log.csv, validation.csv")
    add_data_options(p)
    p.add_argument("--architecture", metavar="NAME",
                   help="the registered architecture of a new model (default: the shipped one, aec.registry)")
    p.add_argument("--config", help="JSON of the architecture's config fields for a new model (aec.config.ModelConfig's "
                                    "for the shipped one); with --init, the fields to change")
    p.add_argument("--init", help="start from a .safetensors model file; with another --architecture or --config, "
                                  "a new model that keeps each of its tensors of the same name and shape")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt if present")
    p.add_argument("--lambdas", type=_lambda_list, metavar="L1,L2,...",
                   help="with --init: train for this quality table instead of the model's own (ascending, holding "
                        "the model's lambdas); each new quality's gains continue the trained ones")
    p.add_argument("--quality-weights", type=_weight_list, metavar="W1,W2,...",
                   help="how often each trained quality is drawn, relative to the others (default: all alike; a "
                        "--resume keeps the run's own unless this gives others)")
    p.add_argument("--steps", type=int, default=400_000, help="total steps of the schedule")
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--modulation-lr-scale", type=float, default=1.0, metavar="F",
                   help="the learning rate of an aec-conditional-v1 model's per-quality modulations, F times --lr "
                        "(they see one sample in a quality-table's length; default 1); a resumed run may change it")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--drop-at", type=float, default=0.9, help="fraction of --steps after which lr drops")
    p.add_argument("--drop-factor", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping")
    p.add_argument("--ema-decay", type=float, default=0.999,
                   help="decay of the exponential moving average of the weights, updated after every step; "
                        "validation and --export use the average (default 0.999; 0 turns it off)")
    p.add_argument("--train-only", choices=("all", "encoder", "synthesis", "decoder"), default="all",
                   help="encoder: train g_a, h_a and the gains alone, the decoder frozen bit for bit, so the model "
                        "decodes every file as its parent does (Adam starts afresh); synthesis: g_s and the inverse "
                        "gains alone, so every file's bytes stay the parent's (a new g_s learns from a trained "
                        "model's latents); decoder: all but g_a, h_a and the gains (the latents stay the parent's)")
    p.add_argument("--distill", metavar="MODEL.safetensors",
                   help="with --train-only encoder: instead of the rate-distortion loss, the squared error between "
                        "g_a's latents (times the gains: the values the coder rounds) and this model's own on the "
                        "same crops, so that a new (narrower) encoder first learns its parent's latents; resume "
                        "without it for the rate-distortion loss. The log's mse is then the latents', its bpp 0")
    p.add_argument("--rounding", choices=("noise", "hard"), default=None,
                   help="the rate's quantization proxy: additive uniform noise (default), or hard rounding with "
                        "straight-through gradients, as the coder rounds (after Guo et al. 2021, \"soft then "
                        "hard\": for fine-tuning a trained model; a --resume keeps the run's own unless this gives "
                        "another)")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast for the float transforms, or float32 (--no-bf16); by default the trainer "
                        "times both on its model at start and keeps the faster (bf16 on CUDA)")
    p.add_argument("--channels-last", action="store_true", help="also on CUDA (always on for CPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-images", type=int, default=None)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--val-every", type=int, default=2000)
    p.add_argument("--val-images", type=int, default=4)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--light-checkpoint", action="store_true",
                   help="leave the optimizer state out of checkpoints (Adam restarts on resume)")
    p.add_argument("--plot", action="store_true", help="write RUN_DIR/loss.png and validation.png, then exit")
    p.add_argument("--make-subset", metavar="MB", type=float,
                   help="copy about MB megabytes of --data and --val-images of --kodak into RUN_DIR/{train,kodak}, "
                        "then exit (a training set to carry to a lent GPU)")
    p.add_argument("--export", metavar="MODEL_ID", help="export RUN_DIR/checkpoint.pt as weights/MODEL_ID (its EMA "
                                                        "weights when it has them)")
    p.add_argument("--export-raw", action="store_true", help="with --export: the raw weights, not the EMA")
    p.add_argument("--checkpoint", help="with --export: this checkpoint instead of RUN_DIR/checkpoint.pt (copy it "
                                        "first when the run is still going: the run rewrites its checkpoint)")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--results", help="JSON file of measured Kodak results for the manifest")
    p.add_argument("--hardware", help="hardware description for the manifest")
    p.add_argument("--recipe", default="", help="the training options, for the manifest (use --recipe=\"...\")")
    args = p.parse_args(argv)
    if args.lambdas and not args.init:
        p.error("--lambdas widens the quality table of an --init model")
    if args.distill and args.train_only != "encoder":
        p.error("--distill trains an encoder to its parent's latents: it needs --train-only encoder")
    if not 0 <= args.ema_decay < 1:
        p.error(f"--ema-decay must be in [0, 1), not {args.ema_decay}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Dispatch: --plot, --make-subset, --export, or train."""
    args = parse_args(argv)
    if args.plot:
        for path in plot(Path(args.run_dir)):
            print(f"wrote {path}")
    elif args.make_subset:
        copied, validation = make_subset(Path(args.data), Path(args.kodak), Path(args.run_dir), args.make_subset,
                                         args.val_images, args.seed)
        print(f"copied {copied} training and {validation} validation images into {args.run_dir}")
    elif args.export:
        export(args)
    else:
        train(args)
