"""The one-pass encoder without torch: a model file's tensors, in numpy, from pixels to .aec payloads.

``Codec.encode`` at effort 0 runs this, so encoding, like decoding (``aec.decoder``), needs only numpy, constriction
and safetensors; the refinement of higher efforts (``aec.refine``) differentiates the torch model instead.

    x --Analysis (g_a)--> y --* gain[q]--> --h_a--> z
    round(z) ==[z tables: ZHYP]==>   h_s, slices (ExactLatentPath)   ==[scale table: YLAT]==> round(y - mu)

``code_latents`` is the coding half that both encoders share (the torch model's ``compress`` codes its latents with
it too): everything it decides with a probability is ``aec.exact``'s. g_a and h_a are float32 networks as in torch,
summed in another order, so their latents may differ from torch's in the last bits and, where a value lies within
that of a rounding boundary, a symbol may differ (measured: ``tests/codec/test_encoder.py``). Either file decodes the
same way everywhere: the format fixes the decoding, not the encoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import architecture
from .architecture import LATENT_STRIDE, FloatNetwork, named_tensor
from .bitstream.entropy import CategoricalTables, SymbolEncoder, symbol_checksum
from .config import ModelConfig
from .errors import InputError
from .exact import HYPER_SHARE, HYPER_STRIDE, ONE, ExactLatentPath
from .progress import part, shares
from .tiling import tiled
from .timing import stage

__all__ = ["CodedLatents", "Encoder", "code_latents", "check_symbols"]

# Encoding runs g_a in overlapping tiles (in input pixels) so that memory stays bounded on big photos; the margin covers
# its receptive-field radius, 30 px. h_a's tiles and margin are in latent pixels (its radius is 7).
ANALYSIS_TILE, ANALYSIS_MARGIN = 512, 32
HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN = 128, 8
# Each stage's share of an image's encoding time, for progress (aec.progress): milliseconds per Kodak image on one
# thread on an idle machine (benchmarks/results/speed.md, r7): g_a 476, the latents (h_a, z, h_s, slices, y coding)
# 300; a refinement step about a second (README, Encoder effort).
ENCODE_MS = {"g_a": 476.0, "latents": 300.0}
REFINEMENT_STEP_MS = 1000.0

SYMBOL_LIMIT = 1 << 30  # larger symbols mean the image drove the model out of its numeric range
LIKELIHOOD_FLOOR = 1e-9  # the estimate's floor of a symbol's probability (as training's)
ESCAPE_BITS = 32.0  # an escaped z costs its escape bin plus two 16-bit digits
_BITS_RADIUS = 64  # gaussian_bits tabulates |symbol| up to this, per scale level


@dataclass(frozen=True)
class CodedLatents:
    """The entropy-coded payloads of one image and what the decoder needs to check them."""

    z_payload: bytes
    y_payload: bytes
    checksum: int
    estimated_bits: float


def check_symbols(symbols: np.ndarray) -> None:
    """Refuse symbols that no honest image produces: not finite, or too large for the coder's int32."""
    if symbols.size and not (np.isfinite(symbols).all() and np.abs(symbols).max() < SYMBOL_LIMIT):
        raise InputError("the image drives the model out of its numeric range; it cannot be coded")


def categorical_bits(symbols: np.ndarray, tables: CategoricalTables) -> float:
    """Bits the tables spend on integer symbols (C, n), an escape priced at its bin plus ``ESCAPE_BITS``."""
    index = symbols.astype(np.int64) - tables.offsets[:, None]
    escape = (index < 0) | (index > tables.escape - 1)
    index = np.where(escape, tables.escape, index)
    counts = tables.counts.astype(np.float64)
    chosen = np.take_along_axis(counts, index, axis=1)
    return float(-np.log2(chosen / counts.sum(axis=1, keepdims=True)).sum() + ESCAPE_BITS * escape.sum())


def _gaussian_bits(magnitude: float, sigma: float) -> float:
    """-log2 of the mass of [r - 1/2, r + 1/2] under a zero-mean Gaussian of scale sigma, for r = magnitude >= 0
    (the symmetric form, accurate in the tail), floored at LIKELIHOOD_FLOOR."""
    upper = 0.5 * math.erfc(-(0.5 - magnitude) / (sigma * math.sqrt(2)))
    lower = 0.5 * math.erfc(-(-0.5 - magnitude) / (sigma * math.sqrt(2)))
    return -math.log2(max(upper - lower, LIKELIHOOD_FLOOR))


