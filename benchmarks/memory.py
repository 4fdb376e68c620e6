"""Peak memory of one encode and one decode, each measured in a fresh child process.

Inside the long benchmark process the allocator keeps memory from earlier calls and hands it out again, so the
resident set hardly moves. A fresh child with glibc's dynamic mmap threshold switched off returns every large
block to the kernel when it is freed; the rise of the peak resident set (Linux VmHWM, reset before each call)
over the call is then the memory that call needed. Linux only; elsewhere the figures are None.

    python -m benchmarks.memory CODEC QUALITY IMAGE [--threads N] [--aec-weights PATH]   # prints JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

MIB_IN_KIB = 1024.0
REPO_ROOT = Path(__file__).resolve().parent.parent
# Every block of 64 KiB or more gets its own mapping, released on free (setting it also stops glibc raising it).
CHILD_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's VmHWM to its current resident set (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_growth_mib(call) -> tuple[object, float | None]:
    """Run `call`; its result and how far the peak resident set rose above the resident set before it (MiB)."""
    if not _reset_peak():
        return call(), None
    before = _status_kib("VmRSS")
    result = call()
    peak = _status_kib("VmHWM")
    if before is None or peak is None:
        return result, None
    return result, max(peak - before, 0) / MIB_IN_KIB


def measure_in_child(
    codec: str, quality: float, image: Path, threads: int = 1, aec_weights: str | None = None, timeout: float = 600
) -> tuple[float | None, float | None, str]:
    """Encode and decode peak memory (MiB) of one codec on one image, from a fresh process; and an error, if any."""
    command = [sys.executable, "-m", "benchmarks.memory", codec, repr(float(quality)), str(image), "--threads", str(threads)]
    if aec_weights:
        command += ["--aec-weights", aec_weights]
    environment = {**os.environ, **CHILD_ENVIRONMENT}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {timeout:g} s"
    if finished.returncode != 0:
        lines = finished.stderr.strip().splitlines()
        return None, None, lines[-1] if lines else f"exit status {finished.returncode}"
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    return result["encode_peak_mib"], result["decode_peak_mib"], ""


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from PIL import Image

    from benchmarks import adapters

    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.splitlines()[0])
    parser.add_argument("codec", choices=adapters.CODEC_NAMES)
    parser.add_argument("quality", type=float)
    parser.add_argument("image", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--aec-weights", default=None)
    args = parser.parse_args(argv)
    adapter = adapters.make(args.codec, threads=args.threads, aec_weights=args.aec_weights)
    with Image.open(args.image) as image:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    data, encode_peak = peak_growth_mib(lambda: adapter.encode(pixels, args.quality))
    _, decode_peak = peak_growth_mib(lambda: adapter.decode(data))
    print(json.dumps({"encode_peak_mib": encode_peak, "decode_peak_mib": decode_peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
