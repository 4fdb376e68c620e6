"""One lent-GPU command, prepared to the minute: train, checkpoint before the limit, hand the checkpoint back in parts.

The device tool runs one command of at most 10 minutes on a copy of the working tree (64 MiB in all) and brings back
the files written under ``$OUT``, each at most 16 MiB. This script is that command:

    python3 tools/lease.py --out "$OUT"                          # on the GPU machine, from the repository root
    python3 tools/lease.py --join FILES_DIR --run-dir RUN_DIR    # here, afterwards: rebuild RUN_DIR/checkpoint.pt

It runs from a bare checkout (aec need not be installed: it lays the package out in a temporary folder and installs
the constriction wheel it finds in ``.whl/``), starts from the model file in ``lease/`` when an earlier lease's result
was exported there (a checkpoint with Adam state is too big to travel; else from the default shipped model), trains with the options given after ``--`` (by default bf16,
channels_last, crop 256 and batch 16 on CUDA, data decoded once into memory), stops with a light checkpoint (model and
EMA, no Adam state) at ``--minutes`` minus the time it takes to save and split, and writes into ``--out`` the
checkpoint in parts of at most ``--part-mib`` MiB, ``parts.json`` (sizes, sha256) and the trainer's CSV logs.
docs/training.md gives the whole procedure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PART_PREFIX = "checkpoint.pt.part-"
GPU_DEFAULTS = ["--device", "cuda", "--batch", "16", "--crop", "256", "--channels-last", "--lr", "1e-4",
                "--log-every", "100", "--val-images", "2", "--val-every", "1000000"]
SAVE_MARGIN_MINUTES = 0.75  # saving, splitting and hashing a ~70 MB checkpoint, with room to spare


def lay_out(site: Path) -> None:
    """The installed layout of aec (codec/ as aec, bitstream/ as aec.bitstream, weights/ as aec.weights) by symlinks."""
    package = site / "aec"
    if not package.exists():
        package.mkdir(parents=True)
        for entry in (REPO / "codec").iterdir():
            (package / entry.name).symlink_to(entry)
        (package / "bitstream").symlink_to(REPO / "bitstream")
        (package / "weights").symlink_to(REPO / "weights")


# What aec needs beyond torch and numpy (a CUDA image has those), by import name and requirement.
NEEDED = (("constriction", "constriction~=0.5.0"), ("safetensors", "safetensors"), ("tqdm", "tqdm"),
          ("PIL", "pillow"))


def bootstrap(site: Path) -> None:
    """Make `import aec` work from a bare checkout: the package laid out by symlinks, missing packages from .whl/."""
    import importlib.util

    lay_out(site)
    sys.path.insert(0, str(site))
    missing = [requirement for module, requirement in NEEDED if importlib.util.find_spec(module) is None]
    if missing:
        # Wheels for several Pythons may lie there: pip takes the ones this interpreter can use.
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                               "--find-links", str(REPO / ".whl"), "--target", str(site), *missing])
        if done.returncode:
            raise SystemExit(f"this machine lacks {', '.join(missing)} and .whl/ has no wheel of it for Python "
                             f"{sys.version_info.major}.{sys.version_info.minor} (see docs/training.md)")
        importlib.invalidate_caches()


def split(path: Path, out: Path, part_bytes: int) -> list[dict]:
    """Write path as PART_PREFIX000, 001, ... of at most part_bytes each; return their sizes and sha256."""
    parts = []
    with open(path, "rb") as handle:
        for index in range(10_000):
            block = handle.read(part_bytes)
            if not block:
                break
            name = f"{PART_PREFIX}{index:03d}"
            (out / name).write_bytes(block)
            parts.append({"name": name, "bytes": len(block), "sha256": hashlib.sha256(block).hexdigest()})
    return parts


def join(files: Path, destination: Path) -> Path:
    """Rebuild the checkpoint from the parts named in files/parts.json, checking every size and hash."""
    record = json.loads((files / "parts.json").read_text())
    digest = hashlib.sha256()
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".tmp")
    with open(temporary, "wb") as handle:
        for part in record["parts"]:
            block = (files / part["name"]).read_bytes()
            if len(block) != part["bytes"] or hashlib.sha256(block).hexdigest() != part["sha256"]:
                temporary.unlink()
                raise SystemExit(f"{part['name']} is damaged or incomplete: its size or sha256 does not match")
            handle.write(block)
            digest.update(block)
    if digest.hexdigest() != record["sha256"]:
        temporary.unlink()
        raise SystemExit("the joined checkpoint's sha256 does not match parts.json")
    temporary.replace(destination)
    for name in record.get("logs", []):
        if (files / name).is_file():
            shutil.copyfile(files / name, destination.parent / f"lease-{name}")
    return destination


def lease(args: argparse.Namespace, trainer_options: list[str]) -> dict:
    """Train within the budget and leave the checkpoint in parts under args.out."""
    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    from aec.model_files import WEIGHTS_DIR, read_manifest
    from aec.train.cli import main as train

    start = ["--resume"]
    fresh = not (run_dir / "checkpoint.pt").is_file()
    if fresh and "--config" not in trainer_options and "--init" not in trainer_options:
        carried = sorted((REPO / "lease").glob("*.safetensors"))
        start += ["--init", str(carried[-1] if carried else WEIGHTS_DIR / f"{read_manifest()['default']}.safetensors")]
    left = args.minutes - (time.time() - started) / 60 - SAVE_MARGIN_MINUTES
    if left <= 0:
        raise SystemExit(f"no time left to train within {args.minutes} minutes")
    train(["--run-dir", str(run_dir), *start, "--max-minutes", f"{left:.3f}", "--light-checkpoint",
           "--checkpoint-minutes", str(args.checkpoint_minutes), *trainer_options])
    checkpoint = run_dir / "checkpoint.pt"
    parts = split(checkpoint, out, int(args.part_mib * (1 << 20)))
    logs = [name for name in ("log.csv", "validation.csv") if (run_dir / name).is_file()]
    for name in logs:
        shutil.copyfile(run_dir / name, out / name)
    record = {"parts": parts, "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(), "logs": logs,
              "minutes": round((time.time() - started) / 60, 2), "trainer_options": trainer_options}
    (out / "parts.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    trainer_options = argv[argv.index("--") + 1:] if "--" in argv else None
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="python3 tools/lease.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="folder the device tool brings back ($OUT)")
    p.add_argument("--run-dir", default="/tmp/aec-lease-run", help="the trainer's run folder on the GPU machine")
    p.add_argument("--minutes", type=float, default=9.0, help="the whole command's budget, start-up included")
    p.add_argument("--part-mib", type=float, default=15.0, help="largest part in MiB (the tool brings back 16)")
    p.add_argument("--checkpoint-minutes", type=float, default=3.0)
    p.add_argument("--site", default="/tmp/aec-site", help="where a bare checkout's package is laid out")
    p.add_argument("--join", metavar="FILES_DIR", help="here, afterwards: rebuild --run-dir/checkpoint.pt from the parts")
    args = p.parse_args(argv)
    if not args.join and not args.out:
        p.error("--out is required (or --join to rebuild a checkpoint)")
    return args, GPU_DEFAULTS if trainer_options is None else trainer_options


def main(argv: list[str] | None = None) -> None:
    args, trainer_options = parse_args(argv)
    if args.join:
        print(f"wrote {join(Path(args.join), Path(args.run_dir) / 'checkpoint.pt')}")
        return
    bootstrap(Path(args.site))
    record = lease(args, trainer_options)
    print(f"{len(record['parts'])} parts in {args.out} after {record['minutes']} minutes", flush=True)


if __name__ == "__main__":
    main()
