"""Train a model's probability path alone (h_s and the slice networks) on its own cached latents:
`python -m aec.train.probability --init MODEL --config FIELDS --run-dir DIR`.

The probability path decides the rate and nothing else but the latent residual prediction (LRP): with g_a, the
gains, h_a and z's tables frozen, every coded y is the parent's, so the path can train at the latent resolution
alone, 256 times fewer positions than the pixels: a step of 16 crops of 16x16 latents sees 4,096 positions, a
whole-model step of 8 crops of 128 pixels 512 (rates measured in docs/training.md, "A narrow probability path").
Narrow slice networks (issue "A fast model") are what it is for.

    1. cache:   y = g_a(image) for every training image and its mirror, once (DIR/latents.npz, float16, with the
                images' file names)
    2. narrow:  the new path (--config: narrower hyper_synthesis_width, hyper_width, context_width; with
                --architecture aec-light-v1 for the first) starts from the parent's own units:
                each hidden layer keeps the parent's units that carry the most (mean activation times the norm of
                their outgoing weights, on cached latents), and what the dropped ones gave on average moves into
                the next layer's bias (structured pruning; --fresh starts from new weights instead)
    3. train:   loss = bits of y (hard rounding, as the coder rounds) + lambda * 255^2 * D, on random latent crops at
                random trained qualities; D is the pixel MSE that y's coding error causes, to first order,
                sum_c w_c * mean((y_hat_c - y_c) * inverse_gain_c)^2, with w_c the mean squared column of g_s's
                Jacobian for latent channel c (Hutchinson's estimator, once at the start); with --pixels, D is g_s's
                MSE on the crops' pixels (read again from --data), and --train-synthesis trains g_s with the path

Checkpoints are the trainer's (RUN_DIR/checkpoint.pt), so `python -m aec.train --export` writes the model file.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from ..channel_slice import LATENT_STRIDE
from ..images import list_images
from ..layers import IntConv2d
from ..model_files import load_model_file
from .checkpoint import TrainingState, load_checkpoint, transplant
from .cli import add_data_options
from .data import read_rgb
from .ema import EMA
from .distributed import Distributed
from .loop import Trainer, draw_qualities, hard_rounding


# ------------------------------------------------------------------------------------------------------ the cache
def _cropped(image: np.ndarray) -> np.ndarray:
    """The image cropped to multiples of the latent stride, as the cache codes it."""
    height, width = (side - side % LATENT_STRIDE for side in image.shape[:2])
    return np.ascontiguousarray(image[:height, :width])


@torch.no_grad()
def cache_latents(model: torch.nn.Module, images: list[np.ndarray], path: Path, names: list[str] | None = None,
                  log_every: int = 200) -> None:
    """g_a's latent (before the gains) of each image cropped to a multiple of 16 pixels, and of its mirror, saved as
    float16 arrays (M, h, w) in one .npz (written to a temporary name, then renamed), with the images' file NAMES
    (``--pixels`` reads the pixels again)."""
    arrays: dict[str, np.ndarray] = {} if names is None else {"names": np.array(names)}
    started = time.time()
    for n, image in enumerate(images):
        x = torch.from_numpy(_cropped(image)).permute(2, 0, 1)[None].float() / 255
        for flip, piece in enumerate((x, x.flip(3))):
            arrays[f"{n}_{flip}"] = model.g_a(piece)[0].float().numpy().astype(np.float16)
        if log_every and (n + 1) % log_every == 0:
            print(f"cached {n + 1} of {len(images)} images in {time.time() - started:.0f} s", flush=True)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, **arrays)
    temporary.replace(path)


def load_latents(path: Path) -> list[np.ndarray]:
    """The cached latents, image by image, each followed by its mirror's."""
    with np.load(path) as cache:
        return [cache[key] for key in cache.files if key != "names"]


def cached_names(path: Path) -> list[str] | None:
    """The file names of the cached images, or None for a cache made without them."""
    with np.load(path) as cache:
        return [str(name) for name in cache["names"]] if "names" in cache.files else None


def cached_images(path: Path, folder: Path) -> list[np.ndarray]:
    """The pixels of the cached latents, read again from FOLDER: each image cropped as cached, then its mirror."""
    names = cached_names(path)
    if names is None:
        raise SystemExit(f"{path} holds no image names (made before --pixels): make a new cache")
    images = []
    for name in names:
        try:
            image = read_rgb(folder / name)
        except OSError as error:
            raise SystemExit(f"the cached image {name} cannot be read from {folder}: {error}") from None
        image = _cropped(image)
        images += [image, image[:, ::-1]]  # the mirror is a view: a crop of it is copied when drawn
    return images


