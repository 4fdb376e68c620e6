"""The latent codec: how the latent y of the analysis transform becomes bits and back (CompressAI's
``latent_codecs``, tensorflow-compression's ``ms2020.py``).

``ChannelSliceLatentCodec`` is a mean-scale hyperprior (Ballé et al. 2018, Minnen et al. 2018) whose latent is
coded in channel slices with latent residual prediction (Minnen & Singh 2020):

    y --h_a--> z --round--> z_hat ==[FactorizedPrior: ZHYP]==> z_hat
                                                                 |
                                                     h_s (integer, exact)
                                                                 |
                                                               hyper
    y = y_0 .. y_S-1                                             |
    for slice i:   (mu_i, idx_i) = params_i(hyper, y_hat_0 .. y_hat_i-1)        (integer, exact)
                   sym_i = round(y_i - mu_i) ==[GaussianIndexed, scale_table[idx_i]: YLAT]==> sym_i
                   y_hat_i = sym_i + mu_i + lrp_i(hyper, y_hat_0 .. y_hat_i-1, sym_i + mu_i)   (integer, exact)
    y_hat = y_hat_0 .. y_hat_S-1

Everything that decides a coded probability (h_s, the slice networks, LRP, the z tables, the scale table) is an
integer network or table evaluated in float64 on the CPU, so encoder and decoder agree bit for bit on every machine,
thread count and device; this module is where ``docs/bitstream.md``'s "Model probability path" is implemented. Only
h_a, a float network that the decoder never runs, goes to the codec's device.

The two slice loops are the two faces of one computation: ``forward`` (training, real-valued, differentiable, rates
from noise or rounding) and ``compress``/``decompress`` (coding, fixed point, exact), which share ``_code_slices``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn

from .bitstream.entropy import symbol_checksum
from .config import ModelConfig
from .context import ChannelSliceContext
from .entropy_models import ONE, FactorizedPrior, GaussianIndexedEntropyModel, check_symbols
from .errors import FormatError
from .layers import INPUT_LIMIT, round_ste
from .progress import part, tick
from .tiling import tiled
from .timing import stage
from .transforms import hyper_analysis, hyper_synthesis

HYPER_STRIDE = 4  # h_a's stride relative to y
# Tiles and margins (in each network's input pixels) for bounded memory on big photos. Each margin covers the
# network's receptive-field radius: h_a 7 latent px, h_s under 2 z px, slice and LRP networks 2 latent px
# (tests/codec/test_tiling.py checks that tiled and whole-image results agree).
HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN = 128, 8
HYPER_TILE, HYPER_MARGIN = 32, 2
CONTEXT_TILE, CONTEXT_MARGIN = 64, 2
# The hyperprior's share (h_a, z coding, h_s) of the latents' coding time, for progress (aec.progress): about 26 of
# 309 ms encoding a Kodak image, 22 of 307 decoding (benchmarks/results/speed.md); the slices take the rest.
HYPER_SHARE = 0.08


# How the float pass rounds: values -> (values the rate is measured on, values the synthesis and context see).
Rounding = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class CodedLatents:
    """The entropy-coded payloads of one image and what the decoder needs to check them."""

    z_payload: bytes
    y_payload: bytes
    checksum: int
    estimated_bits: float


@dataclass(frozen=True)
class LatentRates:
    """Training's view of the latents: the y_hat the synthesis sees, and per-sample bits of y and z."""

    y_hat: torch.Tensor
    y_bits: torch.Tensor
    z_bits: torch.Tensor


