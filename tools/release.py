"""Release a model: `python tools/release.py MODEL_ID [--default]`.

Which models ship, and which one is the default, is the manifest's data (``weights/manifest.json``), and this tool
is what sets it; training's ``--export`` only adds or refreshes a candidate's entry. Releasing marks an exported
entry as released: from then on its id keeps its file, hash and 0-100 quality scale for good, and every later aec
decodes its files (docs/bitstream.md, "Files of earlier releases"). ``--default`` makes it the model that
``aec compress`` uses without ``--model``; without it the model ships beside the default, chosen by id. A release
needs the entry's Kodak results and quality scale (``--results`` at export, from ``benchmarks/manifest_results.py``)
and its golden vectors (``python tests/vectors/make_vectors.py MODEL_ID``, after the release).
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


def release(model_id: str, directory: Path = WEIGHTS_DIR, make_default: bool = False) -> dict:
    """Mark MODEL_ID's entry in DIRECTORY's manifest as released (and the default with MAKE_DEFAULT); the entry.

    SystemExit with one line when the entry is missing, its file's hash is not the entry's, its file holds another
    model id, or it has no quality scale; a released id stays as it was (update_manifest refuses other weights or another scale)."""
    manifest = read_manifest(directory)
    entry = manifest.get("models", {}).get(model_id)
    if entry is None:
        raise SystemExit(f"error: {model_id} is not in {Path(directory) / MANIFEST}: export it there first "
                         f"(python -m aec.train --export {model_id} --results RESULTS ...)")
    digest = sha256_file(Path(directory) / entry["file"])
    if digest != entry["sha256"]:
        raise SystemExit(f"error: {entry['file']} does not hash to its manifest entry; export it again")
    held = file_metadata(Path(directory) / entry["file"]).get("model_id")
    if held != model_id:
        raise SystemExit(f"error: {entry['file']} holds model {held!r}, not {model_id!r}; export it under its own id")
    if "quality_scale" not in entry:
        raise SystemExit(f"error: {model_id} has no 0-100 quality scale: export it with --results made by "
                         "python benchmarks/manifest_results.py from an rd.py run that measured jpeg420")
    fields = {key: value for key, value in entry.items() if key not in ("file", "sha256", "architecture")}
    update_manifest(model_id, entry["file"], digest, {**fields, "released": True}, directory, make_default)
    return read_manifest(directory)["models"][model_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/release.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_id")
    parser.add_argument("--default", action="store_true", help="make it the default model")
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    args = parser.parse_args(argv)
    release(args.model_id, Path(args.weights_dir), args.default)
    default = read_manifest(Path(args.weights_dir))["default"]
    print(f"released {args.model_id}; the default model is {default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
