"""Fuzz aec's other surfaces: model files (--weights, ``Codec(weights=...)``) and image inputs (``aec compress``).

    python benchmarks/fuzz_inputs.py --surface models --cases 2000 [--seed 0]
    python benchmarks/fuzz_inputs.py --surface images --cases 2000 [--seed 0]

Models: a valid tiny model file made hostile, one mutation a case: its config nested deep, a config field set to a
boundary value (0, -1, a fraction, a string, NaN, 10**12, ...), missing or unknown, the config not an object or not
JSON, a model id that is no id (``../../etc/passwd``, empty, 65 characters, a space), an unknown architecture, a
tensor with NaN or infinity (the scale table, the synthesis, the gains, the analysis), of another shape or dtype,
missing or with values outside what the integer path allows, the file truncated or random. Every case must be
refused when the model is loaded, with an ``AECError`` (``Codec(weights=...)``), or load and then encode and
decode a small image; a load that succeeds and codes garbage, an error of another type, or a failure only when an
image is coded is a failure.

Images: headers of each format declaring sizes from 1 pixel to 2**32 per side with little or no pixel data (PNG, GIF,
BMP, PPM, PGM, TIFF), and valid small images of each format Pillow writes truncated, bit-flipped or overwritten. Every
case must encode or raise ``InputError``, within --max-seconds (an image over the pixel limit is refused from its
header). The summary gives the slowest case and the peak memory of the process, as benchmarks/fuzz.py does.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import struct
import sys
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aec.bitstream import AECError  # noqa: E402
from benchmarks.fuzz import _peak_mib  # noqa: E402
from benchmarks.synthetic import smooth_image  # noqa: E402

MODEL_KINDS = ("deep-config", "config-field", "config-missing", "config-extra", "config-type", "config-json",
               "model-id", "architecture", "tensor-nonfinite", "tensor-shape", "tensor-dtype", "tensor-missing",
               "tensor-values", "file-bytes")
IMAGE_KINDS = ("header-png", "header-gif", "header-bmp", "header-ppm", "header-tiff", "truncate", "flip", "run")
_BOUNDARY_VALUES = (0, -1, 1, 2, 3, 1.5, -0.5, 10**12, 2**63, float("nan"), float("inf"), "x", None, [], {}, True)
_BAD_IDS = ("../../etc/passwd", "", "a" * 65, "a b", "id\n", "é", "/abs", "..", "a" * 64 + "b")
_SIZES = (0, 1, 63, 64, 65, 4096, 8192, 8193, 16384, 65535, 65536, 100_000, 2**31 - 1, 2**32 - 1)
IMAGE_PIXEL_LIMIT = 1 << 20  # the fuzz codec's: 1024 x 1024 padded, so that what is accepted codes quickly


# ----------------------------------------------------------------------------------------------------------
# Model files


def tiny_model_file(folder: Path) -> Path:
    """A tiny, untrained, frozen model file to mutate (torch, once)."""
    import torch

    from aec.config import TINY
    from aec.model import AECModel
    from aec.model_files import save_model

    torch.manual_seed(0)
    path = Path(folder) / "tiny.safetensors"
    save_model(AECModel(TINY).eval(), path, "fuzz-tiny")
    return path


def read_model(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
    return load_file(str(path)), metadata


def hostile_model(tensors: dict[str, np.ndarray], metadata: dict[str, str], rng: np.random.Generator,
                  kind: str | None = None) -> tuple[str, bytes]:
    """One hostile model file's bytes and the name of its mutation (of MODEL_KINDS, random unless given)."""
    from safetensors.numpy import save

    kind = str(rng.choice(MODEL_KINDS)) if kind is None else kind
    tensors, metadata = dict(tensors), dict(metadata)
    config = json.loads(metadata["config"])
    field = str(rng.choice(sorted(config)))
    name = str(rng.choice(sorted(tensors)))
    if kind == "deep-config":
        depth = int(rng.choice([1000, 100_000, 200_000]))
        metadata["config"] = "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
    elif kind == "config-field":
        value = _BOUNDARY_VALUES[int(rng.integers(len(_BOUNDARY_VALUES)))]
        config[field] = [value] * int(rng.integers(0, 3)) if field == "lambdas" and rng.random() < 0.5 else value
        metadata["config"] = json.dumps(config)
    elif kind == "config-missing":
        del config[field]
        metadata["config"] = json.dumps(config)
    elif kind == "config-extra":
        config[str(rng.choice(["extra", "__class__", "n", ""]))] = 1
        metadata["config"] = json.dumps(config)
    elif kind == "config-type":
        metadata["config"] = json.dumps([[1, 2], 3, "config", None, True][int(rng.integers(5))])
    elif kind == "config-json":
        metadata["config"] = str(rng.choice(["", "{", "NaN", "{'M': 16}", metadata["config"][:-1], "\x00" * 8]))
    elif kind == "model-id":
        metadata["model_id"] = _BAD_IDS[int(rng.integers(len(_BAD_IDS)))]
    elif kind == "architecture":
        metadata["architecture"] = str(rng.choice(["", "aec-channel-slice-v2", "../x", "a" * 1000]))
    elif kind == "tensor-nonfinite":
        name = str(rng.choice([n for n in sorted(tensors) if tensors[n].dtype.kind == "f"]))
        value = tensors[name].copy()
        value.flat[int(rng.integers(value.size))] = rng.choice([np.nan, np.inf, -np.inf])
        tensors[name] = value
    elif kind == "tensor-shape":
        value = tensors[name]
        tensors[name] = value.reshape(-1)[: max(value.size - 1, 0)] if rng.random() < 0.5 else value.reshape(-1)
    elif kind == "tensor-dtype":
        value = tensors[name]
        tensors[name] = value.astype(np.float32 if value.dtype.kind in "iu" else np.int16)
    elif kind == "tensor-missing":
        del tensors[name]
    elif kind == "tensor-values":
        name = str(rng.choice([n for n in sorted(tensors) if tensors[n].dtype.kind in "iu" or n == "scale_table"]))
        value = tensors[name].copy()
        info = np.iinfo(value.dtype) if value.dtype.kind in "iu" else None
        choices = [0, -1, 1] + ([info.max, info.min] if info else [0.0, -1.0, 1e308])
        value.flat[int(rng.integers(value.size))] = choices[int(rng.integers(len(choices)))]
        if rng.random() < 0.3:
            value[...] = choices[int(rng.integers(len(choices)))]
        tensors[name] = value
    data = save(tensors, metadata=metadata)
    if kind == "file-bytes":
        how = rng.random()
        if how < 0.4:
            data = data[: int(rng.integers(len(data)))]
        elif how < 0.7:
            data = rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes()
        else:
            data = struct.pack("<Q", int(rng.choice([0, 1, 2**40, len(data)]))) + data[8:]
    return kind, data


