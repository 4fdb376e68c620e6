"""Model files: .safetensors weights plus the manifest in weights/manifest.json, checked before use.

A model file is self-describing: its metadata holds the model id, the architecture name (looked up in
``aec.registry``) and the architecture's config. The manifest lists every released model id with its file and
sha256; a released id never changes meaning.

Which models ship: every model id a release shipped from the policy on stays decodable by every later aec
(docs/bitstream.md, "Files of earlier releases"), so releasing a new default retires nothing, and each kept model's
decoder side stays within ``DECODER_SIDE_BUDGET`` (``aec.decoder.decoder_side_bytes``). The models retired before the
policy (``RETIRED_BEFORE_THE_POLICY``) keep their manifest entries (sha256, training, results) with ``retired_after``,
the last aec version that shipped them, and a file written with one is refused with a message naming that version,
which decodes it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load, save_file

from .errors import ModelMismatchError
from .layers import IntConv2d
# Also re-exported: the manifest and the file checks are read without torch (aec.manifest).
from .manifest import (DECODER_ONLY_KEY, DECODER_SIDE_BUDGET, MANIFEST, RETIRED_BEFORE_THE_POLICY,  # noqa: F401
                       WEIGHTS_DIR, check_encodes, checked_model_file, file_metadata, locate_model, model_config,
                       read_checked_model_file, read_manifest, sha256_file)
from .decoder import architecture_of
# The float transforms trained under bf16 autocast, so float16 (11 significant bits, more than bf16's 8) keeps all
# the precision their forward pass ever used, and halves their share of the file. Nothing in the probability path
# is among them (h_s and the context networks are integer; the z tables are int32).
HALF_PRECISION_PREFIXES = ("g_a.", "g_s.", "h_a.")
FLOAT16_MAX = 65504.0


def _integer_layer_float_keys(model: torch.nn.Module) -> set[str]:
    """Float master parameters of integer layers: the file stores their integer twins instead."""
    keys = set()
    for name, module in model.named_modules():
        if isinstance(module, IntConv2d):
            keys.update({f"{name}.weight", f"{name}.bias"})
    return keys


def save_model(model: torch.nn.Module, path: Path, model_id: str, half_transforms: bool = True) -> str:
    """Freeze the model and write it as .safetensors; returns the file's sha256.

    half_transforms stores g_a, g_s and h_a in float16 (loading casts them back); False writes float32, as the
    first released model (aec-sc192-r1) was written.
    """
    model.freeze()
    skip = {model.file_key(key) for key in _integer_layer_float_keys(model)}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.file_state_dict().items() if k not in skip}
    for key, value in tensors.items():
        if key.endswith(".weight_int"):  # |W| <= 2**15 - 1 by construction: int16 halves the file's share
            tensors[key] = value.to(torch.int16)
        elif half_transforms and key.startswith(HALF_PRECISION_PREFIXES) and value.dtype == torch.float32:
            if value.abs().max() >= FLOAT16_MAX:
                raise ValueError(f"{key} holds values beyond float16's range; export with half_transforms=False")
            tensors[key] = value.to(torch.float16)
    metadata = {"model_id": model_id, "architecture": model.architecture, "config": model.config.to_json()}
    path = Path(path)
    if path.is_file() and _same_content(path, tensors, metadata):
        return sha256_file(path)  # safetensors orders metadata keys at random: keep the existing bytes
    temporary = path.with_name(path.name + ".tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    temporary.replace(path)
    return sha256_file(path)


def _same_content(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bool:
    try:
        with safe_open(str(path), framework="pt") as handle:
            if handle.metadata() != metadata or set(handle.keys()) != set(tensors):
                return False
            return all(torch.equal(handle.get_tensor(k), v) for k, v in tensors.items())
    except (SafetensorError, OSError, ValueError):
        return False


def load_model_file(path: Path, expected_sha256: str | None = None) -> tuple[torch.nn.Module, str, str]:
    """Load a model file, checking its hash when one is expected. Returns (model, model_id, sha256)."""
    path = Path(path)
    digest, metadata, data = read_checked_model_file(path, expected_sha256)
    if DECODER_ONLY_KEY in metadata:
        raise ModelMismatchError(f"{path.name} holds the decoder side of model {metadata.get('model_id')!r} alone: "
                                 "it decodes files but cannot encode or train")
    try:
        tensors = load(data)  # the bytes that were hashed
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelMismatchError(f"{path.name} is not a valid .safetensors model file ({error})") from None
    entry = architecture_of(metadata["architecture"], path)
    try:
        model = entry.training_module(entry.read_config(model_config(metadata, path)))
        skip = _integer_layer_float_keys(model)
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        missing = [k for k in missing if k not in skip]
        if missing or unexpected:
            raise ValueError(f"missing {missing[:3]}, unexpected {unexpected[:3]}")
        for module in model.modules():
            if isinstance(module, IntConv2d):
                module.thaw()
        model.check_exact()
    except (ValueError, RuntimeError, KeyError, TypeError) as error:
        raise ModelMismatchError(f"{path.name} does not match architecture {metadata['architecture']!r}: "
                                 f"{error}") from None
    model.eval()
    return model, metadata["model_id"], digest


def load_model(model_id: str | None = None, directory: Path = WEIGHTS_DIR) -> tuple[torch.nn.Module, str, str]:
    """Load a released model by id (the manifest's default when None), hash-checked."""
    model_id, entry = locate_model(model_id, directory)
    check_encodes(model_id, entry)
    model, file_id, digest = load_model_file(Path(directory) / entry["file"], entry["sha256"])
    if file_id != model_id:
        raise ModelMismatchError(f"{entry['file']} holds model {file_id!r}, the manifest says {model_id!r}")
    return model, model_id, digest

