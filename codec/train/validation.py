"""Validation: the estimated rate and PSNR of whole images at every quality, and RUN_DIR/validation.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..metrics import psnr

# The first five columns are those of the files written before the EMA; `weights` says which weights were
# measured: "ema" (the average) or "raw" (the optimizer's).
OLD_HEADER = "step,hours,quality,bpp,psnr"
HEADER = OLD_HEADER + ",weights"


@torch.no_grad()
def validate(model: torch.nn.Module, images: list[np.ndarray], device: torch.device) -> list[dict]:
    """Estimated rate and PSNR per quality on whole images (eval mode: rounding, as the coder does)."""
    was_training = model.training
    model.eval()
    rows = []
    for quality in model.config.qualities:
        bpp, mse = [], []
        for array in images:
            x = torch.from_numpy(array).permute(2, 0, 1).float().div(255).unsqueeze(0).to(device)
            h, w = x.shape[2:]
            padded = torch.nn.functional.pad(x, (0, (-w) % model.stride, 0, (-h) % model.stride), mode="replicate")
            out = model(padded, torch.tensor([quality], device=device))
            x_hat = out["x_hat"][..., :h, :w].clamp(0, 1)
            x_hat = torch.round(x_hat * 255) / 255
            mse.append(float(((x_hat - x) ** 2).mean()))
            bpp.append(float(out["y_bits"] + out["z_bits"]) / (h * w))
        rows.append({"quality": quality, "bpp": float(np.mean(bpp)), "psnr": float(np.mean([psnr(m) for m in mse]))})
    model.train(was_training)
    return rows


class ValidationLog:
    """RUN_DIR/validation.csv: one row per validation and quality. A file from before the `weights` column gets
    it (every old row measured the raw weights), so old and new rows parse alike."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            path.write_text(HEADER + "\n")
            return
        lines = path.read_text().splitlines()
        if lines and lines[0] == OLD_HEADER:
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text("".join(f"{line},raw\n" if i else HEADER + "\n"
                                         for i, line in enumerate(lines) if line))
            temporary.replace(path)

    def write(self, step: int, hours: float, rows: list[dict], weights: str) -> None:
        with open(self.path, "a") as handle:
            for r in rows:
                handle.write(f"{step},{hours:.4f},{r['quality']},{r['bpp']:.4f},{r['psnr']:.3f},{weights}\n")
