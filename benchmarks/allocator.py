"""A whole `aec decompress` with aec's allocator settings (aec.allocator) against glibc's defaults:
`python benchmarks/allocator.py FILE.aec [FILE.aec ...] [--rounds 5]`.

Each file is decoded by a fresh process, the two variants taking turns round by round; prints the median seconds of
each. The default variant runs the command line with ``aec.allocator.tune`` replaced by a no-op.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLAIN = "import sys, aec.allocator as a; a.tune = lambda: False; from aec.cli import main; sys.argv[0] = 'aec'; main()"
TUNED = "import sys; from aec.cli import main; sys.argv[0] = 'aec'; main()"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/allocator.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for path in args.files:
                for variant, code in (("glibc defaults", PLAIN), ("aec.allocator", TUNED)):
                    started = time.perf_counter()
                    subprocess.run([sys.executable, "-c", code, "decompress", "-f", path, "-o",
                                    str(Path(folder) / "out.png")], check=True, capture_output=True)
                    times.setdefault((path, variant), []).append(time.perf_counter() - started)
    for (path, variant), values in times.items():
        print(f"{path}  {variant}: median {statistics.median(values):.3f} s  {[round(v, 2) for v in values]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
