"""Plots of a run from its logs: RUN_DIR/loss.png (log.csv) and RUN_DIR/validation.png (validation.csv)."""

from __future__ import annotations

import csv
from pathlib import Path


def plot(run_dir: Path) -> list[Path]:
    """Loss, rate and PSNR against steps, and the validation RD points, as PNG; the paths written."""
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
            # one curve per validation; files from before the `weights` column measured the raw weights
            for step, weights in sorted({(int(r["step"]), r.get("weights") or "raw") for r in val}):
                points = [r for r in val if int(r["step"]) == step and (r.get("weights") or "raw") == weights]
                axis.plot([float(r["bpp"]) for r in points], [float(r["psnr"]) for r in points], "o-", ms=3,
                          label=f"step {step}" + (" (EMA)" if weights == "ema" else ""))
            axis.set_xlabel("bits per pixel (estimated)")
            axis.set_ylabel("PSNR (dB)")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7)
            figure.tight_layout()
            figure.savefig(run_dir / "validation.png", dpi=110)
            plt.close(figure)
            written.append(run_dir / "validation.png")
    return written
