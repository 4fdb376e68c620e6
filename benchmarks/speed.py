"""How fast aec codes, stage by stage, beside the codecs people use: `python benchmarks/speed.py --out DIR`.

Three measurements, each the median of --runs repetitions, for every thread count of --threads:

- **in process**: aec's encode and decode of each image through the API, split into stages (image read, g_a, h_a,
  z coding, h_s, slice networks, y coding, g_s, image write) by `aec.timing.Stopwatch`, beside the encode and decode
  of AVIF, HEIC, WebP and JPEG XL at settings of about the same rate (`benchmarks/adapters.py`);
- **whole process**: `aec compress` and `aec decompress` of one image as a user runs them (Python start-up, imports
  and model loading included), with compiled bytecode as an installed aec has it (an untimed first run writes it
  under DIR's temporary folder, whatever PYTHONDONTWRITEBYTECODE says);
- **batch**: `aec decompress` of all the images' files in one command, per file.

`--model ID` (an installed model, `default` for the shipped default) and `--weights FILE.safetensors`, repeated and
mixed, time several models side by side, the first as the reference: in process they take turns run by run, and the
tables give each model's times, under its model id, and its ratio to the first.

Writes DIR/speed.json (every number, with the machine and versions) and DIR/speed.md (the tables). Run it on an
idle machine: timings of a shared CPU are not the codec's. The images default to the 24 Kodak images (from the
current folder); --images N takes the first N.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from aec.outputs import encode_image  # noqa: E402
from aec.images import list_images  # noqa: E402
from aec.timing import Stopwatch, stage  # noqa: E402
from aec.train.data import DEFAULT_KODAK  # noqa: E402
from aec.train.export import describe_hardware  # noqa: E402
from benchmarks import adapters  # noqa: E402

STAGES = ("read", "g_a", "h_a", "z coding", "h_s", "slice networks", "y coding", "g_s", "write")
# Settings of each peer near aec's default rate on Kodak (about 0.75 bpp), from benchmarks/results.
PEERS = {"avif": 60, "heic": 70, "webp": 80, "jxl": 85}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def open_models(models: list[tuple[str, str]]) -> list:
    """A Codec for each ("model", ID) or ("weights", FILE) of ``models`` (ID "default": the shipped default)."""
    import aec

    return [aec.Codec(weights=name) if kind == "weights" else aec.Codec(None if name == "default" else name)
            for kind, name in models]


def aec_in_process(paths: list[Path], runs: int, quality: float, codecs: list) -> list[dict]:
    """Median per-stage and total seconds of aec's encode and decode over the images (each image's median of runs),
    one dict per Codec of ``codecs``. The models take turns run by run, so that a machine whose speed drifts slows
    each alike."""
    sides = [{"encode": {}, "decode": {}} for _ in codecs]
    for path in paths:
        encoded = [codec.compress(path, model_quality=quality) for codec in codecs]  # warm-up, and the files
        per_run = [{"encode": [], "decode": []} for _ in codecs]
        for _ in range(runs):
            for codec, data, runs_of_model in zip(codecs, encoded, per_run):
                with Stopwatch() as watch:
                    started = time.perf_counter()
                    with stage("read"):
                        image = Image.open(path)
                        image.load()
                    codec.compress(image, model_quality=quality)
                    watch.seconds["total"] = time.perf_counter() - started
                runs_of_model["encode"].append(watch.seconds)
                with Stopwatch() as watch:
                    started = time.perf_counter()
                    decoded = codec.decompress(data)
                    with stage("write"):  # as aec decompress writes it
                        encode_image(decoded, "PNG", "speed.png", threads=codec.writing_threads())
                    watch.seconds["total"] = time.perf_counter() - started
                runs_of_model["decode"].append(watch.seconds)
        for model_sides, runs_of_model in zip(sides, per_run):
            for side, runs_of_side in runs_of_model.items():
                for name in {*STAGES, "total"}:
                    times = [r.get(name, 0.0) for r in runs_of_side]
                    model_sides[side].setdefault(name, []).append(median(times))
    return [{side: {name: median(values) for name, values in stages.items()} for side, stages in model_sides.items()}
            for model_sides in sides]


def peers_in_process(paths: list[Path], runs: int, threads: int) -> dict:
    """Median encode and decode seconds of each available peer codec over the images."""
    results = {}
    for name, quality in PEERS.items():
        try:
            adapter = adapters.make(name, threads=threads)
        except adapters.CodecUnavailable as error:
            results[name] = {"skipped": str(error)}
            continue
        encode, decode = [], []
        for path in paths:
            array = np.asarray(Image.open(path).convert("RGB"))
            data = adapter.encode(array, quality)
            encode.append(median([_seconds(lambda: adapter.encode(array, quality)) for _ in range(runs)]))
            decode.append(median([_seconds(lambda: adapter.decode(data)) for _ in range(runs)]))
        results[name] = {"quality": quality, "encode": median(encode), "decode": median(decode)}
    return results


def _seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def whole_process(paths: list[Path], runs: int, threads: int, quality: float, folder: Path,
                  model: tuple[str, str] = ("model", "default")) -> dict:
    """`aec compress` and `aec decompress` of the first image as processes, and a batch decompress of all, with
    ``model``: ("model", ID) or ("weights", FILE)."""
    # Bytecode as pip's install compiles it: an environment that forbids writing it would time Python compiling aec's
    # source on every run (tens of ms), which no installed aec does.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment.update(OMP_NUM_THREADS=str(threads), PYTHONPYCACHEPREFIX=str(folder / "pycache"))
    kind, name = model
    model = [] if (kind, name) == ("model", "default") else [f"--{kind}", name]
    reading = model if kind == "weights" else []  # a file names its installed model; decompress has no --model
    aec = [sys.executable, "-m", "aec.cli"]
    first = folder / "first.aec"

    def run(arguments: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(aec + arguments, check=True, env=environment, capture_output=True)
        return time.perf_counter() - started

    arguments = {"compress": ["compress", *model, "-f", "--model-quality", str(quality), str(paths[0]),
                              "-o", str(first)],
                 "decompress": ["decompress", *reading, "-f", str(first), "-o", str(folder / "first.png")]}
    for command in arguments.values():
        run(command)  # untimed: writes the bytecode of what the command imports (and the file decompress reads)
    compress = median([run(arguments["compress"]) for _ in range(runs)])
    decompress = median([run(arguments["decompress"]) for _ in range(runs)])
    batch_in, batch_out = folder / "batch-aec", folder / "batch-png"
    batch_in.mkdir(exist_ok=True)
    batch_out.mkdir(exist_ok=True)
    subprocess.run(aec + ["compress", *model, "-f", "--quiet", "--model-quality", str(quality), *map(str, paths), "-o",
                          str(batch_in)],
                   check=True, env=environment, capture_output=True)
    files = sorted(map(str, batch_in.glob("*.aec")))
    batch = run(["decompress", *reading, "-f", "--quiet", *files, "-o", str(batch_out)])
    return {"compress": compress, "decompress": decompress, "batch_decompress_per_file": batch / len(files)}


def table(results: dict) -> str:
    lines = []
    for threads, r in results["threads"].items():
        inside = r["aec"]
        lines += [f"### {threads} thread(s)", ""]
        models = r.get("models", {"aec": inside})
        if len(models) > 1:  # side by side, the first the reference
            first = next(iter(models.values()))
            lines += ["| model | encode (ms) | decode (ms) | encode / first | decode / first |", "|---|---|---|---|---|"]
            for label, m in models.items():
                encode, decode = m["encode"]["total"], m["decode"]["total"]
                lines.append(f"| {label} | {encode * 1000:.0f} | {decode * 1000:.0f} | "
                             f"{encode / first['encode']['total']:.2f} | {decode / first['decode']['total']:.2f} |")
            lines.append("")
        lines += ["| stage | " + " | ".join(f"{label} encode (ms) | {label} decode (ms)" for label in models) + " |",
                  "|---|" + "---|---|" * len(models)]
        for name in (*STAGES, "total"):
            cells = [(m["encode"].get(name, 0.0), m["decode"].get(name, 0.0)) for m in models.values()]
            if any(encode or decode for encode, decode in cells):
                lines.append(f"| {name} | " + " | ".join(f"{e * 1000:.0f} | {d * 1000:.0f}" for e, d in cells) + " |")
        lines += ["", "| codec | encode (ms) | decode (ms) |", "|---|---|---|",
                  f"| aec q{results['quality']:g} | {inside['encode']['total'] * 1000:.0f} | "
                  f"{inside['decode']['total'] * 1000:.0f} |"]
        for name, peer in r["peers"].items():
            if "skipped" in peer:
                lines.append(f"| {name} | skipped: {peer['skipped']} | |")
            else:
                lines.append(f"| {name} q{peer['quality']} | {peer['encode'] * 1000:.1f} | {peer['decode'] * 1000:.1f} |")
        if r.get("process") is None:
            lines.append("")
            continue
        processes = r.get("processes", {"aec": r["process"]})
        rows = (("`aec compress` of one image", "compress"), ("`aec decompress` of one image", "decompress"),
                (f"`aec decompress` of all {results['images']} files, per file", "batch_decompress_per_file"))
        lines += ["", "| whole process | " + " | ".join(f"{label} seconds" for label in processes) + " |",
                  "|---|" + "---|" * len(processes)]
        lines += [f"| {text} | " + " | ".join(f"{p[key]:.2f}" for p in processes.values()) + " |" for text, key in rows]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/speed.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for speed.json and speed.md")
    p.add_argument("--images-dir", default=str(DEFAULT_KODAK), help=f"images (default {DEFAULT_KODAK})")
    p.add_argument("--images", type=int, default=24, help="how many of them (default 24)")
    p.add_argument("--threads", default="1,2", help="thread counts to measure (default 1,2)")
    p.add_argument("--runs", type=int, default=3, help="repetitions per measurement; the median counts (default 3)")
    p.add_argument("--quality", type=float, default=4.0,
                   help="aec model quality, the model's own scale (default 4, as the earlier results were measured)")
    p.add_argument("--model", dest="models", action="append", type=lambda name: ("model", name),
                   help="an installed model id ('default': the shipped default, which is timed alone without "
                        "--model or --weights); repeat it, or mix it with --weights, to time several models side by "
                        "side (in process they take turns), the first as the reference")
    p.add_argument("--weights", dest="models", action="append", type=lambda path: ("weights", path),
                   help="a .safetensors model file, as --model takes an installed one ('default' as for --model)")
    p.add_argument("--no-process", action="store_true", help="skip the whole-process measurements")
    args = p.parse_args(argv)
    paths = list_images(args.images_dir)[:args.images] if Path(args.images_dir).is_dir() else []
    if not paths:
        raise SystemExit(f"error: no images in {args.images_dir}")
    models = [("model", "default") if name == "default" else (kind, name)
              for kind, name in (args.models or [("model", "default")])]
    codecs = open_models(models)
    labels = [codec.model_id for codec in codecs]
    if len(set(labels)) < len(labels):  # files that hold one model id: by file name
        labels = [Path(name).stem if kind == "weights" else name for kind, name in models]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
               "machine": describe_hardware(),
               "torch": torch.__version__, "images": len(paths), "runs": args.runs, "quality": args.quality,
               "threads": {}}
    with tempfile.TemporaryDirectory() as folder:
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)  # the encoder's float transforms
            with threadpool_limits(threads):  # numpy's BLAS: the decoder and the exact path (aec.ops)
                timed = aec_in_process(paths, args.runs, args.quality, codecs)
                entry = {"aec": timed[0], "peers": peers_in_process(paths, args.runs, threads)}
                if len(codecs) > 1:
                    entry["models"] = dict(zip(labels, timed))
            if not args.no_process:
                processes = {label: whole_process(paths, args.runs, threads, args.quality, Path(folder), model)
                             for label, model in zip(labels, models)}
                entry["process"] = processes[labels[0]]
                if len(codecs) > 1:
                    entry["processes"] = processes
            results["threads"][str(threads)] = entry
            print(f"{threads} thread(s): encode {entry['aec']['encode']['total'] * 1000:.0f} ms, "
                  f"decode {entry['aec']['decode']['total'] * 1000:.0f} ms", file=sys.stderr, flush=True)
    (out / "speed.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "speed.md").write_text(f"`{results['command']}` on a {results['machine']}, torch {results['torch']}, "
                                  f"median of {args.runs} runs over {len(paths)} images\n\n" + table(results))
    print((out / "speed.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
