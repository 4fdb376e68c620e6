"""Release a model: `python tools/release.py MODEL_ID [--default]`; `--decoder-only`: an older one ships its decoder
side alone from then on.

Which models ship, and which one is the default, is the manifest's data (``weights/manifest.json``), and this tool
is what sets it; training's ``--export`` only adds or refreshes a candidate's entry. Releasing marks an exported
entry as released: from then on its id keeps its file, hash and 0-100 quality scale for good, and every later aec
decodes its files (docs/bitstream.md, "Files of earlier releases"). ``--default`` makes it the model that
``aec compress`` uses without ``--model``; without it the model ships beside the default, chosen by id. A release
needs the entry's Kodak results and quality scale (``--results`` at export, from ``benchmarks/manifest_results.py``)
and its golden vectors (``python tests/vectors/make_vectors.py MODEL_ID``, after the release). ``--decoder-only``
rewrites a released model's file (not the default's) with the tensors its decoder reads alone: every aec decodes its
files as before, none encodes with it any more (``ship_decoder_only``). ``--effort-iterations 0,N1,...,N5`` gives
the model its own refinement steps per effort level (docs/effort.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from aec.manifest import MANIFEST, WEIGHTS_DIR, file_metadata, read_manifest, sha256_file  # noqa: E402
from aec.train.export import update_manifest  # noqa: E402


def release(model_id: str, directory: Path = WEIGHTS_DIR, make_default: bool = False,
            effort_iterations: tuple[int, ...] | None = None) -> dict:
    """Mark MODEL_ID's entry in DIRECTORY's manifest as released (and the default with MAKE_DEFAULT), with its own
    refinement steps per effort level when EFFORT_ITERATIONS are given (``aec.config.check_effort_iterations``; an
    encoder-side setting, so a released model's levels may be re-tuned by releasing it again); the entry.

    SystemExit with one line when the entry is missing, its file's hash is not the entry's, its file holds another
    model id, or it has no quality scale; a released id stays as it was (update_manifest refuses other weights or another scale)."""
    manifest = read_manifest(directory)
    entry = manifest.get("models", {}).get(model_id)
    if entry is None:
        raise SystemExit(f"error: {model_id} is not in {Path(directory) / MANIFEST}: export it there first "
                         f"(python -m aec.train --export {model_id} --results RESULTS ...)")
    digest = sha256_file(Path(directory) / entry["file"])
    if entry.get("decoder_only"):
        raise SystemExit(f"error: {model_id} ships its decoder side alone: it decodes, and is released as it is")
    if digest != entry["sha256"]:
        raise SystemExit(f"error: {entry['file']} does not hash to its manifest entry; export it again")
    held = file_metadata(Path(directory) / entry["file"]).get("model_id")
    if held != model_id:
        raise SystemExit(f"error: {entry['file']} holds model {held!r}, not {model_id!r}; export it under its own id")
    if "quality_scale" not in entry:
        raise SystemExit(f"error: {model_id} has no 0-100 quality scale: export it with --results made by "
                         "python benchmarks/manifest_results.py from an rd.py run that measured jpeg420")
    fields = {key: value for key, value in entry.items() if key not in ("file", "sha256", "architecture")}
    if effort_iterations is not None:
        from aec.config import check_effort_iterations

        try:
            fields["effort_iterations"] = list(check_effort_iterations(tuple(effort_iterations)))
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
    update_manifest(model_id, entry["file"], digest, {**fields, "released": True}, directory, make_default)
    return read_manifest(directory)["models"][model_id]


def ship_decoder_only(model_id: str, directory: Path = WEIGHTS_DIR) -> dict:
    """Make a released model that is not the default ship its decoder side alone (docs/bitstream.md, "Files of
    earlier releases"): its file is rewritten with only the tensors its decoder reads (and the metadata key
    ``decoder_only``), and its entry keeps ``sha256``, the released weights' (its files' weights tag), beside
    ``decoder_only``: the new file's sha256, this aec's version and the last release that encoded with it. Every aec
    still decodes its files to the same symbols and pixels; none encodes with it any more. The entry."""
    import aec
    from aec.decoder import architecture_of
    from aec.manifest import DECODER_ONLY_KEY
    from safetensors.numpy import load_file, save_file

    manifest = read_manifest(directory)
    entry = manifest.get("models", {}).get(model_id)
    if entry is None or not entry.get("released") or entry.get("retired_after"):
        raise SystemExit(f"error: {model_id} is not a released model that ships in {Path(directory) / MANIFEST}")
    if entry.get("decoder_only"):
        raise SystemExit(f"error: {model_id} ships its decoder side alone already")
    if manifest.get("default") == model_id:
        raise SystemExit(f"error: {model_id} is the default model: it encodes")
    path = Path(directory) / entry["file"]
    if sha256_file(path) != entry["sha256"]:
        raise SystemExit(f"error: {entry['file']} does not hash to its manifest entry")
    metadata = file_metadata(path)
    kept = architecture_of(metadata["architecture"], path)
    tensors = {name: value for name, value in load_file(str(path)).items() if kept.is_decoder_tensor(name)}
    temporary = path.with_name(path.name + ".tmp")
    save_file(tensors, str(temporary), metadata={**metadata, DECODER_ONLY_KEY: "true"})
    digest = sha256_file(temporary)
    temporary.replace(path)
    entry["decoder_only"] = {"sha256": digest, "since": aec.__version__,
                             "last_encoding_release": _previous_release(aec.__version__)}
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def _previous_release(version: str) -> str:
    """The minor release before VERSION (0.9.0 -> 0.8.0): the last one whose files encoded with a model shipped
    decoder-only in VERSION."""
    major, minor, _ = (int(part) for part in version.split("."))
    return f"{major}.{minor - 1}.0" if minor else f"{major - 1}.x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/release.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_id")
    parser.add_argument("--default", action="store_true", help="make it the default model")
    parser.add_argument("--decoder-only", action="store_true",
                        help="a released model that is not the default ships its decoder side alone from now on")
    parser.add_argument("--effort-iterations", metavar="0,N1,...,N5",
                        help="the model's own refinement steps per effort level 0-5 (default: aec.config's), for a "
                             "model whose steps are cheaper than the default model's (docs/effort.md)")
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    args = parser.parse_args(argv)
    levels = None
    if args.effort_iterations is not None:
        try:
            levels = tuple(int(v) for v in args.effort_iterations.split(","))
        except ValueError:
            parser.error(f"--effort-iterations must be whole numbers separated by commas, got {args.effort_iterations!r}")
    if args.decoder_only:
        entry = ship_decoder_only(args.model_id, Path(args.weights_dir))
        size = (Path(args.weights_dir) / entry["file"]).stat().st_size
        print(f"{args.model_id} ships its decoder side alone: {entry['file']}, {size:,} bytes")
        return 0
    release(args.model_id, Path(args.weights_dir), args.default, levels)
    default = read_manifest(Path(args.weights_dir))["default"]
    print(f"released {args.model_id}; the default model is {default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
