"""A training run's validation curve as BD-rates against a baseline: `python benchmarks/validation_bd.py VALIDATION.csv
BASELINE.json`.

VALIDATION.csv is a run's `validation.csv` (``python -m aec.train`` writes one row per step, quality and weights:
estimated bpp and PSNR on its validation images, by default the first 4 of Kodak). BASELINE.json is
``benchmarks/checkpoints.py MODEL --images 4 --json FILE`` on the same images: the model to beat, measured the same
way (``benchmarks/results/baselines/`` holds r4's and r5's; their weights are in the git history, e.g.
``git show 1ea774e:weights/aec-sc192-r4.safetensors > r4.safetensors``). Prints one line per validated step: the
BD-rate (PCHIP) of the EMA weights (``--weights raw`` for the raw ones) against the baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.bd import bd_rate  # noqa: E402


def baseline_points(path: Path) -> list[dict]:
    """The (quality, bpp, psnr) points of the one model in a checkpoints.py JSON."""
    data = json.loads(Path(path).read_text())
    if len(data) != 1:
        raise SystemExit(f"error: {path} holds {len(data)} models; give a baseline of one")
    return next(iter(data.values()))["points"]


def steps(validation: Path, weights: str) -> dict[int, list[dict]]:
    """The validation rows of one kind of weights, by step, in quality order."""
    rows: dict[int, list[dict]] = {}
    with open(validation, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["weights"] == weights:
                rows.setdefault(int(row["step"]), []).append(row)
    return {step: sorted(found, key=lambda r: float(r["quality"])) for step, found in sorted(rows.items())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("validation", type=Path)
    p.add_argument("baseline", type=Path)
    p.add_argument("--weights", default="ema", choices=("ema", "raw"))
    args = p.parse_args(argv)
    base = baseline_points(args.baseline)
    for step, rows in steps(args.validation, args.weights).items():
        result = bd_rate([b["bpp"] for b in base], [b["psnr"] for b in base],
                         [float(r["bpp"]) for r in rows], [float(r["psnr"]) for r in rows])
        print(f"{step} {result.format('%', 2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
