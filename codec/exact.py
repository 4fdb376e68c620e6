"""The exact probability path in numpy: the integer networks, and the channel-slice latent codec whose one slice loop
``ExactLatentPath.encode`` and ``decode`` share.

Everything that decides a coded probability runs here, in one implementation for both sides, with no torch; the
entropy models (``aec.entropy_models``: z's tables, y's indexed Gaussian) round, index and code what it hands them:

    z_hat --h_s--> hyper;  for slice i:  (mu_i, idx_i) = params_i(hyper, y_hat_0..i-1)
                                         sym_i = round(y_i - mu_i) <-> IndexedGaussian at idx_i
                                         y_hat_i = sym_i + mu_i + lrp_i(hyper, y_hat_0..i-1, sym_i + mu_i)
                                         (a model without latent residual prediction: y_hat_i = sym_i + mu_i)

The integer layers follow Ballé, Johnston & Minnen, "Integer networks for data compression with latent-variable
models" (ICLR 2019); ``aec.layers.IntConv2d`` trains them and freezes their integers, which this module evaluates:

    acc = conv(x_int, W_int) + B_int          every term an integer, |acc| < 2**53
    y_int = floor((acc + 2**(WF-1)) / 2**WF)  a rounding right shift
    y_int = clamp(y_int, 0, ACT_MAX)          hidden layers only (a bounded ReLU)

Activations carry ``FRAC_BITS`` fractional bits (x = x_int / 2**FRAC_BITS) and weights ``WEIGHT_BITS``. Because every
partial sum is an integer below 2**53 (``IntegerNetwork.check_exact`` proves it from the weights), float64 arithmetic
is exact and the result depends on no summation order, thread count, BLAS or machine. docs/bitstream.md's "Model
probability path" specifies it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .bitstream.entropy import symbol_checksum
from .entropy_models import FactorizedTables, IndexedGaussian, check_symbols
from .errors import FormatError
from .ops import Conv, ConvTranspose, costs
from .progress import in_turn, part, tick
from .tiling import tiled
from .timing import stage

FRAC_BITS = 8
WEIGHT_BITS = 12
ONE = 1 << FRAC_BITS  # one real unit in the fixed point of the integer networks
ACT_MAX = (1 << 14) - 1  # hidden activations lie in [0, 64) in real units
INPUT_LIMIT = 1 << 22  # integer inputs (z_hat, y_hat in fixed point) are clamped to +-2**14 real units
EXACT_LIMIT = float(1 << 53)
LRP_LIMIT = 0.5  # latent residual predictions are clamped to +-1/2
_NONE = np.empty(0, np.intp)  # no positions (and no values) beyond the slice networks' clamp

HYPER_STRIDE = 4  # h_s's output resolution over its input's
# Tiles and margins (in each network's input pixels) for bounded memory on big photos. Each margin covers the
# network's receptive-field radius: h_s under 2 z px, slice and LRP networks 2 latent px (tests/codec/test_tiling.py
# checks that tiled and whole-image results agree).
HYPER_TILE, HYPER_MARGIN = 32, 2
CONTEXT_TILE, CONTEXT_MARGIN = 64, 2
# The hyperprior's share (h_a, z coding, h_s) of the latents' coding time, for progress (aec.progress): about 32 of
# 300 ms encoding a Kodak image, 25 of 310 decoding (benchmarks/results/speed.md, one thread); the slices take the rest.
HYPER_SHARE = 0.08

# code_slice(i, mean_fixed, index) codes or decodes slice i's symbols round(y_i - mean) under those means (in fixed
# point: mean = mean_fixed / ONE, which only the encoder needs) and scale-table indexes and returns them (integers).
SliceCoder = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CodedLatents:
    """The entropy-coded payloads of one image and what the decoder needs to check them."""

    z_payload: bytes
    y_payload: bytes
    checksum: int
    estimated_bits: float


def _exact_float64(values: np.ndarray) -> np.ndarray:
    """Integer tensors (files store int16 weights, int64 biases) as float64, exactly: straight from the narrow
    ones, through int64 from anything else (float integers as before)."""
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 4:
        return values.astype(np.float64)
    return values.astype(np.int64).astype(np.float64)


class IntegerLayer:
    """One frozen integer convolution: weight_int (out, in, k, k), or (in, out, k, k) if transposed; bias_int."""

    def __init__(self, weight_int: np.ndarray, bias_int: np.ndarray, transpose: bool, activation: bool):
        weight, bias = (_exact_float64(np.asarray(value)) for value in (weight_int, bias_int))
        self.transpose, self.activation = transpose, activation
        self.conv = ConvTranspose(weight, bias) if transpose else Conv(weight, bias)
        # For output_bound: a transposed convolution's output sums over at most all taps of every input channel.
        self._weight_sums = np.abs(weight).sum(axis=(0, 2, 3) if transpose else (1, 2, 3))
        self._bias_magnitudes = np.abs(bias)

    def cost(self, shape: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        """The convolution's multiply-adds and output shape (``aec.ops.costs``)."""
        return self.conv.cost(shape)

    def __call__(self, x_int: np.ndarray) -> np.ndarray:
        """Integer-valued float64 (C, H, W) in, integer-valued float64 out."""
        y = self.conv(x_int)  # then in place: floor((acc + 2**(WF-1)) / 2**WF), the same operations
        np.floor(np.divide(np.add(y, 2.0 ** (WEIGHT_BITS - 1), out=y), 2.0**WEIGHT_BITS, out=y), out=y)
        return np.clip(y, 0.0, float(ACT_MAX), out=y) if self.activation else y

    def output_bound(self, input_bound: float) -> float:
        """Largest |acc| any input with |x_int| <= input_bound can produce (exactness needs it below 2**53)."""
        return float((self._weight_sums * input_bound + self._bias_magnitudes).max())


