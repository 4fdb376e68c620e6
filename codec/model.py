"""The aec model: a variable-rate autoencoder whose latent is coded by a channel-slice hyperprior latent codec.

References: Ballé et al. 2018 (hyperprior), Minnen et al. 2018 (mean-scale), Minnen & Singh 2020 (channel
slices with latent residual prediction), Cui et al. 2021 (gain units for variable rate), Ballé et al. 2019
(integer networks).

    x --g_a--> y --* gain[q]--> [latent codec: ZHYP, YLAT] --> y_hat --* inverse_gain[q]--> --g_s--> x_hat

g_a and g_s are ordinary float networks (on the codec's device); the latent codec (``latent_codecs.py``) holds the
hyperprior, the slice context and the entropy models, and everything in it that decides a coded probability is
exact on the CPU. The gains let one model cover every quality, with log-linear interpolation in between.
"""

from __future__ import annotations

from fractions import Fraction

import torch
import torch.nn as nn

from .channel_slice import (ANALYSIS_MARGIN, ANALYSIS_TILE, CHANNEL_SLICE, DECODE_MS, ENCODE_MS, FILE_PREFIXES,
                            LATENT_STRIDE, REFINEMENT_STEP_MS, STRIDE, SYNTHESIS_MARGIN, SYNTHESIS_TILE,
                            ChannelSliceArchitecture, Decoder, Encoder)
from .conditional import modulated_widths
from .config import ModelConfig
from .layers import GDN
from .latent_codecs import ChannelSliceLatentCodec, CodedLatents, Rounding
from .progress import part, shares
from .refine import refine_latents
from .tiling import tiled
from .timing import stage
from .transforms import analysis, synthesis

__all__ = ["AECModel", "CodedLatents", "STRIDE"]


