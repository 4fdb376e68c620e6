"""Fuzz the .aec parser and decoder: `python benchmarks/fuzz.py --cases 100000 [--seed 0]`.

Mutates valid files written by a small model (truncation, bit flips, byte runs, random header fields, section
length changes, random bytes), half of them with the CRC recomputed so the mutation reaches the section parser,
the entropy decoder and the symbol checksum. Every case must end in a decoded image or an AECError; anything
else (another exception, a crash, a case over --max-seconds) is a failure and is saved for replay.
"""

from __future__ import annotations

import argparse
import collections
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aec.bitstream import AECError  # noqa: E402
from benchmarks.synthetic import smooth_image  # noqa: E402


def seeds(codec) -> list[bytes]:
    rng = np.random.default_rng(0)
    files = []
    for height, width, layout in [(1, 1, 3), (17, 5, 3), (64, 64, 4), (40, 70, 1), (33, 20, 2)]:
        image = smooth_image(height, width, int(rng.integers(100)))
        if layout == 4:
            image = np.dstack([image, image[:, :, 0]])
        elif layout == 1:
            image = image[:, :, 0]
        elif layout == 2:
            image = np.dstack([image[:, :, 0], image[:, :, 1]])
        files.append(codec.compress(image, quality=float(rng.uniform(1, 3))))
    return files


def fix_crc(data: bytearray) -> bytearray:
    if len(data) >= 4:
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    return data


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    data = bytearray(data)
    kind = rng.choice(["truncate", "flip", "run", "header", "length", "random", "extend"])
    if kind == "truncate":
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == "flip":
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    elif kind == "run":
        start = int(rng.integers(len(data)))
        length = int(rng.integers(1, 64))
        data[start:start + length] = rng.integers(0, 256, min(length, len(data) - start), dtype=np.uint8).tobytes()
    elif kind == "header":
        position = int(rng.integers(0, min(48, len(data))))
        data[position] = int(rng.integers(256))
    elif kind == "length":
        # rewrite a plausible u32 (a section length or a dimension) somewhere in the first part of the file
        position = int(rng.integers(0, max(1, min(64, len(data) - 4))))
        value = int(rng.choice([0, 1, 2**31 - 1, 2**32 - 1, int(rng.integers(0, 2**32))]))
        data[position:position + 4] = struct.pack("<I", value)
    elif kind == "random":
        data = bytearray(rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes())
        if rng.random() < 0.5:
            data[:4] = b"\x8bAEC"
    else:
        data += rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8).tobytes()
    if rng.random() < 0.5:
        kind += "+crc"
        data = fix_crc(data)
    return str(kind), bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=5.0, help="a slower case counts as a hang")
    parser.add_argument("--failures", type=Path, default=Path("fuzz_failures"))
    args = parser.parse_args()

    import torch

    from aec import Codec
    from aec.config import TINY
    from aec.model import AECModel
    from aec.model_files import save_model

    torch.manual_seed(0)
    weights = Path(tempfile.mkdtemp()) / "fuzz.safetensors"
    save_model(AECModel(TINY).eval(), weights, "fuzz-tiny")
    codec = Codec(weights=weights, max_pixels=1 << 20)
    valid = seeds(codec)
    rng = np.random.default_rng(args.seed)
    outcomes: collections.Counter = collections.Counter()
    failures = 0
    slowest = 0.0
    started = time.time()
    for case in range(args.cases):
        kind, data = mutate(valid[int(rng.integers(len(valid)))], rng)
        begin = time.perf_counter()
        try:
            codec.decompress_array(data)
            outcome = "decoded"
        except AECError as error:
            outcome = type(error).__name__
        except BaseException as error:  # noqa: BLE001 - anything else is what we are looking for
            if isinstance(error, KeyboardInterrupt):
                raise
            outcome = f"FAIL {type(error).__name__}"
        elapsed = time.perf_counter() - begin
        slowest = max(slowest, elapsed)
        if outcome.startswith("FAIL") or elapsed > args.max_seconds:
            failures += 1
            args.failures.mkdir(exist_ok=True)
            (args.failures / f"case{case}_{kind}.aec").write_bytes(data)
            print(f"case {case} ({kind}): {outcome}, {elapsed:.2f} s", flush=True)
        outcomes[(kind.split("+")[0] + ("+crc" if "+crc" in kind else ""), outcome)] += 1
        if (case + 1) % 10_000 == 0:
            print(f"{case + 1} cases, {failures} failures, {time.time() - started:.0f} s", flush=True)
    total = time.time() - started
    print(f"\n{args.cases} cases in {total:.0f} s ({args.cases / total:.0f}/s), {failures} failures, "
          f"slowest case {slowest * 1000:.0f} ms")
    summary = collections.Counter()
    for (kind, outcome), count in outcomes.items():
        summary[outcome] += count
    for outcome, count in summary.most_common():
        print(f"  {outcome:28s} {count}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
