"""The coding half of the channel-slice latent codec in numpy: real-valued latents to .aec payloads, without torch.

``code_latents`` codes y and z through the exact path (``aec.exact``), which decodes them too: both encoders run it
(the numpy one-pass encoder of ``aec.channel_slice`` at effort 0, the torch model's ``compress`` after refinement).
Beside it the encoder's estimate of the bits (``GaussianBits``, ``categorical_bits``) and the symbol range check.

    round(z) ==[z tables: ZHYP]==>   h_s, slices (ExactLatentPath)   ==[scale table: YLAT]==> round(y - mu)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bitstream.entropy import CategoricalTables, SymbolEncoder, symbol_checksum
from .errors import InputError
from .exact import ONE, ExactLatentPath
from .timing import stage

__all__ = ["CodedLatents", "GaussianBits", "categorical_bits", "check_symbols", "code_latents"]

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
