"""Short training pilots that compare model sizes by measurement: `python benchmarks/pilots.py --out DIR`.

Each pilot trains one variant of the shipped recipe from scratch with `python -m aec.train` for the same wall
time (or the same number of steps) on the same threads, then estimates its rate and PSNR at every quality on the
first Kodak images and reports its BD-rate against the first pilot (the baseline). Equal wall time is the fair
budget here: compute, not steps, is what limits the shipped model. Short pilots rank early learning speed; a
variant that learns slower but ends higher is only seen by longer ones (say so when you quote them).

A finished pilot (DIR/NAME/done.json) is not run again, so a stopped study resumes; `--pilots FILE` takes another
list (JSON: [{"name": ..., "config": {ModelConfig fields}, "args": [trainer options]}, ...]).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.bd import bd_quality, bd_rate  # noqa: E402
from aec.images import list_images  # noqa: E402
from aec.train.checkpoint import load_checkpoint  # noqa: E402
from aec.train.cli import add_data_options  # noqa: E402
from aec.train.data import load_validation  # noqa: E402
from aec.train.validation import validate  # noqa: E402

# The shipped sizes first (the baseline), then one change at a time.
PILOTS = [
    {"name": "base", "config": {}, "args": []},
    {"name": "small", "config": {"N": 96, "M": 128, "Z": 96, "hyper_width": 128, "context_width": 96}, "args": []},
    {"name": "slices2", "config": {"slices": 2}, "args": []},
    {"name": "slices8", "config": {"slices": 8}, "args": []},
    {"name": "crop192", "config": {}, "args": ["--crop", "192"]},
]


def run_pilot(pilot: dict, directory: Path, args: argparse.Namespace) -> None:
    """Train one pilot in its own process (its own thread count), from scratch, to the budget."""
    budget = ["--max-minutes", str(args.minutes)] if args.minutes else ["--steps", str(args.steps)]
    # The trainer runs in the repository root: the folders go to it as absolute paths. The pilots measure the raw
    # weights (no EMA), as they did before the trainer had one, unless the trainer options turn it on.
    command = [sys.executable, "-m", "aec.train", "--run-dir", str(directory.resolve()),
               "--config", json.dumps(pilot.get("config", {})), "--data", str(Path(args.data).resolve()),
               "--kodak", str(Path(args.kodak).resolve()), "--val-images", "0", "--seed", str(args.seed),
               "--checkpoint-minutes", "1000000", "--ema-decay", "0", *budget, *args.train_args,
               *pilot.get("args", [])]
    environment = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    with open(directory / "train.out", "w") as log:
        result = subprocess.run(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode:
        raise SystemExit(f"pilot {pilot['name']} failed (exit {result.returncode}); see {directory / 'train.out'}")


def evaluate(directory: Path, images: list[np.ndarray]) -> dict:
    """Estimated rate and PSNR per quality of the pilot's checkpoint, with its size and training speed."""
    model, state = load_checkpoint(directory / "checkpoint.pt")
    parameters = sum(p.numel() for p in model.parameters())
    return {"steps": state["step"], "hours": state["hours"], "parameters": parameters,
            "steps_per_second": state["step"] / max(state["hours"] * 3600, 1e-9),
            "points": validate(model, images, torch.device("cpu"))}


def report(results: dict[str, dict]) -> str:
    """A markdown table: each pilot against the first one (estimated bits, so compare rows, not codecs)."""
    names = list(results)
    base = results[names[0]]["points"]
    lines = ["| pilot | parameters | steps | steps/s | BD-rate vs " + names[0] + " | BD-PSNR | "
             + " | ".join(f"q{p['quality']:.0f} bpp / dB" for p in base) + " |",
             "|---" * (5 + len(base)) + "|---|"]
    for name in names:
        r = results[name]
        points = r["points"]
        args = ([p["bpp"] for p in base], [p["psnr"] for p in base],
                [p["bpp"] for p in points], [p["psnr"] for p in points])
        lines.append(f"| {name} | {r['parameters'] / 1e6:.2f} M | {r['steps']} | {r['steps_per_second']:.2f} | "
                     f"{bd_rate(*args).format(' %')} | {bd_quality(*args).format(' dB', 2)} | "
                     + " | ".join(f"{p['bpp']:.3f} / {p['psnr']:.2f}" for p in points) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python benchmarks/pilots.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for one run folder per pilot and pilots.json/.md")
    add_data_options(p)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=20.0, help="wall time per pilot (default 20)")
    budget.add_argument("--steps", type=int, help="steps per pilot instead of wall time")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per pilot (default 1)")
    p.add_argument("--val-images", type=int, default=8, help="first Kodak images to measure on (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="comma-separated pilot names to run (the baseline is always included)")
    p.add_argument("--pilots", help="JSON file with the list of pilots instead of the built-in one")
    p.add_argument("train_args", nargs=argparse.REMAINDER,
                   help="after --: options for every pilot's trainer (e.g. -- --lr 2e-4 --device cuda)")
    args = p.parse_args(argv)
    if args.steps:
        args.minutes = 0
    if args.train_args and args.train_args[0] == "--":
        args.train_args = args.train_args[1:]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    pilots = json.loads(Path(args.pilots).read_text()) if args.pilots else PILOTS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {p["name"] for p in pilots}
        if unknown:
            raise SystemExit(f"unknown pilot(s): {', '.join(sorted(unknown))}")
        pilots = [p for i, p in enumerate(pilots) if i == 0 or p["name"] in wanted]
    kodak = list_images(Path(args.kodak))[:args.val_images] if Path(args.kodak).is_dir() else []
    if not kodak:
        raise SystemExit(f"no validation images in {args.kodak}")
    images = load_validation(Path(args.kodak), args.val_images)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    results = {}
    for pilot in pilots:
        directory = out / pilot["name"]
        done = directory / "done.json"
        if done.is_file():
            results[pilot["name"]] = json.loads(done.read_text())
            continue
        directory.mkdir(parents=True, exist_ok=True)
        started = time.time()
        print(f"pilot {pilot['name']}: training", flush=True)
        run_pilot(pilot, directory, args)
        result = evaluate(directory, images)
        result.update(pilot=pilot, wall_seconds=time.time() - started, threads=args.threads,
                      val_images=[p.name for p in kodak])
        done.write_text(json.dumps(result, indent=1))
        results[pilot["name"]] = result
        print(f"pilot {pilot['name']}: {result['steps']} steps, "
              + ", ".join(f"q{p['quality']:.0f} {p['bpp']:.3f}/{p['psnr']:.2f}" for p in result["points"]),
              flush=True)
    (out / "pilots.json").write_text(json.dumps(results, indent=1))
    table = report(results)
    (out / "pilots.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
