"""Is aec's default thread count any slower than one thread when another process keeps a core busy?

    python benchmarks/busy.py --image ../shared/data/kodak/kodim01.png

Times whole `aec compress` and `aec decompress` commands of one image as a user runs them, three ways in turn within
each round (the order rotating): the default threads (``aec.threads``: the cores that other work leaves free), `--threads
1`, and `--threads N` for the N cores aec may run on (what the default was before: one thread per core). It does so
twice: with --busy spinning processes beside it (a pure-Python loop at the same priority, started and stopped here),
and without them. It reports the median seconds of each and, the point, the ratios in one run: default over one
thread (at most about 1.3 wanted with a busy core) and default over N threads (about 1 wanted when idle). Anything else
the machine runs (say a niced training job) runs through both halves: say what it was beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from aec.threads import cores  # noqa: E402

DEFAULT_IMAGE = Path("../shared/data/kodak/kodim01.png")
SPIN = "while True:\n    pass\n"  # a busy core, at the priority this benchmark runs at


def variants(total: int) -> dict[str, list[str]]:
    """The thread options compared: the default, one thread, one per core."""
    return {"default": [], "1 thread": ["--threads", "1"], f"{total} threads": ["--threads", str(total)]}


def timed(arguments: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "aec.cli", *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"error: aec {' '.join(arguments)} failed: {done.stderr.strip()}")
    return seconds


def measure(image: Path, folder: Path, rounds: int, busy: int, weights: str | None,
            commands: tuple[str, ...] = ("compress", "decompress")) -> dict:
    """{command: {variant: median seconds}} for each command, with `busy` spinning processes beside it."""
    model = ["--weights", weights] if weights else []
    coded, decoded = folder / "image.aec", folder / "image.png"
    subprocess.run([sys.executable, "-m", "aec.cli", "compress", "-f", *model, str(image), "-o", str(coded)],
                   check=True, capture_output=True)
    arguments = {"compress": ["compress", "-f", *model, str(image), "-o", str(folder / "again.aec")],
                 "decompress": ["decompress", "-f", *model, str(coded), "-o", str(decoded)]}
    options = variants(cores())
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        times: dict[str, dict[str, list[float]]] = {command: {name: [] for name in options} for command in commands}
        names = list(options)
        for k in range(rounds):
            for command in commands:
                for name in names[k % len(names):] + names[:k % len(names)]:  # alternating, the order rotating
                    times[command][name].append(timed(arguments[command] + options[name]))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    return {command: {name: statistics.median(values) for name, values in by_name.items()}
            for command, by_name in times.items()}


def table(results: dict) -> str:
    """Markdown: one row per condition and command, the medians and the two ratios."""
    total = results["cores"]
    lines = [f"| beside it | command | default s | 1 thread s | {total} threads s | default / 1 thread | "
             f"default / {total} threads |", "|---|---|---|---|---|---|---|"]
    for condition, by_command in results["conditions"].items():
        for command, seconds in by_command.items():
            default, one, all_ = seconds["default"], seconds["1 thread"], seconds[f"{total} threads"]
            lines.append(f"| {condition} | `aec {command}` | {default:.2f} | {one:.2f} | {all_:.2f} | "
                         f"{default / one:.2f} | {default / all_:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/busy.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default=str(DEFAULT_IMAGE), help=f"the image (default {DEFAULT_IMAGE})")
    p.add_argument("--rounds", type=int, default=5, help="rounds of the three variants; the median counts (default 5)")
    p.add_argument("--busy", type=int, default=1, help="spinning processes beside aec in the busy half (default 1)")
    p.add_argument("--weights", help="a .safetensors model file instead of the shipped default model")
    p.add_argument("--out", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    image = Path(args.image)
    if not image.is_file():
        raise SystemExit(f"error: no image {image}; give --image")
    results = {"command": " ".join(["python benchmarks/busy.py", *(argv if argv is not None else sys.argv[1:])]),
               "cores": cores(), "rounds": args.rounds, "conditions": {}}
    with tempfile.TemporaryDirectory() as folder:
        for busy in (args.busy, 0):
            label = f"{busy} busy process{'es' if busy > 1 else ''}" if busy else "no busy process"
            results["conditions"][label] = measure(image, Path(folder), args.rounds, busy, args.weights)
    print(f"`{results['command']}`: median of {args.rounds} rounds on {results['cores']} cores\n\n{table(results)}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
