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
integer network or table, evaluated by ``aec.exact`` in numpy on the CPU (``exact_path()``), so encoder and decoder
agree bit for bit on every machine, thread count and device; the decoder (``aec.decoder``) runs the same code without
torch. Only h_a, a float network that the decoder never runs, goes to the codec's device.

The two slice loops are the two faces of one computation: ``forward`` (training, real-valued, differentiable, rates
from noise or rounding) and ``compress``/``decompress`` (coding, fixed point, exact: ``ExactLatentPath.code_slices``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn as nn

from .architecture import Layer
from .config import ModelConfig
from .context import ChannelSliceContext
from .channel_slice import HYPER_ANALYSIS_MARGIN, HYPER_ANALYSIS_TILE
from .entropy_models import FactorizedPrior, GaussianIndexedEntropyModel
from .exact import HYPER_SHARE, HYPER_STRIDE, INPUT_LIMIT, ONE, CodedLatents, ExactLatentPath
from .layers import round_ste
from .progress import part
from .tiling import tiled
from .timing import stage
from .transforms import hyper_analysis, hyper_synthesis



# How the float pass rounds: values -> (values the rate is measured on, values the synthesis and context see).
Rounding = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class LatentRates:
    """Training's view of the latents: the y_hat the synthesis sees, and per-sample bits of y and z."""

    y_hat: torch.Tensor
    y_bits: torch.Tensor
    z_bits: torch.Tensor


class ChannelSliceLatentCodec(nn.Module):
    """See the module docstring."""

    def __init__(self, config: ModelConfig, hyper_layers: Sequence[Layer] | None = None):
        """``hyper_layers``: h_s's layer list when the architecture narrows it (``aec.light``)."""
        super().__init__()
        c = config
        self.slices = c.slices
        self.latent_channels = c.M
        # Registration order matters: it is the parameter order of optimizer states in training checkpoints.
        self.h_a = hyper_analysis(c)
        self.h_s = hyper_synthesis(c, hyper_layers)
        self.prior = FactorizedPrior(c.Z, c.z_support)
        self.context = ChannelSliceContext(c)
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
                if len(self.context.residuals):
                    lrp = self.context.residuals[i](torch.cat([support, y_hat], dim=1))
                    y_hat = y_hat + self.context.clamp_residual(lrp)
                y_hats.append(y_hat)
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
        self._exact = None
        self.check_exact()

    def integer_networks(self) -> list[nn.Module]:
        return [self.h_s, *self.context.networks()]

    def exact_path(self) -> ExactLatentPath:
        """The frozen probability path as the coder runs it (``aec.exact``), built once from the integer buffers."""
        if getattr(self, "_exact", None) is None:
            self._exact = ExactLatentPath(self.h_s.exact(), [net.exact() for net in self.context.params],
                                          [net.exact() for net in self.context.residuals],
                                          self.gaussian.coding, self.prior.coding)
        return self._exact

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._exact = None  # new integer weights: the exact path is rebuilt on next use

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_exact": None}  # a copy (the trainer's EMA) rebuilds its own coder state

    def check_exact(self) -> None:
        """Prove from the integer weights that no partial sum of the probability path can reach 2**53."""
        for net in self.integer_networks():
            net.check_exact()

    @torch.no_grad()
    def compress(self, y: torch.Tensor, z: torch.Tensor | None = None) -> CodedLatents:
        """Code y (1, M, h, w) on the CPU, with z = h_a(y) (h_a on its own device) unless a refined z is given, by
        ``ExactLatentPath.encode`` (the coding that the torch-free encoder runs too). h and w must be multiples of
        4."""
        if z is None:
            device = next(self.h_a.parameters()).device
            hyper_analysis = lambda piece: self.h_a(piece.to(device)).float().cpu()  # noqa: E731
            with stage("h_a"), part(0.0, HYPER_SHARE / 2):
                z = tiled(hyper_analysis, y, HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN, Fraction(1, HYPER_STRIDE))
        return self.exact_path().encode(y[0].double().numpy(), z[0].double().numpy())

    @torch.no_grad()
    def decompress(self, z_payload: bytes, y_payload: bytes, height: int, width: int,
                   checksum: int | None = None) -> torch.Tensor:
        """Decode the latent of (height, width) latent pixels (multiples of 4); returns y_hat (1, M, h, w) as
        float64 real values; FormatError for a corrupt payload (``ExactLatentPath.decode``)."""
        y_hat = self.exact_path().decode(z_payload, y_payload, height, width, checksum)
        return torch.from_numpy(y_hat).unsqueeze(0)
