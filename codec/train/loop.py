"""The optimisation loop: `train(args)` sets a run up, `Trainer` steps it until the schedule, the clock or a
signal ends it."""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch

from ..layers import round_ste
from .checkpoint import TrainingState, save_checkpoint, start_state
from .data import CropSampler, load_pool, load_validation
from .distributed import Distributed
from .precision import choose_bf16
from .progress import Progress
from .validation import ValidationLog, validate

BAD_STEPS_IN_A_ROW = 20  # non-finite losses or gradients in a row that stop the run


def hard_rounding(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """--rounding hard: the rate and the synthesis both see the rounded values (straight-through gradients)."""
    rounded = round_ste(values)
    return rounded, rounded


def learning_rate(step: int, args: argparse.Namespace, adam_from: int = 0) -> float:
    """--lr after a linear --warmup of the steps since Adam started (ADAM_FROM: 0 for a new model, the first step of
    a run whose Adam starts afresh, as from --init or a light checkpoint), times --drop-factor from --drop-at x
    --steps on."""
    if 0 <= step - adam_from < args.warmup:
        return args.lr * (step - adam_from + 1) / args.warmup
    return args.lr * (args.drop_factor if step >= args.drop_at * args.steps else 1.0)


def draw_qualities(count: int, trained: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """COUNT of the TRAINED qualities (1-based), drawn uniformly, or in proportion to WEIGHTS (--quality-weights)."""
    if weights is None:
        return torch.randint(1, trained + 1, (count,))
    return torch.multinomial(weights, count, replacement=True) + 1


@contextlib.contextmanager
def stop_requests():
    """A list that SIGTERM and SIGINT append to: the run ends at the next step boundary, with a checkpoint,
    instead of losing minutes of work."""
    requests: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, frame: requests.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield requests
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Trainer:
    """The optimisation loop of one process; on rank 0 it also logs, validates and writes checkpoints."""

    def __init__(self, args: argparse.Namespace, state: TrainingState, dist: Distributed, sampler: CropSampler,
                 validation_images: list[np.ndarray]):
        self.args, self.state, self.dist, self.sampler = args, state, dist, sampler
        self.validation_images = validation_images
        self.device = dist.device
        # timed on the bare model, before DDP's gradient hooks are attached; every process of a DDP run then trains
        # in the same precision: bf16 only where every rank measured it faster
        self.autocast, why = choose_bf16(args.bf16, state.model, self.device)
        self.autocast = not dist.any(not self.autocast)
        if dist.main:
            print(f"precision: {'bf16 autocast' if self.autocast else 'float32'} ({why})", flush=True)
        self.forward = dist.wrap(state.model)
        self.channels_last = self.device.type == "cpu" or args.channels_last
        weights = getattr(args, "quality_weights", None)
        if weights is not None and len(weights) != len(state.model.config.lambdas):
            raise SystemExit(f"--quality-weights gives {len(weights)} weights for "
                             f"{len(state.model.config.lambdas)} trained qualities")
        self.quality_weights = None if weights is None else torch.tensor(weights, dtype=torch.float64)
        self.rounding = hard_rounding if getattr(args, "rounding", "noise") == "hard" else None
        self.teacher = self._teacher(getattr(args, "distill", None))
        run_dir = Path(args.run_dir)
        self.checkpoint_path = run_dir / "checkpoint.pt"
        self.progress = Progress(run_dir / "log.csv", state.step, args.steps, args.log_every) if dist.main else None
        self.validation_log = ValidationLog(run_dir / "validation.csv") if dist.main else None
        self.skipped = self.bad_in_row = self.session_steps = 0
        self.session_start = self.clock = self.last_checkpoint = time.time()

    def run(self) -> TrainingState:
        """Train to --steps (or until --max-minutes or a signal); the state ends in a checkpoint on rank 0."""
        with stop_requests() as stop:
            while self.state.step < self.args.steps and not self._should_stop(stop):
                measured = self._optimizer_step()
                if measured is not None and self.dist.main:
                    self._after_step(measured)
        if self.progress is not None:
            self.progress.close()
        self.dist.check_in_sync(self.state.model)
        self._tick()
        if self.dist.main:
            save_checkpoint(self.checkpoint_path, self.state, self.args)
            print(f"{self.session_steps} steps this session", flush=True)
        return self.state

    def _should_stop(self, stop: list[int]) -> bool:
        out_of_time = bool(self.args.max_minutes) and time.time() - self.session_start > self.args.max_minutes * 60
        return self.dist.any(bool(stop) or (out_of_time and self.dist.main))

    def _teacher(self, path: str | None) -> torch.nn.Module | None:
        """--distill's model, frozen, whose latents the encoder learns (one process: its loss is not DDP's)."""
        if not path:
            return None
        if self.dist.world > 1:
            raise SystemExit("--distill runs in one process")
        from ..model_files import load_model_file

        teacher = load_model_file(Path(path))[0].to(self.device).eval()
        if teacher.config.lambdas != self.state.model.config.lambdas:
            raise SystemExit(f"--distill {path} was trained for other qualities than this model")
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        return teacher

    def latents(self, model: torch.nn.Module, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """g_a's latents times the gains: the values the coder rounds."""
        gain, _ = model.gains(quality)
        return model.analyze(x, quality).float() * gain[:, :, None, None]

    def batch_loss(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One batch of --batch crops at random trained qualities: the loss to minimise (the mean over the batch of
        lambda * 255^2 * MSE + bits per pixel) and the batch's mean bpp and mse, detached. A trainer of another
        batch (``aec.train.probability``) overrides this and keeps the rest of the loop."""
        args, model = self.args, self.state.model
        x = self.sampler.batch(args.batch).to(self.device, non_blocking=True).float().div_(255.0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        quality = draw_qualities(args.batch, len(model.config.lambdas), self.quality_weights).to(self.device)
        if self.teacher is not None:  # --distill: the parent's latents, in quantization steps squared
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                y = self.latents(model, x, quality)
                with torch.no_grad():
                    target = self.latents(self.teacher, x, quality)
            mse = ((y - target) ** 2).mean()
            return mse, {"bpp": torch.zeros(()), "mse": mse.detach()}
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = self.forward(x, quality, rounding=self.rounding)
        mse = ((out["x_hat"].float() - x) ** 2).mean(dim=(1, 2, 3))
        bpp = (out["y_bits"] + out["z_bits"]) / (x.shape[2] * x.shape[3])
        loss = (model.lambdas_for(quality) * 255**2 * mse + bpp).mean()
        return loss, {"bpp": bpp.mean().detach(), "mse": mse.mean().detach()}

    def _optimizer_step(self) -> dict[str, torch.Tensor] | None:
        """One batch: forward, backward, clipping, Adam, EMA. The loss, bpp, mse and gradient norm of the batch,
        or None when the step was skipped for a non-finite loss or gradient."""
        args, model, optimizer = self.args, self.state.model, self.state.optimizer
        for group in optimizer.param_groups:  # a group's lr_scale: --modulation-lr-scale
            group["lr"] = learning_rate(self.state.step, args, self.state.adam_from) * group.get("lr_scale", 1.0)
        loss, measured = self.batch_loss()
        optimizer.zero_grad(set_to_none=True)
        if self.dist.any(not torch.isfinite(loss)):
            return self._skip()
        loss.backward()
        # frozen parameters (--train-only, aec.train.probability) have no gradient and do not count
        grad = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        if not torch.isfinite(grad):  # the same on every rank: DDP has averaged the gradients
            optimizer.zero_grad(set_to_none=True)
            return self._skip()
        self.bad_in_row = 0
        optimizer.step()
        if self.state.ema is not None:
            self.state.ema.update()
        self.state.step += 1
        self.session_steps += 1
        return {"loss": loss.detach(), **measured, "grad": grad}

    def _skip(self) -> None:
        self.skipped += 1
        self.bad_in_row += 1
        if self.bad_in_row > BAD_STEPS_IN_A_ROW:
            raise SystemExit(f"loss or gradient not finite for {self.bad_in_row} steps in a row at step "
                             f"{self.state.step}; resume from the last checkpoint with a lower --lr")
        return None

    def _tick(self) -> None:
        """Bring the state's hours up to now."""
        now = time.time()
        self.state.hours += (now - self.clock) / 3600
        self.clock = now

    def _after_step(self, measured: dict[str, torch.Tensor]) -> None:
        """Rank 0: the log row, a validation every --val-every steps, a checkpoint every --checkpoint-minutes."""
        self._tick()
        step, args = self.state.step, self.args
        self.progress.step(step, self.state.hours, learning_rate(step - 1, args, self.state.adam_from), self.skipped,
                           **{key: float(value) for key, value in measured.items()})
        if self.validation_images and step % args.val_every == 0:
            self._validate()
        if time.time() - self.last_checkpoint > args.checkpoint_minutes * 60:
            save_checkpoint(self.checkpoint_path, self.state, args)
            self.last_checkpoint = time.time()

    def _validate(self) -> None:
        """The EMA weights when the EMA is on, else the raw ones."""
        ema = self.state.ema
        model, weights = (ema.module(), "ema") if ema is not None else (self.state.model, "raw")
        rows = validate(model, self.validation_images, self.device)
        self.validation_log.write(self.state.step, self.state.hours, rows, weights)
        for r in rows:
            self.progress.say(f"  val q{r['quality']:.0f}{' ema' if ema is not None else ''}: "
                              f"{r['bpp']:.4f} bpp {r['psnr']:.2f} dB")


def train(args: argparse.Namespace) -> None:
    """Set a run up (model, data, logs on rank 0), train it and leave a checkpoint in RUN_DIR."""
    dist = Distributed(args.device)
    args.world_size = dist.world
    # The manifest names the data relative to the folder an export runs in, which may not be this one.
    args.data, args.kodak = str(Path(args.data).resolve()), str(Path(args.kodak).resolve())
    torch.manual_seed(args.seed + dist.rank)
    random.seed(args.seed + dist.rank)
    run_dir = Path(args.run_dir)
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    state = start_state(args, dist)
    started = time.time()
    images = load_pool(Path(args.data), args.crop, args.limit_images)
    sampler = CropSampler(images, args.crop, args.seed + state.step + 1_000_003 * dist.rank)
    validation_images = load_validation(Path(args.kodak), args.val_images) if dist.main else []
    if dist.main:
        print(f"{len(images)} training images loaded in {time.time() - started:.1f} s; "
              f"{sum(p.numel() for p in state.model.parameters()) / 1e6:.2f} M parameters; {dist.world} process(es) "
              f"of batch {args.batch} on {dist.device}"
              + (f"; EMA of the weights, decay {state.ema.decay}" if state.ema is not None else ""), flush=True)
    Trainer(args, state, dist, sampler, validation_images).run()
    dist.close()
    if dist.main:
        print(f"stopped at step {state.step} ({state.hours:.2f} h in total); checkpoint {run_dir / 'checkpoint.pt'}",
              flush=True)
