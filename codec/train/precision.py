"""The trainer's precision: bf16 autocast where the machine runs it faster, float32 where it does not.

CPUs of one kind differ: with AVX-512 bf16 instructions, autocast to bf16 about halves a training step; on an
AVX2-only CPU the same autocast makes a step about 7 times slower than float32 (docs/training.md). So unless
--bf16 or --no-bf16 says otherwise, the trainer times a few forward and backward passes of its own model both ways
at start and keeps the faster (on CUDA bf16 is taken without a measurement).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

TRIALS = 3  # timed passes per precision, after one untimed warm-up pass
PROBE_SIDE = 128  # the probe's crop: the ratio of the two precisions, not a step's time, is what is measured


def time_pass(model: torch.nn.Module, bf16: bool, device: torch.device) -> float:
    """Seconds of one forward and backward pass of MODEL on a random PROBE_SIDE crop at quality 1, under bf16
    autocast or not. The gradients it leaves are cleared; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        x = torch.rand(1, 3, PROBE_SIDE, PROBE_SIDE, device=device).contiguous(memory_format=torch.channels_last)
        quality = torch.ones(1, dtype=torch.long, device=device)
        started = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(x, quality)
        (out["x_hat"].float().mean() + out["y_bits"].sum() + out["z_bits"].sum()).backward()
        seconds = time.perf_counter() - started
    model.zero_grad(set_to_none=True)
    return seconds


def choose_bf16(requested: bool | None, model: torch.nn.Module, device: torch.device,
                timer: Callable[[torch.nn.Module, bool, torch.device], float] = time_pass) -> tuple[bool, str]:
    """(whether to autocast to bf16, why): REQUESTED when given; else bf16 on CUDA; else on the CPU whichever of
    bf16 and float32 passes through MODEL faster (the median of TRIALS timed passes each, after a warm-up)."""
    if requested is not None:
        return requested, "as asked"
    if device.type == "cuda":
        return True, "CUDA"
    if device.type != "cpu":
        return False, f"no bf16 autocast on {device.type}"
    medians = {}
    for bf16 in (True, False):
        timer(model, bf16, device)
        medians[bf16] = statistics.median(timer(model, bf16, device) for _ in range(TRIALS))
    chosen = medians[True] < medians[False]
    return chosen, (f"measured: a {PROBE_SIDE}x{PROBE_SIDE} pass takes {medians[True] * 1000:.0f} ms with bf16 "
                    f"autocast, {medians[False] * 1000:.0f} ms in float32")
