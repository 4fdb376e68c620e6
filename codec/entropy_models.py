"""Entropy models: how one tensor of latents is coded and priced, each a numpy model (coding) with its torch twin
(training) beside it.

- z: ``FactorizedTables`` codes integer z per channel under frozen integer frequency tables over a fixed support plus
  an escape bin; its twin ``FactorizedPrior`` is the per-channel monotone CDF network of Ballé et al. 2018 (appendix
  6.1), trained as a density and frozen once into those tables (``freeze``), which ship in the model file. No
  auxiliary quantile loss: the support is fixed, the tables are read off the CDF, values outside it are escape-coded.
- y: ``IndexedGaussian`` codes ``round(y - mu)`` under a zero-mean quantized Gaussian whose scale is one of a fixed
  log-spaced table (tensorflow-compression's ``LocationScaleIndexedEntropyModel``, CompressAI's
  ``GaussianConditional``); its twin ``GaussianIndexedEntropyModel`` prices the same in training. The coder only ever
  sees table entries, so encoder and decoder build identical coding distributions.

A numpy model owns everything between "these latents under these parameters" and the range coder
(``aec.bitstream.entropy``): the rounding, the table index, the coding and the bit estimate, so the latent codec
(``aec.exact``) says what to code under which parameters and nothing above it rounds, indexes or calls a coder.
Neither knows anything about images, slices or networks.

The torch twins are defined when first asked for (the module's ``__getattr__``): importing this module, as the
coder does, needs no torch.
"""

from __future__ import annotations

import math

import numpy as np

from .bitstream.entropy import CategoricalTables, SymbolDecoder, SymbolEncoder, check_scale_table
from .errors import InputError

__all__ = ["FactorizedPrior", "FactorizedTables", "GaussianIndexedEntropyModel", "IndexedGaussian", "check_symbols"]

TABLE_PRECISION = 16  # the z tables' counts sum to 2**16
LIKELIHOOD_FLOOR = 1e-9  # the floor of a symbol's probability, in training and in the coder's estimate
SYMBOL_LIMIT = 1 << 30  # larger symbols mean the image drove the model out of its numeric range
ESCAPE_BITS = 32.0  # an escaped z costs its escape bin plus two 16-bit digits
BITS_RADIUS = 64  # IndexedGaussian tabulates the bits of |symbol| up to this, per scale level


def check_symbols(symbols: np.ndarray) -> None:
    """Refuse symbols that no honest image produces: not finite, or too large for the coder's int32."""
    if symbols.size and not (np.isfinite(symbols).all() and np.abs(symbols).max() < SYMBOL_LIMIT):
        raise InputError("the image drives the model out of its numeric range; it cannot be coded")


def _rounded(values: np.ndarray) -> np.ndarray:
    """Round half up, as training's eval rounding and every release's coder: integer-valued float64."""
    symbols = np.floor(values + 0.5)
    check_symbols(symbols)
    return symbols


class FactorizedTables:
    """z's coding: one frozen frequency table per channel, the last bin for escapes (``FactorizedPrior.freeze``)."""

    def __init__(self, counts: np.ndarray, offsets: np.ndarray):
        self.tables = CategoricalTables(np.asarray(counts).astype(np.int64), np.asarray(offsets).astype(np.int64))

    def encode(self, z: np.ndarray) -> tuple[bytes, np.ndarray]:
        """Code real-valued z (C, ...) rounded: (the payload, the int32 symbols (C, n) coded)."""
        symbols = _rounded(np.asarray(z, dtype=np.float64)).astype(np.int32).reshape(z.shape[0], -1)
        encoder = SymbolEncoder()
        encoder.encode_categorical(symbols, self.tables)
        return encoder.finish(), symbols

    def decode(self, payload: bytes, count: int, name: str) -> np.ndarray:
        """The int32 symbols (C, count) of a payload, which must hold exactly them; FormatError names ``name``."""
        decoder = SymbolDecoder(payload, name=name)
        symbols = decoder.decode_categorical(self.tables, count)
        decoder.finish()
        return symbols

    def bits(self, symbols: np.ndarray) -> float:
        """Bits the tables spend on integer symbols (C, n), an escape priced at its bin plus ``ESCAPE_BITS``."""
        tables = self.tables
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


