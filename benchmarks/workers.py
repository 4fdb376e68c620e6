"""How much the layer workers (``aec.ops.workers``) and the g_s tile buy, in one process, taking turns:

    python benchmarks/workers.py --model aec-fast-r1 --model aec-sc192-r10 --images 12 --rounds 3

After 0.9.0, aec shares each numpy layer's strips (and a stride-1 layer's or a GDN's columns) out to one thread per core,
each with a one-thread BLAS, and runs g_s in tiles of 48 latent pixels; before, the BLAS's own threads split only the
matrix products, and g_s ran in tiles of 32 (two tiles and a quarter recomputed for a Kodak image). This times the
three ways side by side with the same codec objects: before (BLAS threads, tile 32), the tile alone (BLAS threads,
tile 48) and now (workers, tile 48). The old ways are set by replacing ``aec.api.workers`` with a no-op and
``aec.channel_slice.SYNTHESIS_TILE``, in this process only. Each round codes every image of every model in every way
(encode of the image, decode of its file), the ways taking turns image by image in a rotating order, so that a slow
spell of a shared machine falls on all of them; the table gives the medians in milliseconds of the whole call and of
the two stages that the change touches most. Run it on an idle machine, or say what ran beside it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import aec  # noqa: E402
import aec.api  # noqa: E402
import aec.channel_slice  # noqa: E402
from benchmarks import side_by_side  # noqa: E402

WAYS = {"BLAS threads, tile 32 (before)": (False, 32), "BLAS threads, tile 48": (False, 48),
        "workers, tile 48 (now)": (True, 48)}


@contextlib.contextmanager
def way(workers: bool, tile: int):
    """The codec as it was (no layer workers) or is, with this g_s tile, while the block runs."""
    saved = aec.api.workers, aec.channel_slice.SYNTHESIS_TILE
    if not workers:
        aec.api.workers = lambda jobs: contextlib.nullcontext()
    aec.channel_slice.SYNTHESIS_TILE = tile
    try:
        yield
    finally:
        aec.api.workers, aec.channel_slice.SYNTHESIS_TILE = saved


def main(argv: list[str] | None = None) -> int:
    return side_by_side.main(__doc__, argv, {label: lambda label=label: way(*WAYS[label]) for label in WAYS},
                             decode_stages=("g_s", "slice networks"))


if __name__ == "__main__":
    raise SystemExit(main())
