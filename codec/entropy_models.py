"""Entropy models: how one tensor of latents is priced in training and coded to bytes.

Two models, each owning everything between "these are the latents" and "these are the bits":

- ``FactorizedPrior`` (z): the per-channel monotone CDF network of Ballé et al. 2018 (appendix 6.1). Trained as a
  density; for coding it is frozen once into integer frequency tables over a fixed support plus an escape bin
  (``freeze``), which ship in the model file. No auxiliary quantile loss: the support is fixed, the tables are read
  off the CDF, values outside the support are escape-coded.
- ``GaussianIndexedEntropyModel`` (y): a zero-mean quantized Gaussian on the residual ``round(y - mu)``, whose
  scale is one of a fixed log-spaced table (tensorflow-compression's ``LocationScaleIndexedEntropyModel``,
  CompressAI's ``GaussianConditional``). It owns the table, the rounding of a predicted index to a table entry,
  quantization, the likelihood, the bit estimate and the range coding. The decoder only ever sees table entries,
  so encoder and decoder build identical coding distributions.

Neither knows anything about images, slices or networks (see ``latent_codecs.py``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .bitstream.entropy import CategoricalTables, SymbolDecoder, SymbolEncoder
from .bitstream.tables import pmf_to_counts, scale_table
from .errors import InputError
from .layers import round_ste

LIKELIHOOD_FLOOR = 1e-9
TABLE_PRECISION = 16
ESCAPE_BITS = 32.0  # an escaped z costs its escape bin plus two 16-bit digits
SYMBOL_LIMIT = 1 << 30  # larger symbols mean the image drove the model out of its numeric range


def check_symbols(symbols: torch.Tensor) -> None:
    """Refuse symbols that no honest image produces: not finite, or too large for the coder's int32."""
    if symbols.numel() and not (torch.isfinite(symbols).all() and symbols.abs().max() < SYMBOL_LIMIT):
        raise InputError("the image drives the model out of its numeric range; it cannot be coded")


class FactorizedPrior(nn.Module):
    """A learned, per-channel, non-parametric density for z (filters 3-3-3, as in Ballé et al. 2018)."""

    def __init__(self, channels: int, support: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0):
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
        self._tables: CategoricalTables | None = None

    # ------------------------------------------------------------------------------------------------ training
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

    # -------------------------------------------------------------------------------------------------- coding
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
        self._tables = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._tables = None  # new counts: the coding tables are rebuilt on next use

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tables": None}  # constriction's models do not pickle; a copy rebuilds them

    @property
    def tables(self) -> CategoricalTables:
        """The frozen tables as the range coder's categorical models (built once, on first use)."""
        if self._tables is None:
            self._tables = CategoricalTables(self.counts.cpu().numpy().astype(np.int64),
                                             self.offsets.cpu().numpy().astype(np.int64))
        return self._tables

    def table_bits(self, z_symbols: torch.Tensor) -> torch.Tensor:
        """Bits the frozen tables spend on integer z (escapes priced at their 32 extra bits)."""
        counts = self.counts.double()
        total = counts.sum(dim=1, keepdim=True)
        index = z_symbols.long() - self.offsets.view(1, -1, 1, 1).long()
        escape = (index < 0) | (index > counts.shape[1] - 2)
        index = torch.where(escape, torch.full_like(index, counts.shape[1] - 1), index)
        b, c, h, w = index.shape
        gathered = torch.gather(counts.unsqueeze(0).expand(b, -1, -1), 2, index.reshape(b, c, -1))
        bits = -torch.log2(gathered / total.unsqueeze(0))
        return bits.sum() + ESCAPE_BITS * escape.sum()

    def compress(self, z_symbols: torch.Tensor) -> tuple[bytes, np.ndarray]:
        """Range-code integer z (1, C, h, w); returns the payload and the coded symbols as (C, h*w) int32."""
        check_symbols(z_symbols)
        symbols = z_symbols.to(torch.int32).numpy()[0].reshape(self.channels, -1)
        encoder = SymbolEncoder()
        encoder.encode_categorical(symbols, self.tables)
        return encoder.finish(), symbols

    def decompress(self, payload: bytes, height: int, width: int, *,
                   name: str = "entropy-coded data") -> tuple[torch.Tensor, np.ndarray]:
        """Decode z of (height, width); returns it as (1, C, h, w) int64 and the symbols as coded. FormatError if
        the payload (called ``name`` in messages) is too short for them or holds more."""
        decoder = SymbolDecoder(payload, name=name)
        symbols = decoder.decode_categorical(self.tables, height * width)
        decoder.finish()
        return torch.from_numpy(symbols.astype(np.int64)).view(1, self.channels, height, width), symbols


class GaussianIndexedEntropyModel(nn.Module):
    """Zero-mean quantized Gaussians whose scales are entries of a fixed log-spaced table.

    Training prices ``y - mu`` (plus uniform noise, or rounded in eval) under the Gaussian of the table entry nearest
    to the predicted index; coding range-codes ``round(y - mu)`` with that entry. The table ships in the model file.
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

    # ------------------------------------------------------------------------------------------------ training
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
        """Mass of [r - 1/2, r + 1/2] under a zero-mean Gaussian of scale sigma (symmetric, tail-accurate form)."""
        r = residual.abs()
        upper = torch.special.ndtr((0.5 - r) / sigma)
        lower = torch.special.ndtr((-0.5 - r) / sigma)
        return (upper - lower).clamp(min=LIKELIHOOD_FLOOR)

    def bits(self, residual: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Per-sample bits of the residuals: shape (B,)."""
        return -torch.log2(self.likelihood(residual, sigma)).sum(dim=(1, 2, 3))

    # -------------------------------------------------------------------------------------------------- coding
    def table_bits(self, symbols: torch.Tensor, index: torch.Tensor) -> float:
        """Bits the coder's model assigns to integer symbols under table entries ``index``."""
        sigma = self.scale_table[index]
        return float(-torch.log2(self.likelihood(symbols, sigma)).sum())

    def encoder(self) -> SymbolEncoder:
        return SymbolEncoder(self.scale_table.cpu().numpy())

    def decoder(self, payload: bytes, *, name: str = "entropy-coded data") -> SymbolDecoder:
        return SymbolDecoder(payload, self.scale_table.cpu().numpy(), name=name)

    @staticmethod
    def encode(encoder: SymbolEncoder, symbols: torch.Tensor, index: torch.Tensor) -> np.ndarray:
        """Code one block of integer symbols (float64 tensor) with table entries ``index``; returns them as int32."""
        check_symbols(symbols)
        symbols_np = symbols.to(torch.int32).numpy()
        encoder.encode_gaussian(symbols_np, index.numpy())
        return symbols_np

    @staticmethod
    def decode(decoder: SymbolDecoder, index: torch.Tensor) -> np.ndarray:
        """Decode one block coded with ``encode`` under the same indexes; int32 shaped like index."""
        return decoder.decode_gaussian(index.numpy())
