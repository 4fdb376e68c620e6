"""The model manifest (weights/manifest.json) and the checks of a model file, without torch: `aec models`, `aec info`
and the decoder (``aec.decoder``) need no torch."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from . import weights as _shipped
from .bitstream import MAX_MODEL_ID_LENGTH, valid_model_id
from .errors import ModelMismatchError
from .config import EFFORT_ITERATIONS, check_effort_iterations
from .quality_scale import QualityScale

__all__ = ["WEIGHTS_DIR", "MANIFEST", "RETIRED_BEFORE_THE_POLICY", "DECODER_SIDE_BUDGET", "DECODER_ONLY_KEY",
           "read_manifest", "locate_model", "checked_model_file", "read_checked_model_file", "check_encodes",
           "shipped_sha256", "sha256_file", "file_metadata", "header_metadata", "model_config", "quality_scale",
           "described_quality", "effort_iterations"]

WEIGHTS_DIR = Path(_shipped.__file__).resolve().parent  # the aec.weights package: weights/ in the repository
MANIFEST = "manifest.json"
# Every model id a release shipped stays decodable by every later aec (docs/bitstream.md, "Files of earlier
# releases"); only these were retired, before that policy, and their files are refused naming the aec that decodes them.
RETIRED_BEFORE_THE_POLICY = frozenset(f"aec-sc192-r{release}" for release in range(1, 7))
DECODER_SIDE_BUDGET = 16 << 20  # the most bytes of tensors a kept model's decoder reads (aec.decoder.decoder_side_bytes)
DECODER_ONLY_KEY = "decoder_only"  # a model file's metadata key: it holds the decoder side alone (tools/release.py)
MAX_CONFIG_BYTES = 1 << 16  # a model file's config: a few hundred characters of JSON
# The largest model file aec reads (into memory, once: what is loaded is what was hashed). Shipped files are 5-17 MB;
# a float32 export of the widest trained model is about 70 MB.
MAX_MODEL_FILE_BYTES = 1 << 30
MAX_HEADER_BYTES = 100_000_000  # a .safetensors header's limit, as the safetensors library sets it


def read_manifest(directory: Path = WEIGHTS_DIR) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelMismatchError(f"no model manifest at {path}; reinstall aec")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ModelMismatchError(f"model manifest {path} is unreadable: {error}") from None


def locate_model(model_id: str | None, directory: Path = WEIGHTS_DIR) -> tuple[str, dict]:
    """(model id, manifest entry) of an installed model (the default when None); ModelMismatchError for one that is
    retired (naming the aec version that decodes its files) or not installed."""
    manifest = read_manifest(directory)
    model_id = model_id or manifest.get("default")
    entry = manifest.get("models", {}).get(model_id)
    if entry is not None and entry.get("retired_after"):
        raise ModelMismatchError(f"model {model_id!r} no longer ships with this aec (it was retired before every "
                                 f"released model was kept); aec {entry['retired_after']} decodes its files")
    if entry is None:
        known = ", ".join(sorted(manifest.get("models", {}))) or "none"
        raise ModelMismatchError(f"model {model_id!r} is not installed (installed: {known}); "
                                 f"a newer aec may know it")
    return model_id, entry


def shipped_sha256(entry: dict) -> str:
    """The sha256 of the file an installed model ships: its released weights' (``sha256``), or, for a model that
    ships its decoder side alone (``decoder_only``, written by ``tools/release.py --decoder-only``), that file's. The
    model's identity stays ``sha256``: its files' weights tag and its quality scale are the released weights'."""
    decoder_only = entry.get("decoder_only")
    return decoder_only["sha256"] if decoder_only else entry["sha256"]


