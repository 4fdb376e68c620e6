"""Fuzz the .aec parser and decoder: `python benchmarks/fuzz.py --cases 100000 [--seed 0]`.

Mutates valid files written by a small model. Blind mutations: truncation, bit flips, byte runs, random header
bytes, rewritten u32s, random bytes, appended bytes. Structure-aware ones, which know the layout: every header field
set to its boundary values (sizes around the 64-pixel grid and the pixel limit, id lengths, versions, layouts,
section counts); sections dropped, duplicated, swapped, renamed or spliced from another file; payloads truncated,
emptied, extended or replaced; and "bombs": a declared size anywhere up to the pixel limit with payloads truncated or
emptied. Blind mutations get the CRC recomputed half of the time, structural ones always, so that they reach the
section rules, the entropy decoder and the symbol checksum. Every case must end in a decoded image or an AECError;
anything else (another exception, a crash, a case over --max-seconds) is a failure and is saved for replay. The
summary gives the slowest case and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import collections
import resource
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
        files.append(codec.compress(image, model_quality=float(rng.uniform(1, 3))))
    return files


def fix_crc(data: bytearray) -> bytearray:
    if len(data) >= 4:
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    return data


BLIND = ("truncate", "flip", "run", "header", "length", "random", "extend")
STRUCTURAL = ("boundary", "drop", "duplicate", "swap", "rename", "splice", "payload", "bomb")
KINDS = BLIND + STRUCTURAL
MAX_PIXELS = 1 << 20  # the fuzz codec's pixel limit: big enough for real work, small enough for 100,000 cases


def mutate(data: bytes, rng: np.random.Generator, others: list[bytes] | tuple[bytes, ...] = (),
           kind: str | None = None) -> tuple[str, bytes]:
    """One mutated file and the name of its mutation (of KINDS, random unless given); ``others`` are files to splice
    sections from."""
    kind = str(rng.choice(KINDS)) if kind is None else kind
    if kind in STRUCTURAL:
        return kind, _structural(kind, data, rng, list(others) or [data])
    data = bytearray(data)
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


# ----------------------------------------------------------------------------------------------------------
# Structure-aware mutations: they take a valid file apart and put it back together (CRC recomputed)

_SIZES = (0, 1, 2, 63, 64, 65, 127, 128, 1000, 1024, 1025, 4096, 16384, 2**16, 2**20, 2**20 + 1, 2**31, 2**32 - 1)
# (offset from the weights tag, struct format, boundary values) of each fixed-header field after the model id
_FIELDS = (
    (4, "<H", (0, 1, 99, 100, 101, 300, 600, 601, 65535)),  # quality x 100
    (6, "<I", _SIZES),  # width
    (10, "<I", _SIZES),  # height
    (14, "<B", (0, 1, 2, 3, 4, 255)),  # layout
    (15, "<B", (0, 1, 255)),  # entropy coder major
    (16, "<B", (0, 4, 5, 6, 255)),  # entropy coder minor
    (17, "<I", (0, 1, 2**32 - 1)),  # symbol checksum
)
_KNOWN_SECTIONS = (b"ZHYP", b"YLAT", b"ALPH", b"ICCP", b"EXIF", b"ICCZ", b"EXFZ")


def split(data: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A valid file's fixed header (up to its section count) and its (type, payload) sections."""
    offset = 32 + data[8]
    sections = []
    for _ in range(struct.unpack_from("<H", data, offset - 2)[0]):
        kind, length = struct.unpack_from("<4sI", data, offset)
        sections.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 8 + length
    return data[:32 + data[8]], sections


def join(fixed: bytes, sections: list[tuple[bytes, bytes]], count: int | None = None) -> bytes:
    """A file from a fixed header and sections, with the section count set (to ``count``, or the truth) and a CRC."""
    fixed = bytearray(fixed)
    struct.pack_into("<H", fixed, len(fixed) - 2, len(sections) if count is None else count)
    body = bytes(fixed) + b"".join(struct.pack("<4sI", kind, len(payload)) + payload for kind, payload in sections)
    return body + struct.pack("<I", zlib.crc32(body))


