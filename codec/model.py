"""The aec model: a variable-rate mean-scale hyperprior with a channel-slice context and an exact probability path.

References: Ballé et al. 2018 (hyperprior), Minnen et al. 2018 (mean-scale), Minnen & Singh 2020 (channel
slices with latent residual prediction), Cui et al. 2021 (gain units for variable rate), Ballé et al. 2019
(integer networks).

    x --g_a--> y * gain[q] --h_a--> z --round--> z_hat ==ZHYP==> z_hat
                  |                                                |
                  |                                   h_s (integer, exact)
                  |                                                |
                  +--> slices y_0..y_S-1, each coded as round(y_i - mu_i) with scale index idx_i
                       (mu_i, idx_i) = params_i(hyper, y_hat_<i)  (integer, exact)   ==YLAT==>
                       y_hat_i = sym + mu_i + lrp_i(hyper, y_hat_<=i)
    y_hat / gain[q] --g_s--> x_hat

Everything that decides a coded probability (h_s, the slice networks, LRP) is an integer network evaluated in
float64 on the CPU, so encoder and decoder agree bit for bit on every machine; g_a, h_a and g_s are ordinary
float networks.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .errors import FormatError, InputError
from .bitstream.entropy import CategoricalTables, SymbolDecoder, SymbolEncoder, symbol_checksum
from .bitstream.tables import scale_table

from .config import ModelConfig
from .context import ChannelSliceContext
from .entropy_models import FactorizedPrior, gaussian_likelihood
from .layers import FRAC_BITS, INPUT_LIMIT, round_ste
from .tiling import tiled
from .transforms import analysis, hyper_analysis, hyper_synthesis, synthesis

STRIDE = 64  # total stride of g_a followed by h_a: images are padded to a multiple of it
ONE = 1 << FRAC_BITS
SYMBOL_LIMIT = 1 << 30
# Coding runs the networks in overlapping tiles (sizes in each network's input pixels) so that memory stays bounded
# on big photos. Each margin covers the network's receptive-field radius: g_a 30 px, h_a 7 latent px, g_s under 2
# latent px, h_s under 2 z px, slice and LRP networks 2 latent px (tests/codec/test_tiling.py checks the result).
ANALYSIS_TILE, ANALYSIS_MARGIN = 512, 32
HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN = 128, 8
SYNTHESIS_TILE, SYNTHESIS_MARGIN = 24, 2
HYPER_TILE, HYPER_MARGIN = 32, 2
CONTEXT_TILE, CONTEXT_MARGIN = 64, 2


@dataclass(frozen=True)
class CodedLatents:
    """The entropy-coded payloads of one image and what the decoder needs to check them."""

    z_payload: bytes
    y_payload: bytes
    checksum: int
    estimated_bits: float


class AECModel(nn.Module):
    """See the module docstring."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.g_a = analysis(c.N, c.M)
        self.g_s = synthesis(c.N, c.M)
        self.h_a = hyper_analysis(c.M, c.N, c.Z)
        self.h_s = hyper_synthesis(c.Z, c.N, c.hyper_width)
        self.prior = FactorizedPrior(c.Z, c.z_support)
        self.context = ChannelSliceContext(c.M, c.slices, c.hyper_width, c.context_width)
        # Gain units: quantization is finer at higher quality; lambda ~ step^-2 suggests gain ~ sqrt(lambda).
        lambdas = torch.tensor(c.lambdas, dtype=torch.float32)
        log_gain = 0.5 * torch.log(lambdas / lambdas.max())
        self.log_gains = nn.Parameter(log_gain.view(-1, 1).repeat(1, c.M))
        self.log_inverse_gains = nn.Parameter(-log_gain.view(-1, 1).repeat(1, c.M))
        self.register_buffer("scale_table", torch.from_numpy(
            scale_table(c.scale_levels, c.scale_low, c.scale_high)).double())
        self._log_low = math.log(c.scale_low)
        self._log_step = (math.log(c.scale_high) - math.log(c.scale_low)) / (c.scale_levels - 1)
        # A default-initialised g_a gives latents of std ~0.05 and h_a hyper-latents of ~0.01: they would all
        # round to zero, leaving g_s and h_s without gradients at first. Start them at std ~1 instead.
        with torch.no_grad():
            self.g_a[-1].weight *= 20.0
            self.h_a[-1].weight *= 10.0
        # Start the predicted scales near sigma = 2 rather than at the floor.
        initial_index = (math.log(2.0) - self._log_low) / self._log_step
        for net in self.context.params:
            with torch.no_grad():
                net[-1].bias[net[-1].cout // 2:] = initial_index
        self._tables: CategoricalTables | None = None
        self._g_s64: nn.Module | None = None

    # ----------------------------------------------------------------------------------------------- rate control
    def gains(self, quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample gain and inverse gain (B, M), log-linearly interpolated between trained qualities."""
        count = len(self.config.lambdas)
        position = (quality.float() - 1).clamp(0, count - 1)
        low = position.floor().long().clamp(max=count - 1)
        high = (low + 1).clamp(max=count - 1)
        t = (position - low.float()).unsqueeze(1)
        gain = torch.exp(self.log_gains[low] * (1 - t) + self.log_gains[high] * t)
        inverse = torch.exp(self.log_inverse_gains[low] * (1 - t) + self.log_inverse_gains[high] * t)
        return gain, inverse

    def lambdas_for(self, quality: torch.Tensor) -> torch.Tensor:
        """Lambda per sample for integer qualities (the training targets)."""
        table = torch.tensor(self.config.lambdas, device=quality.device)
        return table[(quality.long() - 1).clamp(0, len(table) - 1)]

    # ------------------------------------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training/validation pass. Returns x_hat and per-sample bits of y and z.

        In training, rates use additive uniform noise; the reconstruction and the context use rounded latents
        (straight-through), as in Minnen & Singh 2020. In eval mode both use rounding, as the coder does.
        """
        gain, inverse_gain = self.gains(quality)
        y = self.g_a(x).float() * gain[:, :, None, None]
        z = self.h_a(y).float()
        noisy = self.training
        z_tilde = z + torch.empty_like(z).uniform_(-0.5, 0.5) if noisy else torch.floor(z + 0.5)
        z_bits = -torch.log2(self.prior.likelihood(z_tilde)).sum(dim=(1, 2, 3))
        z_hat = round_ste(z).clamp(-INPUT_LIMIT / ONE, INPUT_LIMIT / ONE)
        with torch.autocast(device_type=x.device.type, enabled=False):
            hyper = self.h_s(z_hat)
            y_hats: list[torch.Tensor] = []
            y_bits = torch.zeros(x.shape[0], device=x.device)
            for i, y_i in enumerate(y.chunk(self.config.slices, dim=1)):
                support = torch.cat([hyper, *y_hats], dim=1)
                mean, index = self.context.split_params(self.context.params[i](support))
                index = index + (index.clamp(0, self.config.scale_levels - 1) - index).detach()
                sigma = torch.exp(self._log_low + round_ste(index) * self._log_step)
                if noisy:
                    residual = y_i - mean + torch.empty_like(y_i).uniform_(-0.5, 0.5)
                else:
                    residual = torch.floor(y_i - mean + 0.5)
                y_bits = y_bits - torch.log2(gaussian_likelihood(residual, sigma)).sum(dim=(1, 2, 3))
                y_hat = round_ste(y_i - mean) + mean
                lrp = self.context.residuals[i](torch.cat([support, y_hat], dim=1))
                y_hats.append(y_hat + self.context.clamp_residual(lrp, exact=False))
        y_hat = torch.cat(y_hats, dim=1)
        x_hat = self.g_s(y_hat * inverse_gain[:, :, None, None])
        return {"x_hat": x_hat, "y_bits": y_bits, "z_bits": z_bits}

    # -------------------------------------------------------------------------------------------------- coding
    @torch.no_grad()
    def freeze(self) -> None:
        """Fix the coding state from the float parameters: integer weights and the z tables."""
        for net in [self.h_s, *self.context.networks()]:
            for layer in net:
                layer.freeze()
        self.prior.freeze()
        self._tables = None
        self._g_s64 = None
        self.check_exact()

    def check_exact(self) -> None:
        """Prove from the integer weights that no partial sum of the probability path can reach 2**53."""
        for net in [self.h_s, *self.context.networks()]:
            net.check_exact(float(INPUT_LIMIT))

    @property
    def tables(self) -> CategoricalTables:
        if self._tables is None:
            self._tables = CategoricalTables(self.prior.counts.numpy().astype(np.int64),
                                             self.prior.offsets.numpy().astype(np.int64))
        return self._tables

    def _scale_index(self, index_int: torch.Tensor) -> torch.Tensor:
        index = torch.floor((index_int + ONE // 2) / ONE)
        return index.clamp(0, self.config.scale_levels - 1).to(torch.int64)

    def _slices(self, hyper: torch.Tensor, code_slice) -> torch.Tensor:
        """Run the context model slice by slice; ``code_slice(i, mean_int, index)`` returns the symbols."""
        context: list[torch.Tensor] = []
        y_hat_int: list[torch.Tensor] = []
        for i in range(self.config.slices):
            support = torch.cat([hyper, *context], dim=1)
            params = tiled(self.context.params[i].forward_exact, support, CONTEXT_TILE, CONTEXT_MARGIN)
            mean_int, index_int = self.context.split_params(params)
            symbols = code_slice(i, mean_int, self._scale_index(index_int))
            y_int = symbols.double() * ONE + mean_int
            y_ctx = y_int.clamp(-INPUT_LIMIT, INPUT_LIMIT)
            lrp = tiled(self.context.residuals[i].forward_exact, torch.cat([support, y_ctx], dim=1),
                        CONTEXT_TILE, CONTEXT_MARGIN)
            y_int = y_int + self.context.clamp_residual(lrp, exact=True)
            y_hat_int.append(y_int)
            context.append(y_int.clamp(-INPUT_LIMIT, INPUT_LIMIT))
        return torch.cat(y_hat_int, dim=1)

    def _hyper(self, z_symbols: torch.Tensor) -> torch.Tensor:
        z_int = (z_symbols.double() * ONE).clamp(-INPUT_LIMIT, INPUT_LIMIT)
        return tiled(self.h_s.forward_exact, z_int, HYPER_TILE, HYPER_MARGIN, 4)

    def _synthesize(self, y_hat_int: torch.Tensor, quality: float, device: torch.device) -> torch.Tensor:
        """g_s on the decoded latent. On the CPU it runs in float64, which measured bit-identical across thread
        counts and memory formats (float32 convolutions are not: a few pixels flip by one level)."""
        _, inverse_gain = self.gains(torch.tensor([quality]))
        y_hat = (y_hat_int / ONE) * inverse_gain.double()[:, :, None, None]
        if device.type == "cpu":
            if self._g_s64 is None:
                self._g_s64 = copy.deepcopy(self.g_s).double().eval()
            return tiled(self._g_s64, y_hat, SYNTHESIS_TILE, SYNTHESIS_MARGIN, 16).float().clamp(0, 1)
        synthesis = lambda part: self.g_s(part.float().to(device)).float().cpu()  # noqa: E731
        return tiled(synthesis, y_hat, SYNTHESIS_TILE, SYNTHESIS_MARGIN, 16).clamp(0, 1)

    @torch.no_grad()
    def compress(self, x: torch.Tensor, quality: float) -> CodedLatents:
        """x: (1, 3, H, W), float in [0, 1] or uint8, with H, W multiples of 64 (on any device)."""
        device = next(self.parameters()).device
        gain, _ = self.gains(torch.tensor([quality]))

        def analysis(part: torch.Tensor) -> torch.Tensor:
            part = part.to(device)
            part = part.float().div(255) if part.dtype == torch.uint8 else part.float()
            return self.g_a(part).float().cpu()

        y = tiled(analysis, x, ANALYSIS_TILE, ANALYSIS_MARGIN, Fraction(1, 16)) * gain[:, :, None, None]
        hyper_analysis = lambda part: self.h_a(part.to(device)).float().cpu()  # noqa: E731
        z = tiled(hyper_analysis, y, HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN, Fraction(1, 4))
        z_symbols = torch.floor(z.double() + 0.5)
        if not torch.isfinite(y).all() or z_symbols.abs().max() >= SYMBOL_LIMIT:
            raise InputError("the image drives the model out of its numeric range; it cannot be coded")
        z_np = z_symbols.to(torch.int32).numpy()[0].reshape(self.config.Z, -1)
        z_encoder = SymbolEncoder()
        z_encoder.encode_categorical(z_np, self.tables)
        z_bits = float(self.prior.table_bits(z_symbols.to(torch.int64)))

        y_encoder = SymbolEncoder(self.scale_table.numpy())
        y_slices = y.chunk(self.config.slices, dim=1)
        coded: list[np.ndarray] = []
        y_bits = 0.0

        def code_slice(i: int, mean_int: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            nonlocal y_bits
            symbols = torch.floor(y_slices[i].double() - mean_int / ONE + 0.5)
            if symbols.abs().max() >= SYMBOL_LIMIT:
                raise InputError("the image drives the model out of its numeric range; it cannot be coded")
            symbols_np = symbols.to(torch.int32).numpy()
            y_encoder.encode_gaussian(symbols_np, index.numpy())
            coded.append(symbols_np)
            sigma = self.scale_table[index]
            y_bits += float(-torch.log2(gaussian_likelihood(symbols, sigma)).sum())
            return symbols

        self._slices(self._hyper(z_symbols), code_slice)
        checksum = symbol_checksum(z_np, *coded)
        return CodedLatents(z_encoder.finish(), y_encoder.finish(), checksum, z_bits + y_bits)

    @torch.no_grad()
    def decompress(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
                   checksum: int | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        """Decode padded dimensions (height, width multiples of 64) back to a (1, 3, H, W) image in [0, 1]."""
        zh, zw = height // STRIDE, width // STRIDE
        z_decoder = SymbolDecoder(z_payload)
        z_np = z_decoder.decode_categorical(self.tables, zh * zw)
        z_symbols = torch.from_numpy(z_np.astype(np.int64)).view(1, self.config.Z, zh, zw)
        y_decoder = SymbolDecoder(y_payload, self.scale_table.numpy())
        decoded: list[np.ndarray] = []

        def code_slice(i: int, mean_int: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            symbols_np = y_decoder.decode_gaussian(index.numpy())
            decoded.append(symbols_np)
            return torch.from_numpy(symbols_np.astype(np.float64))

        y_hat_int = self._slices(self._hyper(z_symbols), code_slice)
        if checksum is not None and symbol_checksum(z_np, *decoded) != checksum:
            raise FormatError("decoded symbols do not match the file's checksum: the file is corrupt or was "
                              "written with different model weights")
        return self._synthesize(y_hat_int, quality, torch.device(device))