def model_case(data: bytes, folder: Path) -> str:
    """The outcome of one hostile model file: 'refused ...' at load, 'coded' if it loads and codes, or 'FAIL ...'."""
    from aec import Codec, InputError

    path = Path(folder) / "hostile.safetensors"
    path.write_bytes(data)
    try:
        codec = Codec(weights=path)
    except AECError as error:
        return f"refused {type(error).__name__}"
    image = smooth_image(20, 30, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # numpy's "invalid value": NaN reached the pixels
            decoded = codec.decompress_array(codec.compress(image, 50))
    except RuntimeWarning as warning:
        return f"FAIL loaded, then coded garbage ({warning})"
    except InputError:
        return "coded"  # e.g. a quality the hostile config's range does not take: the caller's usage, said so
    except AECError as error:
        return f"FAIL loaded, then {type(error).__name__}: {error}"
    if decoded.shape != image.shape:
        return f"FAIL loaded, then decoded {decoded.shape}"
    return "coded"


# ----------------------------------------------------------------------------------------------------------
# Image inputs


def _png(width: int, height: int, body: bytes) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _tiff(width: int, height: int, body: bytes) -> bytes:
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 12 * 8 + 4),
               (277, 3, 1), (278, 4, height), (279, 4, len(body))]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", tag, kind, 1, value)
                                                      for tag, kind, value in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + body


def hostile_image(valid: dict[str, bytes], rng: np.random.Generator, kind: str | None = None) -> tuple[str, bytes]:
    """One hostile image file's bytes and the name of its mutation (of IMAGE_KINDS, random unless given); ``valid``
    holds a small valid file of each format by suffix."""
    kind = str(rng.choice(IMAGE_KINDS)) if kind is None else kind
    width, height = (int(rng.choice(_SIZES)) for _ in range(2))
    body = rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
    if rng.random() < 0.5:
        body = zlib.compress(bytes(int(rng.integers(0, 1 << 16))))  # zeros: a real bomb's payload, cut short
    if kind == "header-png":
        return kind, _png(width, height, body)
    if kind == "header-gif":
        screen = struct.pack("<HH", min(width, 65535), min(height, 65535))
        frame = struct.pack("<HHHH", 0, 0, min(int(rng.choice(_SIZES)), 65535), min(int(rng.choice(_SIZES)), 65535))
        return kind, b"GIF89a" + screen + b"\x00\x00\x00," + frame + b"\x00\x02\x02D\x01\x00;"
    if kind == "header-bmp":
        signed = [min(v, 2**31 - 1) * int(rng.choice([1, -1])) for v in (width, height)]
        return kind, (b"BM" + struct.pack("<IHHI", 54 + len(body), 0, 0, 54)
                      + struct.pack("<IiiHHIIiiII", 40, *signed, 1, 24, 0, len(body), 0, 0, 0, 0) + body)
    if kind == "header-ppm":
        return kind, f"P{rng.choice([5, 6])}\n{width} {height}\n255\n".encode() + body
    if kind == "header-tiff":
        return kind, _tiff(width, height, body)
    data = bytearray(valid[str(rng.choice(sorted(valid)))])
    if kind == "truncate":
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == "flip":
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    else:
        start = int(rng.integers(len(data)))
        data[start:start + 8] = struct.pack("<Q", int(rng.integers(0, 2**63)))[: len(data) - start]
    return kind, bytes(data)


