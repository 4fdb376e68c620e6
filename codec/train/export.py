"""Export a checkpoint as a model file in weights/ with its manifest entry (steps, hours, hardware, data, recipe)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch

from ..errors import InputError
from ..manifest import MANIFEST, WEIGHTS_DIR, file_metadata
from ..model_files import save_model
from .checkpoint import load_checkpoint

TRAINER_COMMAND = "python -m aec.train"


def describe_hardware() -> str:
    """This machine's CPU in one line, the manifest's default hardware (pass --hardware when the run was
    trained elsewhere, on a GPU for instance)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f"{torch.cuda.get_device_name(0)} GPU" if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core {cpu} CPU, {gpu}"


def recipe_line(recipe: str) -> str:
    """The manifest's recipe: the trainer command with the options given (the command is not doubled)."""
    recipe = recipe.strip()
    return recipe if recipe.startswith(TRAINER_COMMAND) else f"{TRAINER_COMMAND} {recipe}".strip()


def update_manifest(model_id: str, file_name: str, sha256: str, entry: dict, directory: Path = WEIGHTS_DIR,
                    make_default: bool = False) -> None:
    """Add or refresh one model's entry (the default with MAKE_DEFAULT; the first model of a new manifest is the
    default too, since a manifest names one); a released id must keep its file, hash and quality scale, and no
    model is retired. Which models are released and which is the default is set by ``tools/release.py``."""
    path = Path(directory) / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {"default": model_id, "models": {}}
    old = manifest["models"].get(model_id)
    if old is not None and old.get("decoder_only"):
        raise InputError(f"model id {model_id!r} ships its decoder side alone; its entry is final")
    if old is not None and old.get("released") and old["sha256"] != sha256:
        raise InputError(f"model id {model_id!r} is released with other weights; choose a new id")
    if old is not None and old.get("released"):
        entry = {**entry, "released": True}  # released is for good: a refresh of its entry keeps it so
        if "quality_scale" in old:
            if entry.get("quality_scale", old["quality_scale"])["anchors"] != old["quality_scale"]["anchors"]:
                raise InputError(f"model {model_id!r} is released with another quality scale; a released scale "
                                 "never changes (a model id and a quality keep meaning the same file)")
            entry = {**entry, "quality_scale": old["quality_scale"]}
        if "effort_iterations" in old:  # set by a release (tools/release.py), not by an export
            entry = {"effort_iterations": old["effort_iterations"], **entry}
    architecture = file_metadata(Path(directory) / file_name).get("architecture")
    manifest["models"][model_id] = {"file": file_name, "sha256": sha256, "architecture": architecture, **entry}
    if make_default:
        manifest["default"] = model_id
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def export(args: argparse.Namespace) -> None:
    """Write the checkpoint's EMA weights (its raw weights with --export-raw, or when it has no EMA) as a model
    in --weights-dir with its manifest entry: a candidate, neither released nor the default (``tools/release.py``
    decides those)."""
    source = Path(args.checkpoint) if args.checkpoint else Path(args.run_dir) / "checkpoint.pt"
    directory = Path(args.weights_dir)
    if directory.exists() and not directory.is_dir():
        raise SystemExit(f"error: --weights-dir {directory} is not a folder")
    model, state = load_checkpoint(source, raw=args.export_raw)
    averaged = "ema" in state and not args.export_raw
    directory.mkdir(parents=True, exist_ok=True)  # a new folder for a candidate, as --run-dir is made
    file_name = f"{args.export}.safetensors"
    digest = save_model(model, directory / file_name, args.export)
    train_args = state["args"]
    entry = {
        "released": False,
        "config": model.config.to_dict(),
        "quality_table": {str(q): lam for q, lam in zip(model.config.qualities, model.config.lambdas)},
        "training": {
            "steps": state["step"], "hours": round(state["hours"], 3),
            "hardware": args.hardware or describe_hardware(),
            "data": os.path.relpath(str(train_args.get("data"))), "crop": train_args.get("crop"),
            "batch": train_args.get("batch") * train_args.get("world_size", 1),
            "lr": train_args.get("lr"), "recipe": recipe_line(args.recipe),
            # the weights' average: 0 when the raw weights were exported
            "ema_decay": train_args.get("ema_decay", 0.0) if averaged else 0.0,
        },
    }
    if args.results:
        entry["results"] = json.loads(Path(args.results).read_text())
        # benchmarks/manifest_results.py computes the 0-100 scale from the same run; it belongs to the entry itself
        scale = entry["results"].pop("quality_scale", None)
        if scale is not None:
            entry["quality_scale"] = scale
    update_manifest(args.export, file_name, digest, entry, directory)
    print(f"exported {directory / file_name} (sha256 {digest}) at step {state['step']}, "
          f"{'EMA' if averaged else 'raw'} weights")