class ChannelSliceLatentCodec(nn.Module):
    """See the module docstring."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        self.slices = c.slices
        self.latent_channels = c.M
        # Registration order matters: it is the parameter order of optimizer states in training checkpoints.
        self.h_a = hyper_analysis(c.M, c.N, c.Z)
        self.h_s = hyper_synthesis(c.Z, c.N, c.hyper_width)
        self.prior = FactorizedPrior(c.Z, c.z_support)
        self.context = ChannelSliceContext(c.M, c.slices, c.hyper_width, c.context_width)
        self.gaussian = GaussianIndexedEntropyModel(c.scale_levels, c.scale_low, c.scale_high)
        # An untrained h_a gives hyper-latents of std ~0.01, which all round to zero and leave h_s without
        # gradients at first: start them at std ~1. Start the predicted scales near sigma = 2, not at the floor.
        with torch.no_grad():
            self.h_a[-1].weight *= 10.0
            initial_index = self.gaussian.index_of(2.0)
            for net in self.context.params:
                net[-1].bias[net[-1].cout // 2:] = initial_index

    # ------------------------------------------------------------------------------------------------ training
    def forward(self, y: torch.Tensor, z: torch.Tensor | None = None, rounding: Rounding | None = None) -> LatentRates:
        """The float pass of the latents: training, validation, and encode-time refinement (``aec.refine``).

        ``rounding(values)`` gives (what the rate is measured on, what the synthesis and the context see). By
        default, in training: additive uniform noise for the rate and straight-through rounding for the rest, as in
        Minnen & Singh 2020; in eval mode rounding for both, as the coder does. ``z`` replaces h_a(y) (refinement
        optimises both).
        """
        rounding = rounding or self._default_rounding
        z = self.h_a(y).float() if z is None else z
        z_rate, z_hat = rounding(z)
        z_bits = self.prior.bits(z_rate)
        with torch.autocast(device_type=y.device.type, enabled=False):  # the integer path trains in float32
            hyper = self.h_s(z_hat.clamp(-INPUT_LIMIT / ONE, INPUT_LIMIT / ONE))
            y_hats: list[torch.Tensor] = []
            y_bits = torch.zeros(y.shape[0], device=y.device)
            for i, y_i in enumerate(y.chunk(self.slices, dim=1)):
                support = torch.cat([hyper, *y_hats], dim=1)
                mean, index = self.context.split_params(self.context.params[i](support))
                sigma = self.gaussian.training_scale(index)
                residual_rate, residual_hat = rounding(y_i - mean)
                y_bits = y_bits + self.gaussian.bits(residual_rate, sigma)
                y_hat = residual_hat + mean
                lrp = self.context.residuals[i](torch.cat([support, y_hat], dim=1))
                y_hats.append(y_hat + self.context.clamp_residual(lrp, exact=False))
        return LatentRates(torch.cat(y_hats, dim=1), y_bits, z_bits)

    def _default_rounding(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gaussian.quantize(values, noisy=self.training), round_ste(values)

    # -------------------------------------------------------------------------------------------------- coding
    @torch.no_grad()
    def freeze(self) -> None:
        """Fix the coding state from the float parameters: integer weights and the z tables."""
        for net in self.integer_networks():
            for layer in net:
                layer.freeze()
        self.prior.freeze()
        self.check_exact()

    def integer_networks(self) -> list[nn.Module]:
        return [self.h_s, *self.context.networks()]

    def check_exact(self) -> None:
        """Prove from the integer weights that no partial sum of the probability path can reach 2**53."""
        for net in self.integer_networks():
            net.check_exact(float(INPUT_LIMIT))

    def _hyper_features(self, z_symbols: torch.Tensor) -> torch.Tensor:
        z_int = (z_symbols.double() * ONE).clamp(-INPUT_LIMIT, INPUT_LIMIT)
        with stage("h_s"), part(HYPER_SHARE / 2, HYPER_SHARE):
            return tiled(self.h_s.forward_exact, z_int, HYPER_TILE, HYPER_MARGIN, HYPER_STRIDE)

    def _code_slices(self, hyper: torch.Tensor,
                     code_slice: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """The exact slice loop; ``code_slice(i, mean_fixed, index)`` codes (or decodes) slice i's symbols and
        returns them. Returns y_hat in fixed point (integer-valued float64, ``ONE`` per unit)."""
        with part(HYPER_SHARE, 1.0):
            return self._slice_loop(hyper, code_slice)

    def _slice_loop(self, hyper: torch.Tensor,
                    code_slice: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        context: list[torch.Tensor] = []
        y_hat_fixed: list[torch.Tensor] = []
        for i in range(self.slices):
            support = torch.cat([hyper, *context], dim=1)
            with stage("slice networks"), part(i / self.slices, (i + 0.5) / self.slices):
                params = tiled(self.context.params[i].forward_exact, support, CONTEXT_TILE, CONTEXT_MARGIN)
            mean_fixed, index_fixed = self.context.split_params(params)
            with stage("y coding"):
                symbols = code_slice(i, mean_fixed, self.gaussian.coding_index(index_fixed))
            y_fixed = symbols.double() * ONE + mean_fixed
            y_ctx = y_fixed.clamp(-INPUT_LIMIT, INPUT_LIMIT)
            with stage("slice networks"), part((i + 0.5) / self.slices, (i + 1) / self.slices):
                lrp = tiled(self.context.residuals[i].forward_exact, torch.cat([support, y_ctx], dim=1),
                            CONTEXT_TILE, CONTEXT_MARGIN)
            y_fixed = y_fixed + self.context.clamp_residual(lrp, exact=True)
            y_hat_fixed.append(y_fixed)
            context.append(y_fixed.clamp(-INPUT_LIMIT, INPUT_LIMIT))
            tick(i + 1, self.slices)
        return torch.cat(y_hat_fixed, dim=1)

    @torch.no_grad()
    def compress(self, y: torch.Tensor, z: torch.Tensor | None = None) -> CodedLatents:
        """Code y (1, M, h, w) on the CPU, with z = h_a(y) (h_a on its own device) unless a refined z is given.
        h and w must be multiples of 4."""
        if z is None:
            device = next(self.h_a.parameters()).device
            hyper_analysis = lambda piece: self.h_a(piece.to(device)).float().cpu()  # noqa: E731
            with stage("h_a"), part(0.0, HYPER_SHARE / 2):
                z = tiled(hyper_analysis, y, HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN, Fraction(1, HYPER_STRIDE))
        z_symbols = torch.floor(z.double() + 0.5)
        check_symbols(y)
        check_symbols(z_symbols)
        with stage("z coding"):
            z_payload, z_coded = self.prior.compress(z_symbols)
            z_bits = float(self.prior.table_bits(z_symbols.to(torch.int64)))

        encoder = self.gaussian.encoder()
        y_slices = y.chunk(self.slices, dim=1)
        coded: list[np.ndarray] = []
        y_bits = 0.0

        def code_slice(i: int, mean_fixed: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            nonlocal y_bits
            symbols = torch.floor(y_slices[i].double() - mean_fixed / ONE + 0.5)
            coded.append(self.gaussian.encode(encoder, symbols, index))
            y_bits += self.gaussian.table_bits(symbols, index)
            return symbols

        self._code_slices(self._hyper_features(z_symbols), code_slice)
        checksum = symbol_checksum(z_coded, *coded)
        return CodedLatents(z_payload, encoder.finish(), checksum, z_bits + y_bits)

    @torch.no_grad()
    def decompress(self, z_payload: bytes, y_payload: bytes, height: int, width: int,
                   checksum: int | None = None) -> torch.Tensor:
        """Decode the latent of (height, width) latent pixels (multiples of 4); returns y_hat (1, M, h, w) as
        float64 real values. A checksum mismatch (corrupt file, other weights) raises FormatError, and so does a
        payload too short for the symbols of this size (before any work in proportion to the size), or one with
        data after them."""
        decoder = self.gaussian.decoder(y_payload, name="the YLAT section")
        decoder.expect(self.latent_channels * height * width)
        with stage("z coding"):
            z_symbols, z_coded = self.prior.decompress(z_payload, height // HYPER_STRIDE, width // HYPER_STRIDE,
                                                       name="the ZHYP section")
        decoded: list[np.ndarray] = []

        def code_slice(i: int, mean_fixed: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            symbols = self.gaussian.decode(decoder, index)
            decoded.append(symbols)
            return torch.from_numpy(symbols.astype(np.float64))

        y_hat_fixed = self._code_slices(self._hyper_features(z_symbols), code_slice)
        decoder.finish()
        if checksum is not None and symbol_checksum(z_coded, *decoded) != checksum:
            raise FormatError("decoded symbols do not match the file's checksum: the file is corrupt or was "
                              "written with different model weights")
        return y_hat_fixed / ONE
