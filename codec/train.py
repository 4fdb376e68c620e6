"""Train the aec model: `python -m aec.train --run-dir DIR [--resume] [--export MODEL_ID]`.

Variable-rate rate-distortion training (loss = lambda * 255^2 * MSE + bpp, one lambda per sample drawn from the
quality table), random crops and flips from images decoded once into memory, Adam with warm-up and a late
learning-rate drop, gradient clipping, NaN guards, bf16 autocast + channels_last for the float transforms
(the integer probability path stays in float32), checkpoints every few minutes, resumable.

Several GPUs (or CPU processes): `torchrun --standalone --nproc-per-node N -m codec.train ...` runs PyTorch DDP;
--batch is per process, rank 0 alone logs, validates and writes checkpoints.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as torch_distributed
from PIL import Image
from tqdm import tqdm

from .errors import ModelMismatchError

from .config import ModelConfig
from .model import AECModel
from .model_files import WEIGHTS_DIR, load_model_file, read_manifest, save_model, update_manifest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TRAIN = REPO.parent / "shared" / "data" / "train"
DEFAULT_KODAK = REPO.parent / "shared" / "data" / "kodak"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_pool(folder: Path, min_side: int, limit: int | None = None) -> list[np.ndarray]:
    """Decode every training image once into RAM (uint8 HxWx3), skipping those smaller than a crop."""
    images = []
    for path in list_images(folder)[:limit]:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
        if min(array.shape[:2]) >= min_side:
            images.append(array)
    if not images:
        raise SystemExit(f"no training images of at least {min_side}px in {folder}")
    return images


def load_validation(folder: Path, count: int) -> list[np.ndarray]:
    """The first COUNT images of a folder (Kodak by default) as uint8 HxWx3 arrays; none if there is no folder."""
    images = []
    for path in (list_images(folder)[:count] if Path(folder).is_dir() else []):
        with Image.open(path) as image:
            images.append(np.array(image.convert("RGB")))
    return images


def load_checkpoint(path: Path) -> tuple[AECModel, dict]:
    """The model of a training checkpoint (eval mode) and the checkpoint's other entries."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = AECModel(ModelConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model.eval(), state


class CropSampler:
    """Random crops with horizontal flips, assembled into a float batch."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int):
        self.images, self.crop = images, crop
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        """uint8 NCHW crops; the caller converts on its device (less to copy to a GPU)."""
        out = np.empty((size, self.crop, self.crop, 3), dtype=np.uint8)
        for b in range(size):
            image = self.images[self.rng.integers(len(self.images))]
            top = self.rng.integers(image.shape[0] - self.crop + 1)
            left = self.rng.integers(image.shape[1] - self.crop + 1)
            patch = image[top:top + self.crop, left:left + self.crop]
            out[b] = patch[:, ::-1] if self.rng.random() < 0.5 else patch
        return torch.from_numpy(out).permute(0, 3, 1, 2)


def learning_rate(step: int, args: argparse.Namespace) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * (args.drop_factor if step >= args.drop_at * args.steps else 1.0)


def psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def validate(model: AECModel, images: list[np.ndarray], device: torch.device) -> list[dict]:
    """Estimated rate and PSNR per quality on whole images (eval mode: rounding, as the coder does)."""
    model.eval()
    rows = []
    for quality in model.config.qualities:
        bpp, mse = [], []
        for array in images:
            x = torch.from_numpy(array).permute(2, 0, 1).float().div(255).unsqueeze(0).to(device)
            h, w = x.shape[2:]
            ph, pw = (-h) % 64, (-w) % 64
            padded = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
            out = model(padded, torch.tensor([quality], device=device))
            x_hat = out["x_hat"][..., :h, :w].clamp(0, 1)
            x_hat = torch.round(x_hat * 255) / 255
            mse.append(float(((x_hat - x) ** 2).mean()))
            bpp.append(float(out["y_bits"] + out["z_bits"]) / (h * w))
        rows.append({"quality": quality, "bpp": float(np.mean(bpp)),
                     "psnr": float(np.mean([psnr(m) for m in mse]))})
    model.train()
    return rows


def save_checkpoint(path: Path, model: AECModel, optimizer: torch.optim.Optimizer, step: int, hours: float,
                    args: argparse.Namespace) -> None:
    state = {"model": model.state_dict(), "step": step, "hours": hours, "config": model.config.to_dict(),
             "args": vars(args)}
    if not args.light_checkpoint:
        state["optimizer"] = optimizer.state_dict()
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


class Distributed:
    """Process-group plumbing for torchrun; a single process when WORLD_SIZE is unset or 1."""

    def __init__(self, requested_device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(requested_device)
        if self.world > 1:
            if device.type == "cuda":
                device = torch.device("cuda", local)
                torch.cuda.set_device(device)
            torch_distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self.device = device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every rank when the flag is true on any rank (so all ranks skip or stop together)."""
        if self.world == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch_distributed.all_reduce(value, op=torch_distributed.ReduceOp.MAX)
        return bool(value.item())

    def check_in_sync(self, model: torch.nn.Module) -> None:
        """Every rank must end with the same weights; a divergence is a bug worth stopping for."""
        if self.world == 1:
            return
        local = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1).to(self.device)
        gathered = [torch.zeros_like(local) for _ in range(self.world)]
        torch_distributed.all_gather(gathered, local)
        if any(float(g) != float(local) for g in gathered):
            raise SystemExit(f"ranks diverged: parameter checksums {[float(g) for g in gathered]}")

    def close(self) -> None:
        if self.world > 1:
            torch_distributed.barrier()
            torch_distributed.destroy_process_group()