def _structural(kind: str, data: bytes, rng: np.random.Generator, others: list[bytes]) -> bytes:
    fixed, sections = split(data)
    fixed = bytearray(fixed)
    tag = 9 + fixed[8]  # offset of the weights tag
    count = None
    if kind == "boundary":
        choice = int(rng.integers(len(_FIELDS) + 3))
        if choice < len(_FIELDS):
            at, layout, values = _FIELDS[choice]
            struct.pack_into(layout, fixed, tag + at, int(rng.choice(values)))
        elif choice == len(_FIELDS):
            struct.pack_into("<H", fixed, 6, int(rng.choice([1, 0x8000, 0xFFFF])))  # reserved flags
        elif choice == len(_FIELDS) + 1:
            count = int(rng.choice([0, 1, len(sections) - 1, len(sections) + 1, 64, 65, 65535]))
        else:  # a model id of another length: the rest of the header moves with it
            length = int(rng.choice([0, 1, 63, 64, 65, 255]))
            fixed = bytearray(fixed[:8]) + bytes([length]) + b"m" * min(length, 255) + fixed[tag:]
    elif kind == "drop":
        sections.pop(int(rng.integers(len(sections))))
    elif kind == "duplicate":
        sections.insert(int(rng.integers(len(sections) + 1)), sections[int(rng.integers(len(sections)))])
    elif kind == "swap" and len(sections) > 1:
        i, j = rng.choice(len(sections), 2, replace=False)
        sections[i], sections[j] = sections[j], sections[i]
    elif kind == "rename":
        i = int(rng.integers(len(sections)))
        name = rng.choice([*_KNOWN_SECTIONS, b"NEW1", b"zhyp", b"ZH P", b"\x00\x00\x00\x00"])
        sections[i] = (bytes(name), sections[i][1])
    elif kind == "splice":
        _, donor = split(others[int(rng.integers(len(others)))])
        piece = donor[int(rng.integers(len(donor)))]
        same = [i for i, (name, _) in enumerate(sections) if name == piece[0]]
        if same:
            sections[same[0]] = piece
        else:
            sections.insert(int(rng.integers(len(sections) + 1)), piece)
    elif kind == "payload":
        i = int(rng.integers(len(sections)))
        sections[i] = (sections[i][0], _new_payload(sections[i][1], rng))
    elif kind == "bomb":  # a declared size anywhere up to the pixel limit, payloads cut, emptied or random
        struct.pack_into("<II", fixed, tag + 6, *_declared_size(rng))
        for i, (name, payload) in enumerate(sections):
            if name in (b"ZHYP", b"YLAT") and rng.random() < 0.7:
                how = rng.random()
                if how < 0.4:
                    payload = b""
                elif how < 0.8:
                    payload = payload[: int(rng.integers(len(payload) + 1))]
                else:  # random words, up to 64 KiB: they decode as garbage until they run out
                    payload = rng.integers(0, 256, 4 * int(np.exp(rng.uniform(0, np.log(2**14)))), np.uint8).tobytes()
                sections[i] = (name, payload)
    return join(bytes(fixed), sections, count)


def _declared_size(rng: np.random.Generator) -> tuple[int, int]:
    """A (width, height) whose padded size is log-uniform up to MAX_PIXELS; one in five exactly at it or just over."""
    width = int(np.exp(rng.uniform(0, np.log(MAX_PIXELS))))
    rows = max(MAX_PIXELS // (width + (-width) % 64), 1)  # padded rows that still fit
    height = int(np.exp(rng.uniform(0, np.log(rows)))) if rows > 1 else 1
    if rng.random() < 0.2:
        height = rows + int(rng.integers(0, 2)) * 64  # the most that fits, or one grid row over
    return (width, height) if rng.random() < 0.5 else (height, width)


def _new_payload(payload: bytes, rng: np.random.Generator) -> bytes:
    how = int(rng.integers(5))
    if how == 0:
        return b""
    if how == 1:
        return payload[: int(rng.integers(len(payload) + 1))]
    if how == 2:
        return payload[: len(payload) // 4 * 4 - 4 * int(rng.integers(1, 4))] if len(payload) >= 16 else b""
    if how == 3:
        return payload + rng.integers(0, 256, int(rng.choice([1, 4, 8, 64])), dtype=np.uint8).tobytes()
    return rng.integers(0, 256, len(payload), dtype=np.uint8).tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=5.0, help="a slower case counts as a hang")
    parser.add_argument("--failures", type=Path, default=Path("fuzz_failures"))
    parser.add_argument("--model", metavar="ID", help="fuzz with this installed model (default: a random tiny one)")
    args = parser.parse_args()

    import torch

    from aec import Codec
    from aec.config import TINY
    from aec.model import AECModel
    from aec.model_files import save_model

    if args.model:
        codec = Codec(args.model, max_pixels=MAX_PIXELS)
    else:
        torch.manual_seed(0)
        weights = Path(tempfile.mkdtemp()) / "fuzz.safetensors"
        save_model(AECModel(TINY).eval(), weights, "fuzz-tiny")
        codec = Codec(weights=weights, max_pixels=MAX_PIXELS)
    valid = seeds(codec)
    baseline = _peak_mib()
    rng = np.random.default_rng(args.seed)
    outcomes: collections.Counter = collections.Counter()
    failures = 0
    slowest, slowest_case = 0.0, ""
    started = time.time()
    for case in range(args.cases):
        kind, data = mutate(valid[int(rng.integers(len(valid)))], rng, valid)
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
        if elapsed > slowest:
            slowest, slowest_case = elapsed, f"case {case} ({kind}): {outcome}, {len(data)} bytes, {_declared(data)}"
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
          f"slowest case {slowest * 1000:.0f} ms ({slowest_case})")
    print(f"peak memory {_peak_mib():.0f} MiB (the process; {baseline:.0f} MiB with the model loaded, before any case)")
    summary = collections.Counter()
    for (kind, outcome), count in outcomes.items():
        summary[outcome] += count
    for outcome, count in summary.most_common():
        print(f"  {outcome:28s} {count}")
    print("by mutation:")
    for kind in sorted({kind for kind, _ in outcomes}):
        parts = ", ".join(f"{outcome} {count}" for (k, outcome), count in sorted(outcomes.items()) if k == kind)
        print(f"  {kind:16s} {parts}")
    sys.exit(1 if failures else 0)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _declared(data: bytes) -> str:
    """The size a file's header declares, if it has one."""
    try:
        from aec.bitstream import read_header

        header = read_header(data)
        return f"declares {header.width}x{header.height}"
    except AECError:
        return "no readable header"


if __name__ == "__main__":
    main()