class LatentSampler:
    """Random square crops of cached latents, as float32 (B, M, crop, crop), and with IMAGES (``cached_images``) the
    pixels they code, as float32 (B, 3, 16 crop, 16 crop) in [0, 1]."""

    def __init__(self, latents: list[np.ndarray], crop: int, seed: int, images: list[np.ndarray] | None = None):
        if images is not None and [image.shape[:2] for image in images] != [
                (y.shape[1] * LATENT_STRIDE, y.shape[2] * LATENT_STRIDE) for y in latents]:
            raise SystemExit("the images do not match the cached latents: the cache was made from other images")
        pairs = [(y, None if images is None else images[n]) for n, y in enumerate(latents)]
        self.pairs = [(y, x) for y, x in pairs if min(y.shape[1:]) >= crop]
        if not self.pairs:
            raise SystemExit(f"no cached latent is {crop} latent pixels on each side")
        self.crop, self.rng, self.pixels = crop, np.random.default_rng(seed), images is not None

    def batch(self, size: int) -> torch.Tensor:
        return self.batch_with_pixels(size)[0]

    def batch_with_pixels(self, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        crop, side = self.crop, self.crop * LATENT_STRIDE
        out = np.empty((size, self.pairs[0][0].shape[0], crop, crop), dtype=np.float32)
        pixels = np.empty((size, side, side, 3), dtype=np.uint8) if self.pixels else None
        for b in range(size):
            y, x = self.pairs[self.rng.integers(len(self.pairs))]
            top = self.rng.integers(y.shape[1] - crop + 1)
            left = self.rng.integers(y.shape[2] - crop + 1)
            out[b] = y[:, top:top + crop, left:left + crop]
            if pixels is not None:
                top, left = top * LATENT_STRIDE, left * LATENT_STRIDE
                pixels[b] = x[top:top + side, left:left + side]
        if pixels is None:
            return torch.from_numpy(out), None
        return torch.from_numpy(out), torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255


# ---------------------------------------------------------------------------------------------------- narrowing
class _Recorder:
    """Mean activation of each output channel of the IntConv2d layers it is attached to (forward hooks)."""

    def __init__(self, layers: list[IntConv2d]):
        self.sums: dict[int, torch.Tensor] = {}
        self.counts: dict[int, int] = {}
        self.handles = [layer.register_forward_hook(self._hook) for layer in layers]

    def _hook(self, layer: IntConv2d, inputs, output: torch.Tensor) -> None:
        key = id(layer)
        self.sums[key] = self.sums.get(key, 0) + output.detach().double().sum(dim=(0, 2, 3))
        self.counts[key] = self.counts.get(key, 0) + output.shape[0] * output.shape[2] * output.shape[3]

    def mean(self, layer: IntConv2d) -> torch.Tensor:
        return (self.sums[id(layer)] / self.counts[id(layer)]).float()

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def _outgoing_norms(following: list[IntConv2d], channels: torch.Tensor) -> torch.Tensor:
    """The L2 norm of the weights that each input channel in CHANNELS feeds into the FOLLOWING layers."""
    total = 0
    for layer in following:
        weight = layer.weight.detach()
        per_input = weight.transpose(0, 1) if layer.transpose else weight  # (out, in, k, k)
        total = total + (per_input[:, channels] ** 2).sum(dim=(0, 2, 3))
    return total.sqrt()


def _keep(scores: torch.Tensor, count: int) -> torch.Tensor:
    """The COUNT highest-scoring channels, in their original order."""
    return torch.sort(torch.topk(scores, count).indices).values


def _copy_narrowed(source: IntConv2d, target: IntConv2d, outputs: torch.Tensor, inputs: torch.Tensor,
                   dropped_mean: torch.Tensor | None, dropped_inputs: torch.Tensor | None) -> None:
    """TARGET's weights are SOURCE's at the kept OUTPUTS and INPUTS; the dropped inputs' mean contribution (their mean
    value DROPPED_MEAN times their weights, over all taps, or over a transposed layer's taps per output: stride**2
    fewer on average) moves into the bias."""
    weight = source.weight.detach()
    if source.transpose:  # (in, out, k, k)
        narrowed = weight[inputs][:, outputs]
    else:
        narrowed = weight[outputs][:, inputs]
    bias = source.bias.detach()[outputs].clone()
    if dropped_inputs is not None and len(dropped_inputs):
        per_input = weight.transpose(0, 1) if source.transpose else weight  # (out, in, k, k)
        taps = per_input[outputs][:, dropped_inputs].sum(dim=(2, 3)) / (source.stride**2 if source.transpose else 1)
        bias += (taps * dropped_mean[None]).sum(dim=1)
    target.weight.data.copy_(narrowed)
    target.bias.data.copy_(bias)


def _narrow_network(parent_net, child_net, recorder: _Recorder, inputs: torch.Tensor, dropped: torch.Tensor,
                    dropped_mean: torch.Tensor, outputs: torch.Tensor) -> list[str]:
    """Copy PARENT_NET into the narrower CHILD_NET: the first layer reads the parent's INPUTS (the DROPPED ones, at
    their mean, go into its bias), each hidden layer keeps the units that carry the most, the last gives OUTPUTS."""
    kept = []
    for k, (p_layer, c_layer) in enumerate(zip(parent_net, child_net)):
        if k == len(parent_net) - 1:
            kept_outputs = outputs
        else:
            scores = recorder.mean(p_layer) * _outgoing_norms([parent_net[k + 1]], torch.arange(p_layer.cout))
            kept_outputs = _keep(scores, c_layer.cout)
            kept.append(f"{c_layer.cout}/{p_layer.cout}")
        _copy_narrowed(p_layer, c_layer, kept_outputs, inputs, dropped_mean, dropped)
        dropped = _complement(kept_outputs, p_layer.cout)
        inputs, dropped_mean = kept_outputs, recorder.mean(p_layer)[dropped]
    return kept


def _complement(kept: torch.Tensor, count: int) -> torch.Tensor:
    return torch.tensor(sorted(set(range(count)) - set(kept.tolist())), dtype=torch.long)


@torch.no_grad()
def narrow(parent: torch.nn.Module, child: torch.nn.Module, sampler: LatentSampler, batches: int = 8) -> list[str]:
    """Start CHILD's probability path (h_s, every slice network; any h_s, hyper and context widths up to the
    parent's) from PARENT's units, keeping those that carry the most (see the module docstring). Returns a line per
    network saying what was kept."""
    pc, cc = parent.latent_codec, child.latent_codec
    widths = [(p.cout, c.cout) for p_net, c_net in zip(pc.integer_networks(), cc.integer_networks())
              for p, c in zip(p_net, c_net)]
    if any(c > p for p, c in widths):
        raise SystemExit("narrowing keeps a subset of the parent's units: the probability path's widths can only "
                         "shrink")
    recorder = _Recorder([layer for net in pc.integer_networks() for layer in net])
    for _ in range(batches):
        y = sampler.batch(4)
        quality = torch.randint(1, len(parent.config.lambdas) + 1, (y.shape[0],))
        gain, _ = parent.gains(quality)
        pc(y * gain[:, :, None, None], rounding=hard_rounding)
    recorder.close()
    # the hyper features: h_s's outputs, read by the first layer of every slice network
    hyper_width = parent.config.hyper_width
    hyper_mean = recorder.mean(pc.h_s[-1])
    all_hyper = torch.arange(hyper_width)
    hyper_scores = hyper_mean.abs() * _outgoing_norms([net[0] for net in pc.context.networks()], all_hyper)
    hyper_kept = _keep(hyper_scores, child.config.hyper_width)
    hyper_dropped = _complement(hyper_kept, hyper_width)
    no_input = torch.zeros(0, dtype=torch.long)
    kept = _narrow_network(pc.h_s, cc.h_s, recorder, torch.arange(pc.h_s[0].cin), no_input, no_input, hyper_kept)
    report = [f"h_s: hidden units kept {', '.join(kept)}; {child.config.hyper_width} of {hyper_width} hyper features"]
    for name, parents, children in (("params", pc.context.params, cc.context.params),
                                    ("residuals", pc.context.residuals, cc.context.residuals)):
        for i, (p_net, c_net) in enumerate(zip(parents, children)):
            # inputs of the first layer: the kept hyper features, then every context channel
            inputs = torch.cat([hyper_kept, torch.arange(hyper_width, p_net[0].cin)])
            kept = _narrow_network(p_net, c_net, recorder, inputs, hyper_dropped, hyper_mean[hyper_dropped],
                                   torch.arange(p_net[-1].cout))
            report.append(f"{name}.{i}: hidden units kept {', '.join(kept)}")
    return report


# ------------------------------------------------------------------------------------------- distortion weights
def distortion_weights(model: torch.nn.Module, sampler: LatentSampler, probes: int = 8, batch: int = 4) -> torch.Tensor:
    """w (M,): the pixel MSE per unit squared error of each latent channel at g_s's input, to first order: the mean
    squared column of g_s's Jacobian (Hutchinson: E[(J^T v)^2] for v ~ N(0, 1)) over the pixels a latent position
    makes, at the latents of random trained qualities."""
    total = torch.zeros(model.config.M, dtype=torch.float64)
    for _ in range(probes):
        y = sampler.batch(batch)
        quality = torch.randint(1, len(model.config.lambdas) + 1, (batch,))
        gain, inverse = model.gains(quality)
        with torch.no_grad():
            y_hat = model.latent_codec(y * gain[:, :, None, None], rounding=hard_rounding).y_hat
        u = (y_hat * inverse[:, :, None, None]).detach().requires_grad_(True)
        x = model.synthesize(u, quality)
        (g,) = torch.autograd.grad(x, u, torch.randn_like(x))
        total += (g.double() ** 2).mean(dim=(0, 2, 3))
    return (total / probes / (3 * LATENT_STRIDE**2)).float()


# ----------------------------------------------------------------------------------------------------- training
def probability_parameters(model: torch.nn.Module, synthesis: bool = False) -> list[torch.nn.Parameter]:
    """h_s and the slice networks (and with SYNTHESIS g_s and the inverse gains): what this trainer trains; everything
    else stays the parent's bit for bit."""
    codec = model.latent_codec
    return [*codec.h_s.parameters(), *codec.context.parameters(),
            *(model.synthesis_parameters() if synthesis else [])]


def loss_of(model: torch.nn.Module, y: torch.Tensor, quality: torch.Tensor, weights: torch.Tensor | None,
            x: torch.Tensor | None = None) -> dict:
    """The batch's loss: per sample, bits of y per pixel plus lambda * 255^2 * the pixel MSE: g_s's against the
    pixels X when given, else its first-order estimate from y's coding error and WEIGHTS."""
    gain, inverse = model.gains(quality)
    y = y * gain[:, :, None, None]
    with torch.no_grad():
        z = model.latent_codec.h_a(y)
    out = model.latent_codec(y, z, rounding=hard_rounding)
    if x is not None:
        mse = ((model.synthesize(out.y_hat * inverse[:, :, None, None], quality) - x) ** 2).mean(dim=(1, 2, 3))
    else:
        error = ((out.y_hat - y) * inverse[:, :, None, None]) ** 2
        mse = (error.mean(dim=(2, 3)) * weights).sum(dim=1)
    bpp = out.y_bits / (y.shape[2] * y.shape[3] * LATENT_STRIDE**2)
    loss = (model.lambdas_for(quality) * 255**2 * mse + bpp).mean()
    return {"loss": loss, "bpp": bpp.mean().detach(), "mse": mse.mean().detach()}


def start(args: argparse.Namespace) -> tuple[TrainingState, LatentSampler, torch.Tensor | None]:
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"
    cache = Path(args.latents) if args.latents else run_dir / "latents.npz"
    resumed = args.resume and checkpoint_path.is_file()
    if resumed:
        model, checkpoint = load_checkpoint(checkpoint_path, raw=True)
        parent = None
    else:
        parent, _, _ = load_model_file(Path(args.init))
        parent.eval()
        model = transplant(parent, args.architecture or parent.architecture, json.loads(args.config or "{}"), True)
        checkpoint = {}
    if hasattr(model, "g_a_modulation"):
        raise SystemExit(f"error: {model.architecture}'s g_a depends on the quality, and this trainer caches one "
                         "latent of each image for every quality: train it with python -m aec.train")
    if not cache.is_file():
        if parent is None:
            if not args.init:
                raise SystemExit(f"no latent cache at {cache}: --init names the model whose g_a makes it")
            parent, _, _ = load_model_file(Path(args.init))
        paths = list_images(Path(args.data))[:args.limit_images]
        images = [read_rgb(path) for path in paths]
        kept = [n for n, image in enumerate(images) if min(image.shape[:2]) >= args.crop * LATENT_STRIDE]
        if not kept:
            raise SystemExit(f"no training images of at least {args.crop * LATENT_STRIDE}px in {args.data}")
        print(f"caching the latents of {len(kept)} images (and their mirrors) in {cache}", flush=True)
        cache_latents(parent.eval(), [images[n] for n in kept], cache,
                      [str(paths[n].relative_to(args.data)) for n in kept])
        del images
    pixels = cached_images(cache, Path(args.data)) if args.pixels else None
    sampler = LatentSampler(load_latents(cache), args.crop, args.seed + (checkpoint.get("step", 0)), pixels)
    if not resumed and not args.fresh and model is not parent:  # transplant gives the parent when nothing changes
        for line in narrow(parent, model, sampler):
            print(line, flush=True)
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    trained = probability_parameters(model, args.train_synthesis)
    for p in trained:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(trained, lr=args.lr)
    if "optimizer" in checkpoint:
        optimizer.load_state_dict(checkpoint["optimizer"])
    ema = EMA(model, args.ema_decay, checkpoint.get("ema")) if args.ema_decay else None
    step, hours = checkpoint.get("step", 0), checkpoint.get("hours", 0.0)
    state = TrainingState(model, optimizer, ema, step, hours, int(checkpoint.get("adam_from", step)))
    if args.pixels:  # the distortion is measured on the pixels: no first-order weights to estimate
        return state, sampler, None
    weights = distortion_weights(model, sampler)
    print(f"distortion weights: mean {weights.mean():.3g}, min {weights.min():.3g}, max {weights.max():.3g}",
          flush=True)
    return state, sampler, weights


class PathTrainer(Trainer):
    """``aec.train.loop``'s loop (schedule, clipping, EMA, logs, checkpoints, the clock and signals) on cached latent
    crops: only the batch and its loss (``loss_of``) are this trainer's own."""

    def __init__(self, args: argparse.Namespace, state: TrainingState, sampler: LatentSampler,
                 weights: torch.Tensor | None):
        super().__init__(args, state, Distributed("cpu"), sampler, validation_images=[])
        self.weights = weights

    def batch_loss(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model = self.state.model
        quality = draw_qualities(self.args.batch, len(model.config.lambdas))
        y, x = self.sampler.batch_with_pixels(self.args.batch)
        measured = loss_of(model, y, quality, self.weights, x)
        return measured["loss"], {"bpp": measured["bpp"], "mse": measured["mse"]}


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    state, sampler, weights = start(args)
    args.world_size, args.light_checkpoint, args.train_only = 1, False, "probability"
    PathTrainer(args, state, sampler, weights).run()
    print(f"stopped at step {state.step} ({state.hours:.2f} h); checkpoint {Path(args.run_dir) / 'checkpoint.pt'}",
          flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aec.train.probability", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True)
    add_data_options(p)
    p.add_argument("--init", help="the parent model file (its g_a makes the cache; its path is narrowed)")
    p.add_argument("--architecture", metavar="NAME", help="the child's architecture (default: the parent's)")
    p.add_argument("--config", help="JSON of the config fields to change (hyper_width, context_width)")
    p.add_argument("--latents", help="the latent cache (default RUN_DIR/latents.npz; made when missing)")
    p.add_argument("--fresh", action="store_true", help="start the changed networks from new weights, not narrowed")
    p.add_argument("--pixels", action="store_true",
                   help="measure the distortion on the pixels through g_s (the images read again from --data) instead "
                        "of its first-order estimate from the latents")
    p.add_argument("--train-synthesis", action="store_true",
                   help="with --pixels: train g_s and the inverse gains too (the whole decoder side)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt if present")
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--max-minutes", type=float, default=0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=16, help="latent pixels a side (16 pixels each)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--drop-at", type=float, default=1.0)
    p.add_argument("--drop-factor", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-images", type=int, default=None)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--checkpoint-minutes", type=float, default=4.0)
    # what aec.train.loop.Trainer reads: float32 on the CPU (the slice networks' fixed point needs it), no validation
    p.set_defaults(bf16=False, channels_last=False, device="cpu", val_every=0)
    args = p.parse_args(argv)
    if not args.resume and not args.init:
        p.error("--init names the parent model")
    if args.train_synthesis and not args.pixels:
        p.error("--train-synthesis needs --pixels (g_s learns from the pixels)")
    return args


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