class AECModel(nn.Module):
    """See the module docstring. ``config`` sizes the networks and holds the quality table. The torch training
    module of ``aec.channel_slice``'s architecture, which owns the layers and the model files' tensor names (both
    layouts of them load: see ``FILE_PREFIXES``)."""

    architecture = CHANNEL_SLICE.name
    stride = STRIDE

    def __init__(self, config: ModelConfig, entry: ChannelSliceArchitecture = CHANNEL_SLICE):
        """``entry``: the architecture (``aec.channel_slice``'s, or one built on it that changes g_s: ``aec.light``)."""
        super().__init__()
        self.config, self.entry, self.architecture = config, entry, entry.name
        c = config
        # Registration order matters: it is the parameter order of optimizer states in training checkpoints.
        self.g_a = analysis(c, entry.analysis_layers(c))
        self.g_s = synthesis(c, entry.synthesis_layers(c))
        self.latent_codec = ChannelSliceLatentCodec(c, entry.hyper_synthesis_layers(c))
        # Gain units: quantization is finer at higher quality; lambda ~ step^-2 suggests gain ~ sqrt(lambda).
        lambdas = torch.tensor(c.lambdas, dtype=torch.float32)
        log_gain = 0.5 * torch.log(lambdas / lambdas.max())
        self.log_gains = nn.Parameter(log_gain.view(-1, 1).repeat(1, c.M))
        self.log_inverse_gains = nn.Parameter(-log_gain.view(-1, 1).repeat(1, c.M))
        # A default-initialised g_a gives latents of std ~0.05: they would all round to zero, leaving g_s without
        # gradients at first. Start them at std ~1 instead.
        with torch.no_grad():
            self.g_a[-1].weight *= 20.0
        self.register_load_state_dict_pre_hook(_accept_file_layout)

    # ----------------------------------------------------------------------------------------------- rate control
    def gains(self, quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample gain and inverse gain (B, M) at model qualities, log-linear between the trained ones with the
        weights ``ModelConfig.interpolation`` gives each (the numpy coders' ``ModelConfig.interpolated`` too)."""
        low, high, below, above = self.interpolation(quality)
        gain = torch.exp(self.log_gains[low] * below + self.log_gains[high] * above)
        inverse = torch.exp(self.log_inverse_gains[low] * below + self.log_inverse_gains[high] * above)
        return gain, inverse

    def interpolation(self, quality: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per sample, the rows of a per-quality table to mix and their (B, 1) weights: (low, high, below, above),
        ``ModelConfig.interpolation``'s, on the gains' device."""
        device = self.log_gains.device
        low, high, t = zip(*(self.config.interpolation(q) for q in quality.tolist()))
        low, high = torch.tensor(low, device=device), torch.tensor(high, device=device)
        below = torch.tensor([1 - w for w in t], dtype=torch.float32, device=device).unsqueeze(1)
        above = torch.tensor(t, dtype=torch.float32, device=device).unsqueeze(1)
        return low, high, below, above

    def analyze(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """g_a at the samples' model qualities (which only ``ConditionalModel``'s depends on)."""
        return self.g_a(x)

    def synthesize(self, y: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """g_s at the samples' model qualities (which only ``ConditionalModel``'s depends on)."""
        return self.g_s(y)

    def lambdas_for(self, quality: torch.Tensor) -> torch.Tensor:
        """Lambda per sample for integer qualities (the training targets)."""
        table = torch.tensor(self.config.lambdas, device=quality.device)
        return table[(quality.long() - 1).clamp(0, len(table) - 1)]

    # ------------------------------------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, quality: torch.Tensor, rounding: Rounding | None = None) -> dict[str, torch.Tensor]:
        """Training/validation pass: x_hat and per-sample bits of y and z (see ChannelSliceLatentCodec.forward, which
        takes the rounding)."""
        gain, inverse_gain = self.gains(quality)
        y = self.analyze(x, quality).float() * gain[:, :, None, None]
        latents = self.latent_codec(y, rounding=rounding)
        x_hat = self.synthesize(latents.y_hat * inverse_gain[:, :, None, None], quality)
        return {"x_hat": x_hat, "y_bits": latents.y_bits, "z_bits": latents.z_bits}

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The parameters only the encoder uses (g_a, h_a, the gains): training them alone leaves every decoded
        file as it was, so a model trained so decodes with its parent's decoder."""
        return [*self.g_a.parameters(), *self.latent_codec.h_a.parameters(), self.log_gains]

    def synthesis_parameters(self) -> list[nn.Parameter]:
        """g_s and the inverse gains: training them alone leaves every file's bytes as they were (a new synthesis
        learns from a trained model's own latents: ``aec.light``)."""
        return [*self.g_s.parameters(), self.log_inverse_gains]

    # -------------------------------------------------------------------------------------------------- coding
    def place(self, device: torch.device | str) -> "AECModel":
        """Put the float transforms (g_a, h_a, g_s) on ``device``, g_s in channels_last; the exact probability path
        stays on the CPU. (g_a and h_a keep their layout: channels_last measured no faster for them here, and
        their float results decide the symbols, so files stay byte-identical to earlier releases.)"""
        device = torch.device(device)
        for network in (self.g_a, self.latent_codec.h_a):
            network.to(device)
        self.g_s.to(device=device, memory_format=torch.channels_last)
        return self

    @property
    def device(self) -> torch.device:
        """Where the float transforms run."""
        return next(self.g_a.parameters()).device

    @torch.no_grad()
    def freeze(self) -> None:
        """Fix the coding state from the float parameters: integer weights and the z tables."""
        self.latent_codec.freeze()

    def decoder(self) -> Decoder:
        """The torch-free decoder of this model's frozen state, as its model file would give it."""
        tensors = {key: value.detach().cpu().numpy() for key, value in self.file_state_dict().items()}
        return self.entry.decoder(self.config, tensors, latents=self.latent_codec.exact_path())

    def encoder(self) -> Encoder:
        """The torch-free one-pass encoder of these weights, sharing this model's exact path."""
        tensors = {key: value.detach().cpu().numpy() for key, value in self.file_state_dict().items()}
        return self.entry.encoder(self.config, tensors, self.decoder())

    def check_exact(self) -> None:
        self.latent_codec.check_exact()

    @staticmethod
    def file_key(name: str) -> str:
        """A tensor's name in this architecture's model files."""
        for old, new in FILE_PREFIXES:
            if name.startswith(new):
                return old + name[len(new):]
        return name

    def file_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict with the tensor names of this architecture's model files."""
        return {self.file_key(key): value for key, value in self.state_dict().items()}

    def _synthesize(self, y_hat: torch.Tensor, quality: float) -> torch.Tensor:
        """g_s on the decoded latent (float64, real units), in float32 and channels_last on g_s's device.

        Not part of the bitstream's contract (docs/bitstream.md): the symbols are exact everywhere, the pixels may
        differ by one level at rare positions between CPUs (they measured identical for 1 and 2 threads and both
        memory formats here; against the float64 synthesis of aec 0.1, 0.001 % of values differ, by one level). The
        API decodes with ``aec.decoder`` instead, which needs no torch; this one runs g_s on the model's device.
        """
        at = torch.tensor([quality], device=self.log_gains.device)
        _, inverse_gain = self.gains(at)
        y_hat = (y_hat * inverse_gain.double().cpu()[:, :, None, None]).float()
        device = next(self.g_s.parameters()).device

        def synthesis(piece: torch.Tensor) -> torch.Tensor:
            return self.synthesize(piece.to(device).contiguous(memory_format=torch.channels_last), at).float().cpu()

        with stage("g_s"), part(*shares(DECODE_MS)["g_s"]):
            return tiled(synthesis, y_hat, SYNTHESIS_TILE, SYNTHESIS_MARGIN, LATENT_STRIDE).clamp(0, 1)

    @torch.no_grad()
    def compress(self, x: torch.Tensor, quality: float, iterations: int = 0,
                 valid: tuple[int, int] | None = None) -> CodedLatents:
        """x: (1, 3, H, W) on the CPU, float in [0, 1] or uint8, with H, W multiples of 64. The float transforms
        run tile by tile on the model's device, the latent codec on the CPU.

        Args:
            iterations: refinement steps of the latents before coding (``aec.refine``); 0 codes g_a's latent.
            valid: the image's own (height, width) inside the padding, for the refinement's distortion.
        """
        device = self.device
        at = torch.tensor([quality], device=self.log_gains.device)
        gain, _ = self.gains(at)
        parts = shares({"g_a": ENCODE_MS["g_a"], "refinement": iterations * REFINEMENT_STEP_MS,
                        "latents": ENCODE_MS["latents"]})

        def analysis(piece: torch.Tensor) -> torch.Tensor:
            piece = piece.to(device)
            piece = piece.float().div(255) if piece.dtype == torch.uint8 else piece.float()
            return self.analyze(piece, at).float().cpu()

        with stage("g_a"), part(*parts["g_a"]):
            y = tiled(analysis, x, ANALYSIS_TILE, ANALYSIS_MARGIN, Fraction(1, LATENT_STRIDE))
        y = y * gain.cpu()[:, :, None, None]
        z = None
        if iterations:
            with stage("refinement"), part(*parts["refinement"]), torch.enable_grad():
                y, z = refine_latents(self, x, y, quality, iterations, valid)
        with part(*parts["latents"]):
            return self.latent_codec.compress(y, z)

    @torch.no_grad()
    def decompress(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
                   checksum: int | None = None) -> torch.Tensor:
        """Decode padded dimensions (height, width multiples of 64) back to a (1, 3, H, W) CPU image in [0, 1]."""
        with part(*shares(DECODE_MS)["latents"]):
            y_hat = self.latent_codec.decompress(z_payload, y_payload, height // LATENT_STRIDE,
                                                 width // LATENT_STRIDE, checksum)
        return self._synthesize(y_hat, quality)


def _accept_file_layout(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Rename tensors of the model-file layout (and of older checkpoints) to this module's names, in place."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix):]
        for old, new in FILE_PREFIXES:
            if local.startswith(old):
                state_dict[prefix + new + local[len(old):]] = state_dict.pop(key)
                break


class QualityModulation(nn.Module):
    """A per-quality scale (log) and offset of each channel (``aec.conditional``): the identity at its start."""

    def __init__(self, qualities: int, channels: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(qualities, channels))
        self.offset = nn.Parameter(torch.zeros(qualities, channels))

    def forward(self, x: torch.Tensor, weights: tuple[torch.Tensor, ...]) -> torch.Tensor:
        low, high, below, above = weights
        scale = torch.exp(self.log_scale[low] * below + self.log_scale[high] * above)
        offset = self.offset[low] * below + self.offset[high] * above
        return x * scale[:, :, None, None].to(x.dtype) + offset[:, :, None, None].to(x.dtype)


class ConditionalModel(AECModel):
    """The training module of ``aec.conditional``: AECModel with a quality's modulation after each (inverse) GDN of
    g_a and g_s. g_a and g_s keep their tensors' names, so a channel-slice model's carry over (``--init``)."""

    def __init__(self, config: ModelConfig, entry: ChannelSliceArchitecture):
        super().__init__(config, entry)
        qualities = len(config.lambdas)
        # after every other parameter: a checkpoint's optimizer state lists them in this order
        self.g_a_modulation = nn.ModuleList(QualityModulation(qualities, channels)
                                            for channels in modulated_widths(entry.analysis_layers(config)))
        self.g_s_modulation = nn.ModuleList(QualityModulation(qualities, channels)
                                            for channels in modulated_widths(entry.synthesis_layers(config)))

    @staticmethod
    def _modulated(network: nn.Sequential, modulations: nn.ModuleList, x: torch.Tensor,
                   weights: tuple[torch.Tensor, ...]) -> torch.Tensor:
        turn = iter(modulations)
        for module in network:
            x = module(x)
            if isinstance(module, GDN):
                x = next(turn)(x, weights)
        return x

    def analyze(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        return self._modulated(self.g_a, self.g_a_modulation, x, self.interpolation(quality))

    def synthesize(self, y: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        return self._modulated(self.g_s, self.g_s_modulation, y, self.interpolation(quality))

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*super().encoder_parameters(), *self.g_a_modulation.parameters()]

    def synthesis_parameters(self) -> list[nn.Parameter]:
        return [*super().synthesis_parameters(), *self.g_s_modulation.parameters()]
