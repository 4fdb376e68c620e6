"""Encode-time refinement of the latents: more encoder effort for fewer bits, with the same decoder.

The one-pass encoder codes whatever g_a gives. For a young model that is far from the best latent for its decoder
(the amortisation gap), so the latents y and z of each image are refined by gradient steps on the model's own
rate-distortion loss at the file's quality, under stochastic Gumbel annealing (SGA: Yang, Bamler & Mandt,
"Improving Inference for Neural Image Compression", NeurIPS 2020): each latent is rounded down or up at random,
with a probability that follows its distance to the two integers, relaxed by a temperature that anneals to zero,
so the optimisation sees the rounding it will meet. The refined latents are then coded through the exact path
(``ChannelSliceLatentCodec.compress``), so nothing about the format or the decoder changes: every file made this
way decodes with every release.

The float pass runs on the model's device, tile by tile (``REFINE_TILE`` pixels, aligned to the z grid), so the
memory of a refinement is bounded whatever the image size.
"""

from __future__ import annotations

import math

import torch

from .latent_codecs import Rounding

REFINE_TILE = 512  # pixels, a multiple of the 64-pixel z grid
LEARNING_RATE = 5e-3
EPSILON = 1e-5


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


def temperature(step: int, iterations: int) -> float:
    """0.5 for the first fifth of the steps, then down by 10x over the rest (hard rounding is the limit)."""
    start = 0.2 * iterations
    return 0.5 * 0.1 ** (max(0.0, step - start) / max(iterations - start, 1.0))


def interpolated_lambda(lambdas: tuple[float, ...], quality: float) -> float:
    """The lambda of a fractional quality, log-linear between the trained ones (as the gains are)."""
    position = min(max(quality - 1.0, 0.0), len(lambdas) - 1.0)
    low = int(math.floor(position))
    high = min(low + 1, len(lambdas) - 1)
    t = position - low
    return math.exp(math.log(lambdas[low]) * (1 - t) + math.log(lambdas[high]) * t)


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
    refined_z = torch.empty(1, model.config.Z, height // 64, width // 64)
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for top in range(0, height, REFINE_TILE):
            for left in range(0, width, REFINE_TILE):
                rows = slice(top, min(top + REFINE_TILE, height))
                cols = slice(left, min(left + REFINE_TILE, width))
                mask_rows, mask_cols = max(min(valid_height, rows.stop) - top, 0), max(min(valid_width, cols.stop) - left, 0)
                latent = (slice(rows.start // 16, rows.stop // 16), slice(cols.start // 16, cols.stop // 16))
                y_tile, z_tile = _refine_tile(model, x[..., rows, cols], y[..., latent[0], latent[1]], quality,
                                              iterations, (mask_rows, mask_cols), seed + top * 7919 + left)
                refined_y[..., latent[0], latent[1]] = y_tile
                refined_z[..., rows.start // 64:rows.stop // 64, cols.start // 64:cols.stop // 64] = z_tile
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
    return refined_y, refined_z


def _refine_tile(model, x: torch.Tensor, y: torch.Tensor, quality: float, iterations: int, valid: tuple[int, int],
                 seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    device = model.device
    target = x.to(device)
    target = target.float().div(255) if target.dtype == torch.uint8 else target.float()
    target = target[..., :valid[0], :valid[1]]
    pixels = max(valid[0] * valid[1], 1)
    _, inverse_gain = model.gains(torch.tensor([quality], device=model.log_gains.device))
    inverse_gain = inverse_gain.to(device)[:, :, None, None]
    weight = interpolated_lambda(model.config.lambdas, quality) * 255**2
    generator = torch.Generator(device=device).manual_seed(seed)
    codec = model.latent_codec
    with torch.no_grad():
        z_start = codec.h_a(y.to(device)).float()
    y_var = y.to(device).clone().requires_grad_(True)
    z_var = z_start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([y_var, z_var], lr=LEARNING_RATE)
    for step in range(iterations):
        rates = codec(y_var, z_var, rounding=sga_rounding(temperature(step, iterations), generator))
        x_hat = model.g_s(rates.y_hat * inverse_gain)[..., :valid[0], :valid[1]]
        loss = weight * torch.mean((x_hat - target) ** 2) + (rates.y_bits + rates.z_bits).sum() / pixels
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return y_var.detach().cpu(), z_var.detach().cpu()
