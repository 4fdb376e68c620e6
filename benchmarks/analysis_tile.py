"""What the four-pass GDN and the 768-pixel g_a tile buy, in one process, taking turns:

    python benchmarks/analysis_tile.py --model aec-fast-r1 --model aec-sc192-r10 --images 12 --rounds 3

Before session 23 a numpy (inverse) GDN made six elementwise passes over its output (x**2, + beta, the 1e-6 floor,
sqrt, reciprocal, x * scale) and g_a ran in tiles of 512 pixels with a margin of 32, so a Kodak image (768 pixels
wide) was two tiles, 832 columns computed for 768. Now the GDN leaves out the floor where no beta is under it and
divides rather than taking the reciprocal and multiplying (four passes), and the tile is 768, which holds a Kodak
image in either orientation. This times three ways side by side with the same codec objects: before (six passes,
tile 512), the GDN alone (four passes, tile 512) and now (four passes, tile 768). The old GDN is set by replacing
``aec.ops.GDN.__call__`` with the six-pass one below, and the tile by ``aec.channel_slice.ANALYSIS_TILE``, in this
process only. Rounds, turns and medians as in ``benchmarks/workers.py``. Run it on an idle machine, or say what ran
beside it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

import aec.channel_slice  # noqa: E402
from aec import ops  # noqa: E402
from benchmarks import side_by_side  # noqa: E402

WAYS = {"six-pass GDN, g_a tile 512 (before)": (True, 512), "four-pass GDN, g_a tile 512": (False, 512),
        "four-pass GDN, g_a tile 768 (now)": (False, 768)}


def six_pass_gdn(self: ops.GDN, x: np.ndarray) -> np.ndarray:
    """aec.ops.GDN.__call__ as it was before session 23."""
    channels, height, width = x.shape
    flat = x.reshape(channels, -1)
    out = np.empty_like(flat)

    def columns(start: int, stop: int) -> None:
        part = flat[:, start:stop]
        norm = self.gamma @ (part * part)
        np.maximum(np.add(norm, self.beta, out=norm), np.float32(1e-6), out=norm)
        scale = np.sqrt(norm, out=norm) if self.inverse else np.reciprocal(np.sqrt(norm, out=norm), out=norm)
        np.multiply(part, scale, out=out[:, start:stop])

    ops._each(columns, ops._column_ranges(height * width, 3 * channels * x.itemsize))
    return out.reshape(channels, height, width)


@contextlib.contextmanager
def way(six_passes: bool, tile: int):
    """The codec with the old GDN or the new one, and this g_a tile, while the block runs."""
    saved = ops.GDN.__call__, aec.channel_slice.ANALYSIS_TILE
    if six_passes:
        ops.GDN.__call__ = six_pass_gdn
    aec.channel_slice.ANALYSIS_TILE = tile
    try:
        yield
    finally:
        ops.GDN.__call__, aec.channel_slice.ANALYSIS_TILE = saved


def main(argv: list[str] | None = None) -> int:
    return side_by_side.main(__doc__, argv, {label: lambda label=label: way(*WAYS[label]) for label in WAYS},
                             encode_stages=("g_a",), decode_stages=("g_s",), ratios=("encode", "decode"))


if __name__ == "__main__":
    raise SystemExit(main())
