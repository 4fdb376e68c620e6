"""Convolutions in numpy, for the decoder (``aec.decoder``) and the exact probability path (``aec.exact``): no torch.

Arrays are (channels, height, width), one image at a time. A strided convolution is one matrix product over shifted
copies of its input (im2col); one of stride 1 is a product per kernel tap over a flat view of the padded input,
without copies (a third less time for the slice networks, measured in docs/speed.md). Either way its speed is the
BLAS's; in float64 on integer values the result is exact and so does not depend on how the BLAS orders its sums.
Weights are rearranged once, when a layer is built.

The transposed convolutions are those of the model (stride 2, padding k // 2, output padding 1: the output is
exactly twice the input). Each output pixel of phase (row % 2, column % 2) sums the input over a 3x3 neighbourhood
for k = 5, so one product with the four phases' kernels stacked gives all of them; a layer with few outputs (g_s's
last, 3 channels) instead multiplies every tap at once and adds the 25 shifted results, which needs far less memory.
Every strip ticks the progress of the enclosing part (``aec.progress``: a network gives each layer its share).

Layers work in strips of rows whose shifted copies fit in ``STRIP_BYTES``: the same few megabytes are reused strip
after strip, where a whole layer's copies (over 100 MB for g_s on a Kodak image) would be fresh memory, whose first
touch cost more than the arithmetic (a first g_s measured 0.8 s against 0.45 s for the next, here).

Under ``workers(n)`` the strips (and a stride-1 layer's or an inverse GDN's columns) are shared out to n threads,
each with a one-thread BLAS, so that the copies, sums and elementwise work run on every core too, not only the
matrix products (a BLAS call's own threads split only the product: the light model's g_s took 156 ms on 2 threads
against 194 on one, about 80 ms of it outside the products; docs/speed.md). Each output element is one product's,
and a layer splits into the same ranges for any number of workers (``PIECES``), so every product has the same shape
and operands however many threads run them: the exact path's integers and a float layer's sums are the same for any
thread count (docs/determinism.md).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .progress import tick
from .threads import SharedSetting

MAX_WORKERS = 16  # each holds a strip's copies (STRIP_BYTES) at a time: at most 64 MB beside the layers' outputs
FEW_OUTPUTS = 16  # transposed layers with fewer output channels scatter their taps instead of stacking phases
STRIP_BYTES = 4 << 20
# Every layer splits its work into the same ranges whatever the number of workers (at least PIECES of them, where
# the layer is big enough), so each matrix product has the same shape and operands under any thread count, and the
# decoded pixels are the same for 1, 2 or 16 threads (tests/codec/test_decoder.py), not only the exact path's symbols.
PIECES = 8  # 16 cost 2 threads a fifth more on a Kodak decode (small strips); 4 and 8 measured alike


_JOBS: contextvars.ContextVar[int] = contextvars.ContextVar("aec_ops_jobs", default=1)
_pools: dict[int, ThreadPoolExecutor] = {}  # by the number of workers: never more threads than asked for
_pools_lock = threading.Lock()


@contextmanager
def workers(jobs: int) -> Iterator[None]:
    """Layers called in the block share their work out to ``jobs`` threads (at most ``MAX_WORKERS``), numpy's BLAS at
    one thread each (restored when the last call in the process that needs it ends: ``one_thread_blas``); 1 (or
    less) leaves them in this thread with the BLAS as it is."""
    jobs = min(jobs, MAX_WORKERS)
    if jobs <= 1:
        yield
        return
    with one_thread_blas():
        token = _JOBS.set(jobs)
        try:
            yield
        finally:
            _JOBS.reset(token)


_BLAS = SharedSetting()


@contextmanager
def one_thread_blas() -> Iterator[None]:
    """numpy's BLAS at one thread while the block runs, shared by every call in the process that asks for it (so
    that the first to end does not undo another's, and the last restores the BLAS's own limits)."""

    def apply() -> Callable[[], None]:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1, user_api="blas").restore_original_limits

    with _BLAS.held(apply):
        yield


def _executor(jobs: int) -> ThreadPoolExecutor:
    """The pool of ``jobs`` threads (made at first use; idle threads cost nothing and end with the process)."""
    with _pools_lock:
        if jobs not in _pools:
            _pools[jobs] = ThreadPoolExecutor(jobs, thread_name_prefix=f"aec-ops-{jobs}")
        return _pools[jobs]


def _each(work: Callable[[int, int], None], bounds: Sequence[tuple[int, int]], done: int = 0,
          of: int | None = None) -> None:
    """work(start, stop) for every range of ``bounds``, over the workers (in this thread without them), ticking the
    progress as each is done, in order (``done`` + ranges done, out of ``of``: by default all of ``bounds``). Ranges
    must write disjoint outputs. An exception (an interrupt) cancels the ranges not yet begun and waits for those
    under way, so that no thread still writes into the caller's arrays."""
    of = len(bounds) if of is None else of
    jobs = _JOBS.get()
    if jobs <= 1 or len(bounds) <= 1:
        for count, (start, stop) in enumerate(bounds, done + 1):
            work(start, stop)
            tick(count, of)
        return
    pool = _executor(jobs)
    futures = [pool.submit(work, start, stop) for start, stop in bounds]
    try:
        for count, future in enumerate(futures, done + 1):
            future.result()
            tick(count, of)
    finally:
        for future in futures:
            future.cancel()
        for future in futures:
            if not future.cancelled():
                future.exception()


