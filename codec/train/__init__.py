"""The aec trainer, `python -m aec.train` (`--help` for the options; docs/training.md for the recipes).

One module per job: ``data`` (image folders, the in-memory pool, random crops, subsets), ``distributed``
(torchrun/DDP), ``loop`` (the optimisation loop), ``ema`` (the average of the weights), ``validation``,
``progress`` (log.csv and the progress bar), ``checkpoint``, ``export`` (into weights/ and the manifest),
``plots`` and ``cli`` (the options and ``main``).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    """The trainer's command line (imported on use, so that `aec.train.data` alone stays light)."""
    from .cli import main as cli_main

    cli_main(argv)


__all__ = ["main"]
