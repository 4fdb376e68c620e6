"""Overlapping tiles, so that big images run in bounded memory with the same result as whole-image processing.

A network is applied to tiles of its input, each grown by a margin at least as wide as the network's receptive
field, and only each tile's interior is kept. With a margin that covers the receptive field every kept output
sees exactly the inputs it would see in the whole image (tiles that touch the image border see the same zero
padding), so integer networks give bit-identical results and float networks agree to rounding noise.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from .progress import tick


def tiled(network: Callable, x, tile: int, margin: int, scale: Fraction | int = 1, out=None):
    """Apply ``network`` to overlapping tiles of x (a torch tensor or a numpy array, (..., H, W)) and stitch the
    interiors.

    Each tile done ticks the progress of the enclosing part (``aec.progress``).

    Args:
        tile, margin: tile size and margin in input pixels.
        scale: output resolution over input resolution (16 for g_s, 1/16 for g_a); tile, margin and every tile
            offset times scale must be whole numbers.
        out: where to stitch (numpy, the whole output's shape; any strides, such as an (H, W, C) picture's
            transpose); returned. None: a new array of the network's output type.
    """
    height, width = x.shape[-2:]
    if height <= tile and width <= tile:
        if out is None:
            return network(x)
        out[...] = network(x)
        return out
    scale = Fraction(scale)
    tiles = [(top, left) for top in range(0, height, tile) for left in range(0, width, tile)]
    for done, (top, left) in enumerate(tiles, 1):
        bottom, right = min(top + tile, height), min(left + tile, width)
        t0, l0 = max(top - margin, 0), max(left - margin, 0)
        t1, l1 = min(bottom + margin, height), min(right + margin, width)
        piece = network(x[..., t0:t1, l0:l1])
        if out is None:
            shape = (*piece.shape[:-2], int(height * scale), int(width * scale))
            out = np.empty(shape, piece.dtype) if isinstance(piece, np.ndarray) else piece.new_empty(shape)
        rows = slice(int((top - t0) * scale), int((bottom - t0) * scale))
        cols = slice(int((left - l0) * scale), int((right - l0) * scale))
        out[..., int(top * scale):int(bottom * scale), int(left * scale):int(right * scale)] = \
            piece[..., rows, cols]
        tick(done, len(tiles))
    return out
