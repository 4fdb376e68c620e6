"""The aec trainer, `python -m aec.train` (`--help` for the options; docs/training.md for the recipes).

One module per job: ``data`` (image folders, the in-memory pool, random crops, subsets), ``distributed``
(torchrun/DDP), ``loop`` (the optimisation loop), ``ema`` (the average of the weights), ``validation``,
``progress`` (log.csv and the progress bar), ``checkpoint``, ``export`` (into weights/ and the manifest),
``plots`` and ``cli`` (the options and ``main``).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """The trainer's command line (imported on use, so that `aec.train.data` alone stays light); without PyTorch, one
    line that says which extra to install, and exit 1."""
    try:
        from .cli import main as cli_main
    except ImportError as error:
        if error.name != "torch":
            raise
        from ..errors import torch_missing

        sys.exit(f"aec.train: error: {torch_missing('training', 'train')}")
    cli_main(argv)


__all__ = ["main"]