def build_model(args: argparse.Namespace) -> tuple[AECModel, int, float]:
    """The model to start from, with the steps and hours already in it."""
    if args.init:
        model, _, digest = load_model_file(Path(args.init))
        return model.train(), *_init_progress(args, digest)
    config = ModelConfig(**json.loads(args.config)) if args.config else ModelConfig()
    return AECModel(config), 0, 0.0


def _init_progress(args: argparse.Namespace, digest: str) -> tuple[int, float]:
    """Steps and hours already in an --init model, from the manifest entry with its hash (0 when unknown), so a
    run restarted from shipped weights keeps counting instead of starting over at step 0."""
    for directory in dict.fromkeys([Path(args.init).parent, Path(args.weights_dir)]):
        try:
            models = read_manifest(directory).get("models", {})
        except ModelMismatchError:  # no or unreadable manifest there: nothing to count from
            continue
        for model_id, entry in models.items():
            if entry.get("sha256") == digest and "training" in entry:
                print(f"starting from {model_id}: {entry['training']['steps']} steps, "
                      f"{entry['training']['hours']} h", flush=True)
                return int(entry["training"]["steps"]), float(entry["training"]["hours"])
    return 0, 0.0


def train(args: argparse.Namespace) -> None:
    dist = Distributed(args.device)
    device = dist.device
    args.world_size = dist.world
    torch.manual_seed(args.seed + dist.rank)
    random.seed(args.seed + dist.rank)
    run_dir = Path(args.run_dir)
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"

    model, step, hours = build_model(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        model = AECModel(ModelConfig.from_dict(state["config"]))
        model.load_state_dict(state["model"])
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        step, hours = state["step"], state["hours"]
        if dist.main:
            print(f"resumed from {checkpoint_path} at step {step} ({hours:.2f} h)"
                  + ("" if "optimizer" in state else "; no optimizer state in it, Adam starts afresh"), flush=True)
    model.to(device).train()
    if device.type == "cpu" or args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = model
    if dist.world > 1:
        forward = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                            else None)

    started = time.time()
    images = load_pool(Path(args.data), args.crop, args.limit_images)
    sampler = CropSampler(images, args.crop, args.seed + step + 1_000_003 * dist.rank)
    validation = load_validation(Path(args.kodak), args.val_images) if dist.main else []
    if dist.main:
        print(f"{len(images)} training images loaded in {time.time() - started:.1f} s; "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters; {dist.world} process(es) "
              f"of batch {args.batch} on {device}", flush=True)
    else:  # only rank 0 writes files
        _train_loop(args, model, forward, optimizer, sampler, [], dist, step, hours, None, None)
        dist.close()
        return

    log_path = run_dir / "log.csv"
    new_log = not log_path.is_file()
    log = open(log_path, "a", newline="")
    if new_log:
        csv.writer(log).writerow(["step", "hours", "loss", "bpp", "psnr", "lr", "steps_per_s", "grad_norm", "skipped"])
    val_path = run_dir / "validation.csv"
    if not val_path.is_file():
        val_path.write_text("step,hours,quality,bpp,psnr\n")
    step, hours = _train_loop(args, model, forward, optimizer, sampler, validation, dist, step, hours, log,
                              val_path)
    log.close()
    dist.close()
    print(f"stopped at step {step} ({hours:.2f} h in total); checkpoint {checkpoint_path}", flush=True)


