"""Progress of a run on rank 0: RUN_DIR/log.csv every --log-every steps, a progress bar on a terminal, and plain
lines on stdout when it is redirected to a file."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..metrics import psnr

LOG_COLUMNS = ["step", "hours", "loss", "bpp", "psnr", "lr", "steps_per_s", "grad_norm", "skipped"]


class Progress:
    """Averages over the steps since the last log row, written as one row of log.csv."""

    def __init__(self, path: Path, initial_step: int, total_steps: int, log_every: int):
        new = not path.is_file()
        self.file = open(path, "a", newline="")
        if new:
            csv.writer(self.file).writerow(LOG_COLUMNS)
        self.log_every = log_every
        self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True, file=sys.stderr,
                        disable=not sys.stderr.isatty())
        self._reset()

    def _reset(self) -> None:
        self.window = {"loss": [], "bpp": [], "mse": [], "grad": []}
        self.window_start = time.time()

    def step(self, step: int, hours: float, lr: float, skipped: int, **measured: float) -> None:
        """Count one optimizer step with its loss, bpp, mse and grad; a log row every --log-every steps."""
        self.bar.update(1)
        for key, value in measured.items():
            self.window[key].append(value)
        if step % self.log_every:
            return
        w = self.window
        row = [step, f"{hours:.4f}", f"{np.mean(w['loss']):.4f}", f"{np.mean(w['bpp']):.4f}",
               f"{psnr(float(np.mean(w['mse']))):.3f}", f"{lr:.2e}",
               f"{len(w['loss']) / (time.time() - self.window_start):.3f}", f"{np.mean(w['grad']):.2f}", skipped]
        csv.writer(self.file).writerow(row)
        self.file.flush()
        if self.bar.disable:
            print("step {} h {} loss {} bpp {} psnr {} lr {} it/s {} grad {} skipped {}".format(*row), flush=True)
        else:
            self.bar.set_postfix_str(f"bpp {row[3]} psnr {row[4]} loss {row[2]}")
        self._reset()

    def say(self, line: str) -> None:
        """A line on stdout past the progress bar, flushed (a log redirected to a file gets it now)."""
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()

    def close(self) -> None:
        self.bar.close()
        self.file.close()