class IntegerNetwork:
    """A stack of integer layers."""

    def __init__(self, layers: Sequence[IntegerLayer]):
        self.layers = list(layers)

    def __call__(self, x_int: np.ndarray) -> np.ndarray:
        return in_turn(self.layers, x_int, costs(self.layers, x_int.shape))  # progress: each layer by its work

    def check_exact(self, input_bound: float = float(INPUT_LIMIT)) -> None:
        """Raise ValueError if some input within ``input_bound`` could push a partial sum past 2**53."""
        bound = input_bound
        for layer in self.layers:
            acc = layer.output_bound(bound)
            if acc >= EXACT_LIMIT:
                raise ValueError(f"integer layer can reach |acc| = {acc:.3g} >= 2**53: not exact")
            bound = float(ACT_MAX) if layer.activation else acc / 2.0**WEIGHT_BITS + 1


class ExactLatentPath:
    """The frozen probability path and the latent codec it drives: h_s, the slice networks and the two entropy models
    (z's frozen tables, y's indexed Gaussian). Gives the hyper features of z and the slice loop in fixed point, which
    ``encode`` and ``decode`` share."""

    def __init__(self, h_s: IntegerNetwork, params: Sequence[IntegerNetwork], residuals: Sequence[IntegerNetwork],
                 y_model: IndexedGaussian, z_model: FactorizedTables):
        self.h_s, self.params, self.residuals = h_s, list(params), list(residuals)  # residuals: none, or one a slice
        if self.residuals and len(self.residuals) != len(self.params):
            raise ValueError(f"{len(self.residuals)} residual networks for {len(self.params)} slices")
        self.y_model, self.z_model = y_model, z_model
        self.slices = len(self.params)
        self.widths = [net.layers[-1].conv.outputs // 2 for net in self.params]  # each slice's: means, then indexes
        self.latent_channels = sum(self.widths)

    def networks(self) -> list[IntegerNetwork]:
        return [self.h_s, *self.params, *self.residuals]

    def check_exact(self) -> None:
        """Prove from the integer weights that no partial sum of the probability path can reach 2**53."""
        for network in self.networks():
            network.check_exact()

    def hyper_features(self, z_symbols: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Integer z (C, h, w) -> the hyper features at the latent resolution, in fixed point (into ``out`` if
        given)."""
        z_int = np.clip(np.asarray(z_symbols, dtype=np.float64) * ONE, -INPUT_LIMIT, INPUT_LIMIT)
        with stage("h_s"), part(HYPER_SHARE / 2, HYPER_SHARE):
            return tiled(self.h_s, z_int, HYPER_TILE, HYPER_MARGIN, HYPER_STRIDE, out=out)

    def code_slices(self, z_symbols: np.ndarray, code_slice: SliceCoder) -> np.ndarray:
        """The slice loop over the hyper features of integer z (C, h/4, w/4); returns y_hat (M, h, w) in fixed
        point (integer-valued float64, ``ONE`` per unit).

        The slice networks read one buffer that holds the hyper features and then each slice's y_hat as it comes
        (slice i reads its first channels, its LRP network one slice more), rather than a concatenation per slice,
        and y_hat is that buffer's last M channels, not an array of its own: the networks read y_hat clamped to
        +-``INPUT_LIMIT``, so the rare values beyond (none in a photo's latents: a real unit is 2**8 and the clamp
        2**14 units) are kept aside and put back at the end. The same inputs in less memory (a 6000x4000 decode:
        935 -> 600 MiB with docs/speed.md's other changes, then 108 MB less for the fast candidate's y_hat)."""
        hyper = self.h_s.layers[-1].conv.outputs
        height, width = HYPER_STRIDE * z_symbols.shape[-2], HYPER_STRIDE * z_symbols.shape[-1]
        starts = np.cumsum([0, *self.widths]).tolist()
        support = np.empty((hyper + self.latent_channels, height, width), np.float64)
        self.hyper_features(z_symbols, out=support[:hyper])
        beyond: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (slice view, flat positions, values)

        def clamp(y_fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Clamp a slice of y_hat in place for the networks; the positions and values the clamp changed (two
            reductions and nothing else for a slice within the clamp, as a photo's always is)."""
            flat = y_fixed.reshape(-1)
            if flat.max(initial=0.0) <= INPUT_LIMIT and flat.min(initial=0.0) >= -INPUT_LIMIT:
                return _NONE, _NONE
            where = np.flatnonzero((flat > INPUT_LIMIT) | (flat < -INPUT_LIMIT))
            values = flat[where]
            np.clip(y_fixed, -INPUT_LIMIT, INPUT_LIMIT, out=y_fixed)
            return where, values

        with part(HYPER_SHARE, 1.0):
            for i, step in enumerate(self.widths):
                seen = hyper + starts[i]
                with stage("slice networks"), part(i / self.slices, (i + 0.5) / self.slices):
                    params = tiled(self.params[i], support[:seen], CONTEXT_TILE, CONTEXT_MARGIN)
                mean_fixed, index_fixed = np.split(params, 2)
                with stage("y coding"):  # the indexes in real units (dividing by ONE is exact)
                    symbols = code_slice(i, mean_fixed, self.y_model.index(np.divide(index_fixed, ONE,
                                                                                     out=index_fixed)))
                y_fixed = support[seen:seen + step]
                np.add(np.multiply(symbols, ONE, out=y_fixed, dtype=np.float64), mean_fixed, out=y_fixed)
                if self.residuals:
                    where, values = clamp(y_fixed)  # the LRP network reads this slice clamped too
                    with stage("slice networks"), part((i + 0.5) / self.slices, (i + 1) / self.slices):
                        lrp = tiled(self.residuals[i], support[:seen + step], CONTEXT_TILE, CONTEXT_MARGIN)
                    y_fixed.reshape(-1)[where] = values
                    limit = LRP_LIMIT * ONE
                    y_fixed += np.clip(lrp, -limit, limit, out=lrp)
                    del lrp
                where, values = clamp(y_fixed)
                if where.size:
                    beyond.append((y_fixed, where, values))
                del params, mean_fixed, index_fixed, symbols
                tick(i + 1, self.slices)
        for y_fixed, where, values in beyond:
            y_fixed.reshape(-1)[where] = values
        return support[hyper:]

    def encode(self, y: np.ndarray, z: np.ndarray) -> CodedLatents:
        """Code the latent y (M, h, w) with its hyper-latent z (Z, h/4, w/4), both real-valued: z rounded under
        its tables, then slice by slice round(y_i - mu_i) under the scale table (the entropy models round)."""
        y = np.asarray(y, dtype=np.float64)
        check_symbols(y)  # an image out of the model's range is refused before any coding
        with stage("z coding"):
            z_payload, z_coded = self.z_model.encode(z)
            z_bits = self.z_model.bits(z_coded)
        stream = self.y_model.encoder()
        y_slices = np.split(y, self.slices)
        coded: list[np.ndarray] = []
        y_bits = 0.0

        def code_slice(i: int, mean_fixed: np.ndarray, index: np.ndarray) -> np.ndarray:
            nonlocal y_bits
            coded.append(self.y_model.encode(stream, y_slices[i], mean_fixed / ONE, index))
            y_bits += self.y_model.bits(coded[-1], index)
            return coded[-1]

        self.code_slices(z_coded.reshape(np.shape(z)), code_slice)
        return CodedLatents(z_payload, stream.finish(), symbol_checksum(z_coded, *coded), z_bits + y_bits)

    def decode(self, z_payload: bytes, y_payload: bytes, height: int, width: int,
               checksum: int | None = None, *, major: int = 2) -> np.ndarray:
        """Decode the latent of (height, width) latent pixels (multiples of 4); returns y_hat (M, h, w) as float64 real
        values. A checksum mismatch (corrupt file, other weights) raises FormatError, and so does a payload too short
        for the symbols of this size (before any work in proportion to the size), or one with data after them."""
        stream = self.y_model.decoder(y_payload, name="the YLAT section", indexed=major >= 2)
        stream.expect(self.latent_channels * height * width)
        with stage("z coding"):
            z_coded = self.z_model.decode(z_payload, (height // HYPER_STRIDE) * (width // HYPER_STRIDE),
                                          name="the ZHYP section")
        z_symbols = z_coded.reshape(-1, height // HYPER_STRIDE, width // HYPER_STRIDE)
        decoded: list[np.ndarray] = []

        def code_slice(i: int, mean_fixed: np.ndarray, index: np.ndarray) -> np.ndarray:
            decoded.append(self.y_model.decode(stream, index))
            return decoded[-1]

        y_hat_fixed = self.code_slices(z_symbols, code_slice)
        stream.finish()
        if checksum is not None and symbol_checksum(z_coded, *decoded) != checksum:
            raise FormatError("decoded symbols do not match the file's checksum: the file is corrupt or was "
                              "written with different model weights")
        return np.divide(y_hat_fixed, ONE, out=y_hat_fixed)