class GaussianBits:
    """The bits a scale table's Gaussians give integer symbols (the encoder's estimate; the coder spends about
    this), tabulated per level for the usual magnitudes."""

    def __init__(self, scale_table: np.ndarray):
        self.scale_table = np.asarray(scale_table, dtype=np.float64)
        self.table = np.array([[_gaussian_bits(r, s) for r in range(_BITS_RADIUS + 1)] for s in self.scale_table])

    def __call__(self, symbols: np.ndarray, indexes: np.ndarray) -> float:
        magnitude = np.abs(symbols).astype(np.int64).reshape(-1)
        indexes = indexes.reshape(-1)
        near = magnitude <= _BITS_RADIUS
        total = float(self.table[indexes[near], magnitude[near]].sum())
        return total + sum(_gaussian_bits(float(r), float(self.scale_table[i]))
                           for r, i in zip(magnitude[~near], indexes[~near]))


def code_latents(path: ExactLatentPath, y: np.ndarray, z: np.ndarray, bits: GaussianBits | None = None) -> CodedLatents:
    """Code the latent y (M, h, w) with its hyper-latent z (Z, h/4, w/4), both real-valued, through the exact path:
    z rounded under the z tables, then slice by slice round(y_i - mu_i) under the scale table."""
    bits = bits or GaussianBits(path.scale_table)
    y = np.asarray(y, dtype=np.float64)
    z_symbols = np.floor(np.asarray(z, dtype=np.float64) + 0.5)
    check_symbols(y)
    check_symbols(z_symbols)
    with stage("z coding"):
        z_coded = z_symbols.astype(np.int32).reshape(z_symbols.shape[0], -1)
        z_encoder = SymbolEncoder()
        z_encoder.encode_categorical(z_coded, path.z_tables)
        z_payload = z_encoder.finish()
        z_bits = categorical_bits(z_coded, path.z_tables)
    encoder = SymbolEncoder(path.scale_table)
    y_slices = np.split(y, path.slices)
    coded: list[np.ndarray] = []
    y_bits = 0.0

    def code_slice(i: int, mean_fixed: np.ndarray, index: np.ndarray) -> np.ndarray:
        nonlocal y_bits
        symbols = np.floor(y_slices[i] - mean_fixed / ONE + 0.5)
        check_symbols(symbols)
        coded.append(symbols.astype(np.int32))
        encoder.encode_gaussian(coded[-1], index)
        y_bits += bits(coded[-1], index)
        return symbols

    path.code_slices(path.hyper_features(z_symbols), code_slice)
    return CodedLatents(z_payload, encoder.finish(), symbol_checksum(z_coded, *coded), z_bits + y_bits)


class Encoder:
    """One model's one-pass encoding state, from its file's tensors: g_a, the gains, h_a and the exact path."""

    def __init__(self, config: ModelConfig, tensors: dict[str, np.ndarray], latents: ExactLatentPath):
        self.config = c = config
        self.latents = latents
        self.analysis = FloatNetwork(tensors, "g_a", architecture.analysis(c), "gdn")
        self.hyper_analysis = FloatNetwork(tensors, "h_a", architecture.hyper_analysis(c), "leaky")
        self.log_gains = named_tensor(tensors, "log_gains", (len(c.lambdas), c.M)).astype(np.float32)
        self.bits = GaussianBits(latents.scale_table)

    def gain(self, quality: float) -> np.ndarray:
        """The gain (M,) at a model quality, log-linear between the trained ones (``ModelConfig.interpolation``)."""
        low, high, t = self.config.interpolation(quality)
        return np.exp(self.log_gains[low] * np.float32(1 - t) + self.log_gains[high] * np.float32(t))

    def compress(self, rgb: np.ndarray, quality: float) -> CodedLatents:
        """Code a uint8 (H, W, 3) image whose sides are multiples of 64 at a model quality."""
        parts = shares(ENCODE_MS)

        def analysis(piece: np.ndarray) -> np.ndarray:  # uint8 (3, h, w) -> float32 in [0, 1], as torch divides
            return self.analysis(piece.astype(np.float32) / np.float32(255))

        with stage("g_a"), part(*parts["g_a"]):
            y = tiled(analysis, rgb.transpose(2, 0, 1), ANALYSIS_TILE, ANALYSIS_MARGIN, Fraction(1, LATENT_STRIDE))
        y *= self.gain(quality)[:, None, None]
        with part(*parts["latents"]):
            with stage("h_a"), part(0.0, HYPER_SHARE / 2):
                z = tiled(self.hyper_analysis, y, HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN, Fraction(1, HYPER_STRIDE))
            return code_latents(self.latents, y, z, self.bits)
