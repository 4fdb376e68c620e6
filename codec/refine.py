"""Encode-time refinement of the latents: more encoder effort for fewer bits, with the same decoder.

The one-pass encoder codes whatever g_a gives. For a young model that is far from the best latent for its decoder
(the amortisation gap), so the latents y and z of each image are refined by gradient steps on the model's own
rate-distortion loss at the file's quality. The first steps (``RELAXED_FRACTION`` of them, at most
``RELAXED_MAX_STEPS``) see no rounding at all (the latents move freely, the rate is the density's mass around their
continuous values); the rest run stochastic Gumbel
annealing (SGA: Yang, Bamler & Mandt, "Improving Inference for Neural Image Compression", NeurIPS 2020): each latent
is rounded down or up at random, with a probability that follows its distance to the two integers, relaxed by a
temperature that anneals towards zero, so the optimisation ends on the rounding it will meet. SGA's noisy rounding
makes its first steps slow; the relaxed start makes them count (``benchmarks/effort.py`` with aec-sc192-r5: 60 steps
-4.7 % instead of SGA alone's -3.9 %, 150 steps -6.5 % against -6.4 %; a relaxed 30 % of 150 steps gave only -5.3 %,
hence the cap). The refined latents are then coded through the exact path
(``ChannelSliceLatentCodec.compress``), so nothing about the format or the decoder changes: every file made this
way decodes with every release.

The float pass runs on the model's device, tile by tile (``REFINE_TILE`` pixels, aligned to the z grid), so the
memory of a refinement is bounded whatever the image size.
"""

from __future__ import annotations

import numpy as np
import torch

from .channel_slice import LATENT_STRIDE, STRIDE
from .config import ModelConfig
from .latent_codecs import Rounding
from .progress import tick

REFINE_TILE = 512  # pixels, a multiple of the 64-pixel z grid
LEARNING_RATE = 5e-3
RELAXED_FRACTION, RELAXED_MAX_STEPS = 0.3, 20  # the steps without rounding before SGA
EPSILON = 1e-5


def relaxed(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """No rounding: the rate and the reconstruction see the continuous latents."""
    return values, values


def sga_rounding(tau: float, generator: torch.Generator) -> Rounding:
    """SGA's stochastic rounding at temperature tau, the same sample for the rate and for the reconstruction."""

    def rounding(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lower = torch.floor(values)
        upper = lower + 1
        down = -torch.atanh((values - lower).clamp(-1 + EPSILON, 1 - EPSILON)) / tau
        up = -torch.atanh((upper - values).clamp(-1 + EPSILON, 1 - EPSILON)) / tau
        logits = torch.stack([down, up], dim=-1)
        uniform = torch.rand(logits.shape, generator=generator, device=logits.device).clamp(1e-20, 1 - 1e-7)
        weights = torch.softmax((logits - torch.log(-torch.log(uniform))) / tau, dim=-1)
        sample = lower * weights[..., 0] + upper * weights[..., 1]
        return sample, sample

    return rounding


def temperature(step: int, iterations: int) -> float | None:
    """None (no rounding) for the relaxed first steps, then SGA's temperature: 0.5, down by 10x to the last step
    (hard rounding is the limit)."""
    start = min(int(RELAXED_FRACTION * iterations), RELAXED_MAX_STEPS)
    if step < start:
        return None
    return 0.5 * 0.1 ** ((step - start) / max(iterations - start - 1, 1))


def rounding_at(step: int, iterations: int, generator: torch.Generator) -> Rounding:
    tau = temperature(step, iterations)
    return relaxed if tau is None else sga_rounding(tau, generator)


def interpolated_lambda(config: ModelConfig, quality: float) -> float:
    """The lambda of a fractional model quality, log-linear between the trained ones (as the gains are)."""
    return float(config.interpolated(np.log(np.asarray(config.lambdas, dtype=np.float64)), quality))


def refine_latents(model, x: torch.Tensor, y: torch.Tensor, quality: float, iterations: int,
                   valid: tuple[int, int] | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Refined (y, z) for the padded image x (1, 3, H, W; float in [0, 1] or uint8) whose one-pass latent is y.

    Args:
        valid: the image's own (height, width) inside the padding; only those pixels count in the distortion.
        seed: the Gumbel noise is seeded, so the same image, model and settings give the same file.
    """
    height, width = x.shape[-2:]
    valid_height, valid_width = valid or (height, width)
    refined_y = y.clone()
    refined_z = torch.empty(1, model.config.Z, height // STRIDE, width // STRIDE)
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        corners = [(top, left) for top in range(0, height, REFINE_TILE) for left in range(0, width, REFINE_TILE)]
        for number, (top, left) in enumerate(corners):
            rows = slice(top, min(top + REFINE_TILE, height))
            cols = slice(left, min(left + REFINE_TILE, width))
            mask_rows, mask_cols = max(min(valid_height, rows.stop) - top, 0), max(min(valid_width, cols.stop) - left, 0)
            latent = (slice(rows.start // LATENT_STRIDE, rows.stop // LATENT_STRIDE),
                      slice(cols.start // LATENT_STRIDE, cols.stop // LATENT_STRIDE))
            y_tile, z_tile = _refine_tile(model, x[..., rows, cols], y[..., latent[0], latent[1]], quality,
                                          iterations, (mask_rows, mask_cols), seed + top * 7919 + left,
                                          (number, len(corners)))
            refined_y[..., latent[0], latent[1]] = y_tile
            refined_z[..., rows.start // STRIDE:rows.stop // STRIDE, cols.start // STRIDE:cols.stop // STRIDE] = z_tile
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
    return refined_y, refined_z


def _refine_tile(model, x: torch.Tensor, y: torch.Tensor, quality: float, iterations: int, valid: tuple[int, int],
                 seed: int, tiles: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Refine one tile, the tiles[0]-th of tiles[1] (for the progress ticks)."""
    device = model.device
    target = x.to(device)
    target = target.float().div(255) if target.dtype == torch.uint8 else target.float()
    target = target[..., :valid[0], :valid[1]]
    pixels = max(valid[0] * valid[1], 1)
    at = torch.tensor([quality], device=model.log_gains.device)
    _, inverse_gain = model.gains(at)
    inverse_gain = inverse_gain.to(device)[:, :, None, None]
    weight = interpolated_lambda(model.config, quality) * 255**2
    generator = torch.Generator(device=device).manual_seed(seed)
    codec = model.latent_codec
    with torch.no_grad():
        z_start = codec.h_a(y.to(device)).float()
    y_var = y.to(device).clone().requires_grad_(True)
    z_var = z_start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([y_var, z_var], lr=LEARNING_RATE)
    for step in range(iterations):
        rates = codec(y_var, z_var, rounding=rounding_at(step, iterations, generator))
        x_hat = model.synthesize(rates.y_hat * inverse_gain, at)[..., :valid[0], :valid[1]]
        loss = weight * torch.mean((x_hat - target) ** 2) + (rates.y_bits + rates.z_bits).sum() / pixels
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tick(tiles[0] * iterations + step + 1, tiles[1] * iterations)
    return y_var.detach().cpu(), z_var.detach().cpu()