class IndexedGaussian:
    """y's coding: ``round(y - mean)`` under the zero-mean Gaussian of the scale table's entry at a predicted index.
    One stream codes a latent block after block (the slices), so ``encoder``/``decoder`` give the stream and
    ``encode``/``decode`` code one block on it."""

    def __init__(self, scale_table: np.ndarray):
        # A standard deviation that is not finite and above 0 would code garbage or stop the coder: refused at load.
        self.scale_table = check_scale_table(np.asarray(scale_table, dtype=np.float64))
        self.levels = len(self.scale_table)
        self._bits: np.ndarray | None = None

    def index(self, index: np.ndarray) -> np.ndarray:
        """The table index of a predicted (real-valued) index: rounded half up, clamped to the table; int16 (what
        the coder sorts by) for a table of up to 2**15 levels, int64 for a longer one."""
        rounded = np.add(index, 0.5)
        np.floor(rounded, out=rounded)
        np.clip(rounded, 0, self.levels - 1, out=rounded)
        return rounded.astype(np.int16 if self.levels <= 1 << 15 else np.int64)

    def encoder(self) -> SymbolEncoder:
        return SymbolEncoder(self.scale_table)

    def decoder(self, payload: bytes, name: str, indexed: bool = True) -> SymbolDecoder:
        """A stream of format 2's indexed blocks, or (``indexed=False``) of format 1's Gaussian blocks."""
        return SymbolDecoder(payload, self.scale_table, name=name, indexed=indexed)

    def encode(self, stream: SymbolEncoder, y: np.ndarray, mean: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Code one block of y under (mean, table index) as format 2 does; returns the int32 symbols coded,
        round(y - mean)."""
        symbols = _rounded(y - mean).astype(np.int32)
        stream.encode_indexed(symbols, index)
        return symbols

    def decode(self, stream: SymbolDecoder, index: np.ndarray) -> np.ndarray:
        """The int32 symbols round(y - mean) of one block under these table indexes."""
        return stream.decode_indexed(index) if stream.indexed else stream.decode_gaussian(index)

    def bits(self, symbols: np.ndarray, index: np.ndarray) -> float:
        """The bits the Gaussians give integer symbols (the encoder's estimate; the coder spends about this),
        tabulated per level for the usual magnitudes."""
        if self._bits is None:
            self._bits = np.array([[_gaussian_bits(r, s) for r in range(BITS_RADIUS + 1)] for s in self.scale_table])
        magnitude = np.abs(symbols).astype(np.int64).reshape(-1)
        index = index.reshape(-1)
        near = magnitude <= BITS_RADIUS
        total = float(self._bits[index[near], magnitude[near]].sum())
        return total + sum(_gaussian_bits(float(r), float(self.scale_table[i]))
                           for r, i in zip(magnitude[~near], index[~near]))


# ------------------------------------------------------------------------------------------------ the torch twins
_TORCH_TWINS = ("FactorizedPrior", "GaussianIndexedEntropyModel")


def __getattr__(name: str) -> type:
    if name in _TORCH_TWINS:
        globals().update(_define_torch_twins())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define_torch_twins() -> dict[str, type]:
    """The training side of both models (imports torch)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from .bitstream.tables import pmf_to_counts, scale_table
    from .layers import round_ste

    class FactorizedPrior(nn.Module):
        """A learned, per-channel, non-parametric density for z (filters 3-3-3, as in Ballé et al. 2018); frozen, it
        codes as ``FactorizedTables`` (``coding``)."""

        def __init__(self, channels: int, support: int, filters: tuple[int, ...] = (3, 3, 3),
                     init_scale: float = 10.0):
            super().__init__()
            self.channels, self.support = channels, support
            dims = (1,) + tuple(filters) + (1,)
            scale = init_scale ** (1.0 / (len(filters) + 1))
            self.matrices = nn.ParameterList()
            self.biases = nn.ParameterList()
            self.factors = nn.ParameterList()
            for i in range(len(filters) + 1):
                init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
                self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
                self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
                if i < len(filters):
                    self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
            width = 2 * support + 2  # values -support..support, then the escape bin
            self.register_buffer("counts", torch.ones(channels, width, dtype=torch.int32))
            self.register_buffer("offsets", torch.full((channels,), -support, dtype=torch.int32))
            self._coding: FactorizedTables | None = None

        def logits_cdf(self, values: torch.Tensor) -> torch.Tensor:
            """values: (C, 1, n) -> logit of the CDF at each value, per channel."""
            logits = values
            for i, matrix in enumerate(self.matrices):
                logits = torch.matmul(F.softplus(matrix), logits) + self.biases[i]
                if i < len(self.factors):
                    logits = logits + torch.tanh(self.factors[i]) * torch.tanh(logits)
            return logits

        def likelihood(self, z: torch.Tensor) -> torch.Tensor:
            """Probability mass of [z - 1/2, z + 1/2] under each channel's density; z: (B, C, H, W)."""
            b, c, h, w = z.shape
            values = z.float().permute(1, 0, 2, 3).reshape(c, 1, -1)
            lower = self.logits_cdf(values - 0.5)
            upper = self.logits_cdf(values + 0.5)
            # Subtract in the tail where the sigmoid is accurate.
            sign = -torch.sign(lower + upper).detach()
            p = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
            p = p.clamp(min=LIKELIHOOD_FLOOR)
            return p.reshape(c, b, h, w).permute(1, 0, 2, 3)

        def bits(self, z: torch.Tensor) -> torch.Tensor:
            """Per-sample bits of z (noisy in training, rounded in eval) under the density: shape (B,)."""
            return -torch.log2(self.likelihood(z)).sum(dim=(1, 2, 3))

        @torch.no_grad()
        def freeze(self) -> None:
            """Read integer frequency tables off the CDF: one row per channel, the last bin for escapes."""
            support = torch.arange(-self.support, self.support + 1, dtype=torch.float32)
            values = support.view(1, 1, -1).expand(self.channels, 1, -1)
            cdf_lower = torch.sigmoid(self.logits_cdf(values - 0.5)).double()
            cdf_upper = torch.sigmoid(self.logits_cdf(values + 0.5)).double()
            pmf = (cdf_upper - cdf_lower).clamp(min=0).squeeze(1)
            tail = (cdf_lower[:, 0, :1] + (1 - cdf_upper[:, 0, -1:])).clamp(min=0)
            pmf = torch.cat([pmf, tail], dim=1).numpy()
            pmf = np.maximum(pmf, 1e-12)
            pmf = pmf / pmf.sum(axis=1, keepdims=True)
            self.counts.copy_(torch.from_numpy(pmf_to_counts(pmf, TABLE_PRECISION).astype(np.int32)))
            self.offsets.fill_(-self.support)
            self._coding = None

        def _load_from_state_dict(self, *args, **kwargs) -> None:
            super()._load_from_state_dict(*args, **kwargs)
            self._coding = None  # new counts: the coding model is rebuilt on next use

        def __getstate__(self) -> dict:
            return {**self.__dict__, "_coding": None}  # constriction's models do not pickle; a copy rebuilds them

        @property
        def coding(self) -> FactorizedTables:
            """The frozen tables as the numpy model that codes z (built once, on first use)."""
            if self._coding is None:
                self._coding = FactorizedTables(self.counts.cpu().numpy(), self.offsets.cpu().numpy())
            return self._coding

    class GaussianIndexedEntropyModel(nn.Module):
        """Zero-mean quantized Gaussians whose scales are entries of a fixed log-spaced table: training's price of
        what ``IndexedGaussian`` codes (``coding``).

        Training prices ``y - mu`` (plus uniform noise, or rounded in eval) under the Gaussian of the table entry
        nearest to the predicted index. The table ships in the model file.
        """

        def __init__(self, levels: int, low: float, high: float):
            super().__init__()
            self.register_buffer("scale_table", torch.from_numpy(scale_table(levels, low, high)).double())

        @property
        def levels(self) -> int:
            return self.scale_table.shape[0]

        @property
        def log_low(self) -> float:
            return math.log(float(self.scale_table[0]))

        @property
        def log_step(self) -> float:
            """Spacing of the table in log scale (the table's ends are exactly the configured low and high)."""
            return (math.log(float(self.scale_table[-1])) - self.log_low) / (self.levels - 1)

        def index_of(self, scale: float) -> float:
            """The (fractional) table index of a scale: what a parameter network should output to predict it."""
            return (math.log(scale) - self.log_low) / self.log_step

        def training_scale(self, index: torch.Tensor) -> torch.Tensor:
            """sigma of the table entry nearest to a predicted float index, with straight-through gradients."""
            index = index + (index.clamp(0, self.levels - 1) - index).detach()
            return torch.exp(self.log_low + round_ste(index) * self.log_step)

        @staticmethod
        def quantize(values: torch.Tensor, noisy: bool) -> torch.Tensor:
            """Additive uniform noise (training's rate proxy) or rounding half up (eval and coding)."""
            if noisy:
                return values + torch.empty_like(values).uniform_(-0.5, 0.5)
            return torch.floor(values + 0.5)

        @staticmethod
        def likelihood(residual: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            """Mass of [r - 1/2, r + 1/2] under a zero-mean Gaussian of scale sigma (symmetric, tail-accurate)."""
            r = residual.abs()
            upper = torch.special.ndtr((0.5 - r) / sigma)
            lower = torch.special.ndtr((-0.5 - r) / sigma)
            return (upper - lower).clamp(min=LIKELIHOOD_FLOOR)

        def bits(self, residual: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            """Per-sample bits of the residuals: shape (B,)."""
            return -torch.log2(self.likelihood(residual, sigma)).sum(dim=(1, 2, 3))

        @property
        def coding(self) -> IndexedGaussian:
            """The numpy model that codes with this table."""
            return IndexedGaussian(self.scale_table.cpu().numpy())

    twins = {"FactorizedPrior": FactorizedPrior, "GaussianIndexedEntropyModel": GaussianIndexedEntropyModel}
    for twin in twins.values():
        twin.__qualname__ = twin.__name__  # found by pickle (and named in messages) as a module-level class
    return twins