def _train_loop(args: argparse.Namespace, model: AECModel, forward: torch.nn.Module,
                optimizer: torch.optim.Optimizer, sampler: CropSampler, validation: list[np.ndarray],
                dist: Distributed, step: int, hours: float, log, val_path: Path | None) -> tuple[int, float]:
    """The optimisation loop; on rank 0 it also logs, validates and checkpoints."""
    device = dist.device
    checkpoint_path = Path(args.run_dir) / "checkpoint.pt"
    autocast = args.bf16 and device.type in ("cpu", "cuda")
    qualities = len(model.config.lambdas)
    last_checkpoint = time.time()
    window = {"loss": [], "bpp": [], "mse": [], "grad": []}
    window_start, skipped, bad_in_row = time.time(), 0, 0
    session_start, session_steps = time.time(), 0
    stop_requested = []
    # SIGTERM/SIGINT end the run at the next step boundary, with a checkpoint, instead of losing minutes of work.
    previous = {sig: signal.signal(sig, lambda number, frame: stop_requested.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    # A progress bar on a terminal; a log redirected to a file gets the plain lines only.
    bar = tqdm(total=args.steps, initial=step, unit="step", dynamic_ncols=True, file=sys.stderr,
               disable=not (dist.main and sys.stderr.isatty()))
    while step < args.steps:
        out_of_time = bool(args.max_minutes) and time.time() - session_start > args.max_minutes * 60
        if dist.any(bool(stop_requested) or (out_of_time and dist.main)):
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        x = sampler.batch(args.batch).to(device, non_blocking=True).float().div_(255.0)
        if device.type == "cpu" or args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        quality = torch.randint(1, qualities + 1, (args.batch,), device=device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            out = forward(x, quality)
        mse = ((out["x_hat"].float() - x) ** 2).mean(dim=(1, 2, 3))
        bpp = (out["y_bits"] + out["z_bits"]) / (x.shape[2] * x.shape[3])
        loss = (model.lambdas_for(quality) * 255**2 * mse + bpp).mean()
        optimizer.zero_grad(set_to_none=True)
        if dist.any(not torch.isfinite(loss)):
            skipped += 1
            bad_in_row += 1
            if bad_in_row > 20:
                raise SystemExit(f"loss not finite for {bad_in_row} steps in a row at step {step}; "
                                 f"resume from the last checkpoint with a lower --lr")
            continue
        loss.backward()
        grad = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        if not torch.isfinite(grad):
            skipped += 1
            bad_in_row += 1
            optimizer.zero_grad(set_to_none=True)
            continue
        bad_in_row = 0
        optimizer.step()
        step += 1
        session_steps += 1
        if not dist.main:
            continue
        bar.update(1)
        window["loss"].append(loss.item())
        window["bpp"].append(bpp.mean().item())
        window["mse"].append(mse.mean().item())
        window["grad"].append(float(grad))
        if step % args.log_every == 0:
            elapsed = time.time() - window_start
            hours_now = hours + (time.time() - session_start) / 3600
            row = [step, f"{hours_now:.4f}", f"{np.mean(window['loss']):.4f}", f"{np.mean(window['bpp']):.4f}",
                   f"{psnr(float(np.mean(window['mse']))):.3f}", f"{learning_rate(step, args):.2e}",
                   f"{len(window['loss']) / elapsed:.3f}", f"{np.mean(window['grad']):.2f}", skipped]
            csv.writer(log).writerow(row)
            log.flush()
            if bar.disable:
                print("step {} h {} loss {} bpp {} psnr {} lr {} it/s {} grad {} skipped {}".format(*row), flush=True)
            else:
                bar.set_postfix_str(f"bpp {row[3]} psnr {row[4]} loss {row[2]}")
            window = {k: [] for k in window}
            window_start = time.time()
        if validation and step % args.val_every == 0:
            with open(val_path, "a") as handle:
                for r in validate(model, validation, device):
                    handle.write(f"{step},{hours + (time.time() - session_start) / 3600:.4f},"
                                 f"{r['quality']},{r['bpp']:.4f},{r['psnr']:.3f}\n")
                    tqdm.write(f"  val q{r['quality']:.0f}: {r['bpp']:.4f} bpp {r['psnr']:.2f} dB", file=sys.stdout)
            sys.stdout.flush()  # a log redirected to a file gets the lines now, not when its buffer fills
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
            save_checkpoint(checkpoint_path, model, optimizer, step,
                            hours + (time.time() - session_start) / 3600, args)
            last_checkpoint = time.time()
    bar.close()
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    dist.check_in_sync(model)
    hours += (time.time() - session_start) / 3600
    if dist.main:
        save_checkpoint(checkpoint_path, model, optimizer, step, hours, args)
        print(f"{session_steps} steps this session", flush=True)
    return step, hours


def make_subset(source: Path, kodak: Path, destination: Path, megabytes: float, val_images: int,
                seed: int = 0) -> tuple[int, int]:
    """Copy a random subset of the training pool (files as they are, no re-encoding) and the first validation
    images into DESTINATION/train and DESTINATION/kodak, within a size budget: what travels to a lent GPU."""
    import shutil

    budget = int(megabytes * 1e6)
    (destination / "train").mkdir(parents=True, exist_ok=True)
    (destination / "kodak").mkdir(exist_ok=True)
    validation = list_images(kodak)[:val_images] if kodak.is_dir() else []
    for path in validation:
        shutil.copyfile(path, destination / "kodak" / path.name)
        budget -= path.stat().st_size
    pool = list_images(source)
    random.Random(seed).shuffle(pool)
    copied = 0
    for path in pool:
        size = path.stat().st_size
        if size <= budget:
            shutil.copyfile(path, destination / "train" / path.name)
            budget -= size
            copied += 1
    if not copied:
        raise SystemExit(f"no training image of {source} fits in {megabytes} MB")
    return copied, len(validation)


def describe_hardware() -> str:
    """This machine's CPU in one line, the manifest's default hardware (pass --hardware when the run was
    trained elsewhere, on a GPU for instance)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f"{torch.cuda.get_device_name(0)} GPU" if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core {cpu} CPU, {gpu}"


def recipe_line(recipe: str) -> str:
    """The manifest's recipe: the trainer command with the options given (the command is not doubled)."""
    recipe = recipe.strip()
    command = "python -m aec.train"
    return recipe if recipe.startswith(command) else f"{command} {recipe}".strip()


def export(args: argparse.Namespace) -> None:
    """Write the run's checkpoint as a released model in weights/ with its manifest entry."""
    source = Path(args.checkpoint) if args.checkpoint else Path(args.run_dir) / "checkpoint.pt"
    model, state = load_checkpoint(source)
    directory = Path(args.weights_dir)
    file_name = f"{args.export}.safetensors"
    digest = save_model(model, directory / file_name, args.export)
    train_args = state["args"]
    entry = {
        "released": args.release,
        "config": model.config.to_dict(),
        "quality_table": {str(q): lam for q, lam in zip(model.config.qualities, model.config.lambdas)},
        "training": {
            "steps": state["step"], "hours": round(state["hours"], 3),
            "hardware": args.hardware or describe_hardware(),
            "data": os.path.relpath(str(train_args.get("data")), REPO), "crop": train_args.get("crop"),
            "batch": train_args.get("batch") * train_args.get("world_size", 1),
            "lr": train_args.get("lr"), "recipe": recipe_line(args.recipe),
        },
    }
    if args.results:
        entry["results"] = json.loads(Path(args.results).read_text())
    update_manifest(args.export, file_name, digest, entry, directory)
    print(f"exported {directory / file_name} (sha256 {digest}) at step {state['step']}")


def plot(run_dir: Path) -> list[Path]:
    """Loss, rate and PSNR against steps (log.csv), and the validation RD points (validation.csv), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    with open(run_dir / "log.csv") as handle:
        rows = list(csv.DictReader(handle))
    if rows:
        steps = [int(r["step"]) for r in rows]
        figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for axis, key, label in zip(axes, ["loss", "bpp", "psnr"], ["loss", "training bpp", "training PSNR (dB)"]):
            axis.plot(steps, [float(r[key]) for r in rows], lw=0.8)
            axis.set_xlabel("step")
            axis.set_ylabel(label)
            axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(run_dir / "loss.png", dpi=110)
        plt.close(figure)
        written.append(run_dir / "loss.png")
    val_path = run_dir / "validation.csv"
    if val_path.is_file():
        with open(val_path) as handle:
            val = list(csv.DictReader(handle))
        if val:
            figure, axis = plt.subplots(figsize=(6, 4.2))
            for step in sorted({int(r["step"]) for r in val}):
                points = [r for r in val if int(r["step"]) == step]
                axis.plot([float(r["bpp"]) for r in points], [float(r["psnr"]) for r in points], "o-", ms=3,
                          label=f"step {step}")
            axis.set_xlabel("bits per pixel (estimated)")
            axis.set_ylabel("PSNR (dB)")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7)
            figure.tight_layout()
            figure.savefig(run_dir / "validation.png", dpi=110)
            plt.close(figure)
            written.append(run_dir / "validation.png")
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aec.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="folder for checkpoint.pt, log.csv, validation.csv")
    p.add_argument("--data", default=str(DEFAULT_TRAIN), help="training images (default ../shared/data/train)")
    p.add_argument("--kodak", default=str(DEFAULT_KODAK), help="validation images (default ../shared/data/kodak)")
    p.add_argument("--config", help="JSON of ModelConfig fields for a new model")
    p.add_argument("--init", help="start from a .safetensors model file")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt if present")
    p.add_argument("--steps", type=int, default=400_000, help="total steps of the schedule")
    p.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--drop-at", type=float, default=0.9, help="fraction of --steps after which lr drops")
    p.add_argument("--drop-factor", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--channels-last", action="store_true", help="also on CUDA (always on for CPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-images", type=int, default=None)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--val-every", type=int, default=2000)
    p.add_argument("--val-images", type=int, default=4)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--light-checkpoint", action="store_true",
                   help="leave the optimizer state out of checkpoints (a third of the size; Adam restarts on resume)")
    p.add_argument("--plot", action="store_true", help="write RUN_DIR/loss.png and validation.png, then exit")
    p.add_argument("--make-subset", metavar="MB", type=float,
                   help="copy about MB megabytes of --data and --val-images of --kodak into RUN_DIR/{train,kodak}, "
                        "then exit (a training set to carry to a lent GPU)")
    p.add_argument("--export", metavar="MODEL_ID", help="export RUN_DIR/checkpoint.pt as weights/MODEL_ID")
    p.add_argument("--checkpoint", help="with --export: this checkpoint instead of RUN_DIR/checkpoint.pt (copy it "
                                        "first when the run is still going: the run rewrites its checkpoint)")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--release", action="store_true", help="mark the exported id as released (immutable)")
    p.add_argument("--results", help="JSON file of measured Kodak results for the manifest")
    p.add_argument("--hardware", help="hardware description for the manifest")
    p.add_argument("--recipe", default="", help="the training options, for the manifest (use --recipe=\"...\")")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
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


if __name__ == "__main__":
    main(sys.argv[1:])