def valid_images() -> dict[str, bytes]:
    """A small valid file of each format Pillow writes here that aec reads, by suffix."""
    from PIL import Image

    image = Image.fromarray(smooth_image(24, 40, 3))
    files = {}
    for suffix, options in ((".png", {}), (".jpg", {}), (".webp", {}), (".tif", {}), (".bmp", {}), (".gif", {}),
                            (".ppm", {}), (".tga", {})):
        buffer = io.BytesIO()
        image.save(buffer, format=Image.registered_extensions()[suffix], **options)
        files[suffix] = buffer.getvalue()
    return files


def image_case(codec, data: bytes) -> str:
    """The outcome of one hostile image: 'coded', 'refused InputError ...', or 'FAIL ...'."""
    from aec import InputError

    try:
        codec.compress(data, 50)
    except InputError as error:
        return "refused over the pixel limit" if "exceeds the pixel limit" in str(error) else "refused InputError"
    except AECError as error:
        return f"FAIL {type(error).__name__}: {error}"
    return "coded"


# ----------------------------------------------------------------------------------------------------------
# The run


def run_cases(cases: Iterator[tuple[str, Callable[[], str]]], count: int, max_seconds: float, failures: Path,
              saved: Callable[[str], bytes]) -> int:
    """Run count cases (kind, run): print each failure and a summary; returns the number of failures."""
    outcomes: collections.Counter = collections.Counter()
    failed = 0
    slowest, slowest_case = 0.0, ""
    baseline = _peak_mib()
    started = time.time()
    for case in range(count):
        kind, attempt = next(cases)
        begin = time.perf_counter()
        try:
            outcome = attempt()
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - anything else is what we are looking for
            outcome = f"FAIL {type(error).__name__}: {str(error)[:200]}"
        elapsed = time.perf_counter() - begin
        if elapsed > slowest:
            slowest, slowest_case = elapsed, f"case {case} ({kind}): {outcome[:120]}"
        if outcome.startswith("FAIL") or elapsed > max_seconds:
            failed += 1
            failures.mkdir(exist_ok=True)
            (failures / f"case{case}_{kind}.bin").write_bytes(saved(kind))
            print(f"case {case} ({kind}): {outcome[:300]}, {elapsed:.2f} s", flush=True)
        outcomes[(kind, outcome.split(":")[0][:60])] += 1
    total = time.time() - started
    print(f"\n{count} cases in {total:.0f} s, {failed} failures, slowest case {slowest * 1000:.0f} ms ({slowest_case})")
    print(f"peak memory {_peak_mib():.0f} MiB (the process; {baseline:.0f} MiB before any case)")
    for kind in sorted({kind for kind, _ in outcomes}):
        parts = ", ".join(f"{outcome} {n}" for (k, outcome), n in sorted(outcomes.items()) if k == kind)
        print(f"  {kind:18s} {parts}")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--surface", choices=("models", "images"), required=True)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=5.0, help="a slower case counts as a hang")
    parser.add_argument("--failures", type=Path, default=Path("fuzz_failures"))
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    folder = Path(tempfile.mkdtemp())
    last: dict[str, bytes] = {}

    def keep(kind_data: tuple[str, bytes]) -> tuple[str, bytes]:
        last["data"] = kind_data[1]
        return kind_data

    if args.surface == "models":
        tensors, metadata = read_model(tiny_model_file(folder))

        def cases() -> Iterator[tuple[str, Callable[[], str]]]:
            while True:
                kind, data = keep(hostile_model(tensors, metadata, rng))
                yield kind, lambda data=data: model_case(data, folder)
    else:
        from aec import Codec

        codec = Codec(weights=tiny_model_file(folder), max_pixels=IMAGE_PIXEL_LIMIT)
        valid = valid_images()

        def cases() -> Iterator[tuple[str, Callable[[], str]]]:
            while True:
                kind, data = keep(hostile_image(valid, rng))
                yield kind, lambda data=data: image_case(codec, data)
    failed = run_cases(cases(), args.cases, args.max_seconds, args.failures, lambda kind: last["data"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