def check_encodes(model_id: str, entry: dict) -> None:
    """ModelMismatchError for a model that ships its decoder side alone: every aec decodes its files, none of the
    later ones encodes with it."""
    decoder_only = entry.get("decoder_only")
    if decoder_only:
        raise ModelMismatchError(f"model {model_id!r} ships only its decoder since aec {decoder_only['since']}: this "
                                 f"aec decodes its files but no longer encodes with it (aec "
                                 f"{decoder_only['last_encoding_release']} does)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_metadata(path: Path) -> dict[str, str]:
    """The metadata of a .safetensors file (model id, architecture, config); ModelMismatchError if unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelMismatchError(f"{Path(path).name} is not a valid .safetensors model file ({error})") from None


def checked_model_file(path: Path, expected_sha256: str | None = None) -> tuple[str, dict[str, str]]:
    """(sha256, metadata) of a model file (``read_checked_model_file`` without the bytes)."""
    digest, metadata, _ = read_checked_model_file(path, expected_sha256)
    return digest, metadata


def read_checked_model_file(path: Path, expected_sha256: str | None = None) -> tuple[str, dict[str, str], bytes]:
    """(sha256, metadata, contents) of a model file, read once, so that what a caller loads is what was hashed. The
    file must be a regular file of at most ``MAX_MODEL_FILE_BYTES``, match the expected hash when one is given, and
    name a valid model id, its architecture and a config that is a JSON object (``model_config``);
    ModelMismatchError otherwise."""
    path = Path(path)
    _check_regular_file(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_MODEL_FILE_BYTES + 1)
    except OSError as error:
        raise ModelMismatchError(f"cannot read the model file {path}: {error.strerror or error}") from None
    if len(data) > MAX_MODEL_FILE_BYTES:
        raise ModelMismatchError(f"{path.name} is not an aec model file: it is over {MAX_MODEL_FILE_BYTES >> 20} MiB, "
                                 "the most a model file takes")
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelMismatchError(f"model file {path.name} is corrupt or was replaced: sha256 {digest[:12]}... "
                                 f"does not match the manifest's {expected_sha256[:12]}...; reinstall aec")
    metadata = header_metadata(data, path)
    missing = [key for key in ("model_id", "architecture", "config") if key not in metadata]
    if missing:
        raise ModelMismatchError(f"{path.name} is not an aec model file (its metadata lacks {', '.join(missing)})")
    if not valid_model_id(metadata["model_id"]):
        # It would name the model in every file written with it: a header takes 1 to 64 of [A-Za-z0-9._-] only.
        raise ModelMismatchError(f"{path.name} is not a valid aec model file: its model id {metadata['model_id']!r} "
                                 f"is not 1 to {MAX_MODEL_ID_LENGTH} of the characters A-Z a-z 0-9 . _ -")
    model_config(metadata, path)
    return digest, metadata, data


def header_metadata(data: bytes, path: Path) -> dict[str, str]:
    """The metadata of a .safetensors file's bytes (an 8-byte little-endian length, then a JSON object whose
    "__metadata__" maps strings to strings); ModelMismatchError if the header is not that."""
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    invalid = f"{Path(path).name} is not a valid .safetensors model file"
    if not 2 <= size <= min(len(data) - 8, MAX_HEADER_BYTES):
        raise ModelMismatchError(f"{invalid} (its header is cut short or misstates its length)")
    try:
        header = json.loads(data[8:8 + size])
    except (ValueError, RecursionError):
        raise ModelMismatchError(f"{invalid} (its header is not JSON)") from None
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise ModelMismatchError(f"{invalid} (its header's metadata is not a map of strings)")
    return metadata


def model_config(metadata: dict[str, str], path: Path) -> dict:
    """The config a model file's metadata holds, as a dict; ModelMismatchError if it is not a JSON object of at most
    ``MAX_CONFIG_BYTES`` (a hostile file may nest it deep enough to exhaust the parser's recursion)."""
    text = metadata["config"]
    if len(text) > MAX_CONFIG_BYTES:
        raise ModelMismatchError(f"{Path(path).name} is not a valid aec model file: its config is {len(text)} "
                                 f"characters, over the {MAX_CONFIG_BYTES} a model's config may take")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = "nested too deep" if isinstance(error, RecursionError) else str(error)
        raise ModelMismatchError(f"{Path(path).name} is not a valid aec model file: its config is not JSON "
                                 f"({reason})") from None
    if not isinstance(config, dict):
        raise ModelMismatchError(f"{Path(path).name} is not a valid aec model file: its config is a JSON "
                                 f"{type(config).__name__}, not an object")
    return config


def _check_regular_file(path: Path) -> None:
    """ModelMismatchError unless path is a regular file (not missing, a folder, a device, a pipe or a socket)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ModelMismatchError(f"model file not found: {path}") from None
    except OSError as error:
        raise ModelMismatchError(f"cannot read the model file {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(mode):
        raise ModelMismatchError(f"{path} is a folder, not a model file; give a .safetensors model file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                                             (stat.S_ISFIFO, "pipe"), (stat.S_ISSOCK, "socket")) if test(mode)),
                    "special file")
        raise ModelMismatchError(f"{path} is not a regular file (a {kind}), so not a model file; give a "
                                 ".safetensors model file")


def described_quality(model_id: str, weights_tag: bytes, model_quality: float) -> float | None:
    """The 0-100 quality to show for a file's header (``QualityScale.describe``), or None when the manifest has no
    scale for its model and weights."""
    scale = quality_scale(model_id, bytes(weights_tag).hex())
    return None if scale is None else scale.describe(model_quality)


def quality_scale(model_id: str, sha256: str, directory: Path = WEIGHTS_DIR) -> QualityScale | None:
    """The 0-100 scale the manifest gives the model with this id whose sha256 starts with ``sha256`` (a file's
    digest, or a header's weights tag in hex); None when the manifest has no scale for those weights (a model file
    that was never released: it maps 0-100 linearly onto its range, ``QualityScale.linear``)."""
    entry = read_manifest(directory).get("models", {}).get(model_id)
    if not sha256 or not entry or "quality_scale" not in entry or not str(entry.get("sha256", "")).startswith(sha256.lower()):
        return None
    try:
        return QualityScale.from_manifest(entry["quality_scale"], 1, len(entry["config"]["lambdas"]))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelMismatchError(f"the quality scale of model {model_id!r} in {Path(directory) / MANIFEST} is "
                                 f"damaged ({error}); reinstall aec") from None


def effort_iterations(model_id: str, sha256: str, directory: Path = WEIGHTS_DIR) -> tuple[int, ...]:
    """The refinement steps per effort level of the model with this id whose sha256 starts with ``sha256``: its
    manifest entry's ``effort_iterations`` (``tools/release.py --effort-iterations``), else ``EFFORT_ITERATIONS``
    (an entry without them, or a model file that was never released). Encoder-side only: a level may be re-tuned
    after a release without changing what any file decodes to."""
    entry = read_manifest(directory).get("models", {}).get(model_id)
    if not sha256 or not entry or "effort_iterations" not in entry or not str(entry.get("sha256", "")).startswith(sha256.lower()):
        return EFFORT_ITERATIONS
    try:
        return check_effort_iterations(entry["effort_iterations"])
    except ValueError as error:
        raise ModelMismatchError(f"the effort levels of model {model_id!r} in {Path(directory) / MANIFEST} are "
                                 f"damaged ({error}); reinstall aec") from None