def _ranges(total: int, size: int) -> list[tuple[int, int]]:
    """[0, total) in ranges of ``size`` (at least 1), at least ``PIECES`` where total allows: the same ranges for any
    number of workers."""
    size = max(1, min(size, -(-total // PIECES)))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def _strip_rows(row_bytes: int) -> int:
    """Rows per strip when each row of the shifted copies takes ``row_bytes``."""
    return max(1, STRIP_BYTES // max(row_bytes, 1))


def _column_ranges(positions: int, bytes_per_position: int) -> list[tuple[int, int]]:
    """Column ranges of a layer whose work is per position (stride 1, GDN): ranges of at most ``STRIP_BYTES`` of
    output (``_ranges``)."""
    return _ranges(positions, STRIP_BYTES // max(bytes_per_position, 1))


def _shifted(x: np.ndarray, kernel: int, padded: bool = False, stride: int = 1) -> np.ndarray:
    """(C, H, W) -> (C * kernel**2, H' * W'): every kernel tap's view of the zero-padded input at each output pixel,
    one row per (c, tap), for a convolution of this stride. With ``padded``, x already holds the padding (kernel // 2
    on every side)."""
    pad = kernel // 2
    if not padded:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride]  # (C, H', W', k, k), no copy
    channels, height, width = windows.shape[:3]
    return np.ascontiguousarray(windows.transpose(0, 3, 4, 1, 2)).reshape(channels * kernel * kernel, height * width)


class Conv:
    """A convolution of stride 1 or 2 with zero padding kernel // 2 (odd kernels), as torch's Conv2d with that padding:
    the output is the input's size over the stride, rounded up; weight (out, in, k, k)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: int = 1):
        self.outputs, self.inputs, self.kernel = weight.shape[0], weight.shape[1], weight.shape[2]
        self.stride = stride
        self.matrix = np.ascontiguousarray(weight.reshape(self.outputs, -1))
        # stride 1: one (out, in) matrix per tap (dy, dx), for products over flat views of the padded input
        k = self.kernel
        taps = [(dy, dx) for dy in range(k) for dx in range(k)] if stride == 1 and k > 1 else []
        self.taps = [np.ascontiguousarray(weight[:, :, dy, dx]) for dy, dx in taps]
        self.bias = bias.reshape(-1, 1, 1)

    def cost(self, shape: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        """Multiply-adds for an input of this shape (C, H, W), and the output's shape (for progress)."""
        height, width = -(-shape[-2] // self.stride), -(-shape[-1] // self.stride)
        return float(self.matrix.size * height * width), (self.outputs, height, width)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        channels, height, width = x.shape
        k, stride = self.kernel, self.stride
        out_height, out_width = -(-height // stride), -(-width // stride)
        out = np.empty((self.outputs, out_height, out_width), np.result_type(x, self.matrix))
        if k == 1 and stride == 1:
            flat, result = x.reshape(channels, -1), out.reshape(self.outputs, -1)

            def columns(start: int, stop: int) -> None:
                np.add(self.matrix @ flat[:, start:stop], self.bias[:, :, 0], out=result[:, start:stop])

            _each(columns, _column_ranges(height * width, self.outputs * out.itemsize))
            return out
        pad = k // 2
        if stride == 1:
            return self._flat(x, out)
        padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))

        def strip(top: int, bottom: int) -> None:
            columns = _shifted(padded[:, stride * top:stride * (bottom - 1) + k], k, padded=True, stride=stride)
            product = self.matrix @ columns
            np.add(product.reshape(self.outputs, bottom - top, out_width), self.bias, out=out[:, top:bottom])

        _each(strip, _ranges(out_height, _strip_rows(channels * k**2 * out_width * x.itemsize)))
        return out

    def _flat(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Stride 1 without shifted copies (stride 2 still takes ``_shifted`` copies, as stride 1 did before 0.8.0):
        in the padded input flattened per channel, tap (dy, dx) of output pixel (i, j) sits dy * wide + dx after that
        of (0, 0) at flat position i * wide + j, so each tap is one product with a view (rows of the input's channels,
        columns every position of a grid as wide as the padded input; the last 2 * pad columns of each grid row run
        into the next row and are dropped). Workers take ranges of the grid's positions, every tap each."""
        channels, height, width = x.shape
        k, pad = self.kernel, self.kernel // 2
        wide = width + 2 * pad
        # one extra zero row below: the last tap's view runs 2 * pad positions past the padded rows
        flat = np.pad(x, ((0, 0), (pad, pad + 1), (pad, pad))).reshape(channels, -1)
        positions = height * wide
        total = np.empty((self.outputs, positions), out.dtype)
        ranges = _column_ranges(positions, 2 * self.outputs * out.itemsize)
        alone = len(ranges) == 1

        def columns(first: int, last: int) -> None:
            term = np.empty((self.outputs, last - first), out.dtype)
            for tap, matrix in enumerate(self.taps):
                dy, dx = divmod(tap, k)
                start = dy * wide + dx + first
                np.matmul(matrix, flat[:, start:start + last - first], out=term if tap else total[:, first:last])
                if tap:
                    total[:, first:last] += term
                if alone:
                    tick(tap + 1, len(self.taps))

        if alone:
            columns(0, positions)
        else:
            _each(columns, ranges)
        np.add(total.reshape(self.outputs, height, wide)[:, :, :width], self.bias, out=out)
        return out


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Decoded pixels (float, any shape; clamped to [0, 1] in place) as uint8 round(255 x), half to even: how every
    decoded picture becomes bytes."""
    np.clip(x, 0, 1, out=x)
    return np.rint(np.multiply(x, x.dtype.type(255), out=x), out=x).astype(np.uint8)


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    """max(x, slope * x) for 0 < slope < 1, in place."""
    return np.maximum(x, x * np.asarray(slope, x.dtype), out=x)


class ConvTranspose:
    """A stride-2 transposed convolution with padding k // 2 and output padding 1; weight (in, out, k, k) as torch
    stores it."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.inputs, self.outputs, self.kernel = weight.shape[0], weight.shape[1], weight.shape[2]
        self.pad = self.kernel // 2
        self.bias = bias.reshape(-1, 1, 1)
        self.scatter = self.outputs < FEW_OUTPUTS
        if self.scatter:  # rows (dy, dx, out)
            self.matrix = np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, self.inputs))
        else:
            self._phases(weight)

    def _phases(self, weight: np.ndarray) -> None:
        """Output phase (py, px) as a convolution of the input over its own taps, grouped in runs of consecutive
        shifts so that each run is one matrix product over a block of the shifted input.

        Output row 2m + py takes input row i = m + s from tap dy = py + pad - 2s, for each s with 0 <= dy < k; the
        input shifts s lie within +-radius, and shift (sy, sx) is block (sy + r) * (2r + 1) + (sx + r).
        """
        k, pad = self.kernel, self.pad
        self.radius = r = (pad + 1) // 2
        size = 2 * r + 1
        self.runs: list[list[tuple[int, int, np.ndarray]]] = []  # per phase: (first block, blocks, matrix)
        for py in range(2):
            for px in range(2):
                blocks = []
                for sy in range(-r, r + 1):
                    for sx in range(-r, r + 1):
                        dy, dx = py + pad - 2 * sy, px + pad - 2 * sx
                        if 0 <= dy < k and 0 <= dx < k:
                            blocks.append(((sy + r) * size + sx + r, weight[:, :, dy, dx].T))
                runs: list[list] = []
                for block, matrix in blocks:
                    if runs and runs[-1][0] + len(runs[-1][1]) == block:
                        runs[-1][1].append(matrix)
                    else:
                        runs.append([block, [matrix]])
                self.runs.append([(first, len(parts), np.ascontiguousarray(np.concatenate(parts, axis=1)))
                                  for first, parts in runs])

    def cost(self, shape: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        """Multiply-adds for an input of this shape (C, H, W), and the output's shape (for progress)."""
        return (float(self.inputs * self.outputs * self.kernel**2 * shape[-2] * shape[-1]),
                (self.outputs, 2 * shape[-2], 2 * shape[-1]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.scatter:
            return self._scattered(x)
        channels, height, width = x.shape
        r = self.radius
        size = 2 * r + 1
        padded = np.pad(x, ((0, 0), (r, r), (r, r)))
        out = np.empty((self.outputs, 2 * height, 2 * width), np.result_type(x, self.bias))

        def strip(top: int, bottom: int) -> None:
            rows = bottom - top
            shifted = np.empty((size * size, channels, rows, width), x.dtype)  # block-major: runs are contiguous
            for sy in range(size):
                for sx in range(size):
                    shifted[sy * size + sx] = padded[:, top + sy:bottom + sy, sx:sx + width]
            shifted = shifted.reshape(size * size * channels, rows * width)
            for phase, runs in enumerate(self.runs):
                total = None
                for first, count, matrix in runs:
                    product = matrix @ shifted[first * channels:(first + count) * channels]
                    total = product if total is None else np.add(total, product, out=total)
                py, px = divmod(phase, 2)
                np.add(total.reshape(self.outputs, rows, width), self.bias,
                       out=out[:, 2 * top + py:2 * bottom:2, px::2])

        _each(strip, _ranges(height, _strip_rows(size * size * channels * width * x.itemsize)))
        return out

    def _scattered(self, x: np.ndarray) -> np.ndarray:
        """Every tap of a strip of input rows in one product, then each tap added at its shift into the plane of its
        output phase: tap (dy, dx) of input pixel (i, j) lands on row 2i + dy, column 2j + dx of the uncropped output,
        which is pixel (i + dy // 2, j + dx // 2) of the plane (dy % 2, dx % 2), so every add is of whole rows
        (before 0.12, strided adds into the interleaved output: the light model's last layer took 13 ms of a Kodak
        decode). The taps add in the same order, so the sums are the same. A strip writes rows + k // 2 plane rows,
        overlapping its neighbours', so workers take every other strip at a time. The planes are interleaved into
        the output, cropped and biased, at the end."""
        _, height, width = x.shape
        k, pad = self.kernel, self.pad
        reach = (k - 1) // 2  # the largest dy // 2
        planes = np.zeros((2, 2, self.outputs, height + reach, width + reach), np.result_type(x, self.matrix))

        def strip(top: int, bottom: int) -> None:
            taps = (self.matrix @ x[:, top:bottom].reshape(self.inputs, -1)).reshape(k, k, self.outputs,
                                                                                     bottom - top, width)
            for dy in range(k):
                for dx in range(k):
                    plane = planes[dy % 2, dx % 2]
                    plane[:, top + dy // 2:bottom + dy // 2, dx // 2:dx // 2 + width] += taps[dy, dx]

        strips = _ranges(height, _strip_rows(k * k * self.outputs * width * planes.itemsize))  # the taps of a strip
        if len(strips) > 2 and strips[0][1] < k // 2:  # a strip between two others must keep them apart
            strips = [(top, min(top + k // 2, height)) for top in range(0, height, k // 2)]
        _each(strip, strips[0::2], of=len(strips))
        if len(strips) > 1:
            _each(strip, strips[1::2], done=len(strips[0::2]), of=len(strips))
        out = np.empty((self.outputs, 2 * height, 2 * width), planes.dtype)
        for qy in range(2):  # output row 2m + qy is uncropped row 2m + qy + pad: plane (qy + pad) % 2, row m + shift
            py, sy = (qy + pad) % 2, (qy + pad) // 2
            for qx in range(2):
                px, sx = (qx + pad) % 2, (qx + pad) // 2
                np.add(planes[py, px, :, sy:sy + height, sx:sx + width], self.bias, out=out[:, qy::2, qx::2])
        return out


GDN_PEDESTAL = 2.0**-18  # aec.layers.GDN stores the square roots of its parameters plus this


class GDN:
    """(Inverse) generalized divisive normalization from GDN's effective parameters: gamma (C, C), beta (C,).

    x * sqrt(beta + gamma @ x**2) (inverse) or x / sqrt(...), the sum floored at 1e-6 as aec.layers.GDN does; when
    every beta is at least 1e-6 and no gamma is negative (``from_stored`` gives none) the floor cannot act (rounding
    keeps a sum of nonnegative terms at or above beta), and the pass is left out: four elementwise passes over the layer's output
    rather than six (g_a's first GDN on a Kodak image: 47 -> 40 ms, docs/speed.md)."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, inverse: bool):
        self.gamma, self.beta, self.inverse = np.ascontiguousarray(gamma), beta.reshape(-1, 1), inverse
        self.floor = not bool((self.beta >= np.asarray(1e-6, self.beta.dtype)).all() and (self.gamma >= 0).all())

    @classmethod
    def from_stored(cls, gamma: np.ndarray, beta: np.ndarray, inverse: bool) -> "GDN":
        """From the parameters as ``aec.layers.GDN`` stores them (square roots plus the pedestal), in float32 as it
        computes the effective ones."""
        pedestal = np.float32(GDN_PEDESTAL)
        beta = np.maximum(beta, np.float32((1e-6 + GDN_PEDESTAL) ** 0.5)) ** 2 - pedestal
        gamma = np.maximum(gamma, np.float32(GDN_PEDESTAL**0.5)) ** 2 - pedestal
        return cls(gamma, beta, inverse)

    def cost(self, shape: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        """Multiply-adds for an input of this shape (C, H, W), and the output's shape (for progress)."""
        return float(self.gamma.size * shape[-2] * shape[-1]), tuple(shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        channels, height, width = x.shape
        flat = x.reshape(channels, -1)
        out = np.empty_like(flat)

        def columns(start: int, stop: int) -> None:
            part = flat[:, start:stop]
            norm = self.gamma @ np.square(part)
            np.add(norm, self.beta, out=norm)
            if self.floor:
                np.maximum(norm, np.asarray(1e-6, norm.dtype), out=norm)
            np.sqrt(norm, out=norm)
            (np.multiply if self.inverse else np.divide)(part, norm, out=out[:, start:stop])

        _each(columns, _column_ranges(height * width, 3 * channels * x.itemsize))
        return out.reshape(channels, height, width)


def costs(layers: list, shape: tuple[int, ...]) -> list[float]:
    """Each layer's multiply-adds for an input of this shape, in turn (0 for one without a ``cost``, an activation
    that keeps the shape): the shares of a network's progress (``aec.progress.in_turn``)."""
    found = []
    for layer in layers:
        cost, shape = layer.cost(shape) if hasattr(layer, "cost") else (0.0, shape)
        found.append(cost)
    return found
