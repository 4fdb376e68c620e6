"""A second architecture, for the tests only (not shipped): proof that an architecture is one module.

``test-factorized-v0`` is a tiny factorized-prior autoencoder (Ballé, Laparra & Simoncelli 2017, with Cui et al.
2021's gains, one per quality): no hyperprior and no slices, y coded under per-channel frozen tables, stride 4 where
the shipped architecture pads to 64. Importing this module registers it; nothing outside this file knows it.

    x --g_a--> y --* gain[q]--> round ==[prior tables: YLAT]==> y_hat --/ gain[q]--> --g_s--> x_hat

The numpy decoder and encoder code files without torch; the torch module (``training_module``, which imports torch
only then) trains with ``python -m aec.train --architecture test-factorized-v0`` and exports as any model.
"""

from __future__ import annotations

import numpy as np

from aec.architecture import Architecture, FloatNetwork, Layer, named_tensor
from aec.bitstream.entropy import symbol_checksum
from aec.config import ModelConfig
from aec.entropy_models import FactorizedTables
from aec.errors import FormatError
from aec.exact import CodedLatents
from aec.ops import to_uint8
from aec.registry import register

STRIDE = 4
TINY_FACTORIZED = ModelConfig(N=8, M=6, Z=1, slices=1, hyper_width=1, context_width=1, lambdas=(0.004, 0.016, 0.064),
                              z_support=24)  # Z, slices and the widths are unused here


def analysis(c: ModelConfig) -> tuple[Layer, ...]:
    return (Layer(3, c.N, 5, stride=2), Layer(c.N, c.M, 5, stride=2, activation=False))


def synthesis(c: ModelConfig) -> tuple[Layer, ...]:
    return (Layer(c.M, c.N, 5, stride=2, transpose=True), Layer(c.N, 3, 5, stride=2, transpose=True, activation=False))


class FactorizedDecoder:
    stride = STRIDE

    def __init__(self, config: ModelConfig, tensors: dict[str, np.ndarray]):
        c = self.config = config
        self.prior = FactorizedTables(named_tensor(tensors, "prior.counts", (c.M, 2 * c.z_support + 2)),
                                      named_tensor(tensors, "prior.offsets", (c.M,)))
        self.log_gains = named_tensor(tensors, "log_gains", (len(c.lambdas), 1)).astype(np.float32)
        self.synthesis = FloatNetwork(tensors, "g_s", synthesis(c), "igdn")

    def decode(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
               checksum: int | None = None, *, major: int = 2) -> np.ndarray:
        # Its YLAT holds categorical blocks, the same in format 1 and 2.
        if z_payload:
            raise FormatError("a test-factorized-v0 file has an empty ZHYP section")
        symbols = self.prior.decode(y_payload, (height // STRIDE) * (width // STRIDE), name="the YLAT section")
        if checksum is not None and symbol_checksum(symbols) != checksum:
            raise FormatError("decoded symbols do not match the file's checksum")
        y_hat = symbols.reshape(-1, height // STRIDE, width // STRIDE).astype(np.float32)
        x_hat = self.synthesis(y_hat / self.config.interpolated(self.log_gains, quality)[:, None, None])
        return np.clip(x_hat, 0, 1, out=x_hat)

    def decode_rgb(self, *args, **kwargs) -> np.ndarray:
        return np.ascontiguousarray(to_uint8(self.decode(*args, **kwargs)).transpose(1, 2, 0))


class FactorizedEncoder:
    stride = STRIDE

    def __init__(self, config: ModelConfig, tensors: dict[str, np.ndarray], decoder: FactorizedDecoder):
        self.config, self.prior, self.log_gains = config, decoder.prior, decoder.log_gains
        self.analysis = FloatNetwork(tensors, "g_a", analysis(config), "gdn")

    def compress(self, rgb: np.ndarray, quality: float) -> CodedLatents:
        y = self.analysis(rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
        y *= self.config.interpolated(self.log_gains, quality)[:, None, None]
        payload, symbols = self.prior.encode(y)
        return CodedLatents(b"", payload, symbol_checksum(symbols), self.prior.bits(symbols))


class FactorizedArchitecture(Architecture):
    name = "test-factorized-v0"
    config_class = ModelConfig
    stride = STRIDE

    def is_decoder_tensor(self, name: str) -> bool:
        return name.startswith("g_s.") or name in ("prior.counts", "prior.offsets", "log_gains")

    def decoder(self, config: ModelConfig, tensors: dict[str, np.ndarray]) -> FactorizedDecoder:
        return FactorizedDecoder(config, tensors)

    def encoder(self, config: ModelConfig, tensors: dict[str, np.ndarray],
                decoder: FactorizedDecoder) -> FactorizedEncoder:
        return FactorizedEncoder(config, tensors, decoder)

    def training_module(self, config: ModelConfig):
        return _torch_module_class()(config)


def _torch_module_class() -> type:
    """The torch twin, defined when training first asks for it (torch is imported only then)."""
    global _TORCH_MODULE
    if _TORCH_MODULE is not None:
        return _TORCH_MODULE
    import torch
    import torch.nn as nn

    from aec.entropy_models import FactorizedPrior
    from aec.layers import GDN, conv, deconv, round_ste

    class FactorizedModel(nn.Module):
        architecture, stride = FACTORIZED.name, STRIDE

        def __init__(self, config: ModelConfig):
            super().__init__()
            c = self.config = config
            self.g_a = nn.Sequential(conv(3, c.N), GDN(c.N), conv(c.N, c.M))
            self.g_s = nn.Sequential(deconv(c.M, c.N), GDN(c.N, inverse=True), deconv(c.N, 3))
            self.prior = FactorizedPrior(c.M, c.z_support)
            lambdas = torch.tensor(c.lambdas, dtype=torch.float32)
            self.log_gains = nn.Parameter(0.5 * torch.log(lambdas / lambdas.max()).view(-1, 1))
            with torch.no_grad():
                self.g_a[-1].weight *= 20.0  # latents of std ~1 at first, not all rounding to zero

        def _row(self, quality: torch.Tensor) -> torch.Tensor:  # integer qualities only: training's
            return (quality.long() - 1).clamp(0, len(self.config.lambdas) - 1)

        def lambdas_for(self, quality: torch.Tensor) -> torch.Tensor:
            return torch.tensor(self.config.lambdas, device=quality.device)[self._row(quality)]

        def forward(self, x: torch.Tensor, quality: torch.Tensor, rounding=None) -> dict[str, torch.Tensor]:
            gain = torch.exp(self.log_gains[self._row(quality)])[:, :, None, None]
            y = self.g_a(x).float() * gain
            if rounding is None:
                rate = y + torch.empty_like(y).uniform_(-0.5, 0.5) if self.training else torch.floor(y + 0.5)
                y_hat = round_ste(y)
            else:
                rate, y_hat = rounding(y)
            y_bits = self.prior.bits(rate)
            return {"x_hat": self.g_s(y_hat / gain), "y_bits": y_bits, "z_bits": torch.zeros_like(y_bits)}

        def encoder_parameters(self) -> list[nn.Parameter]:
            return list(self.g_a.parameters())

        @torch.no_grad()
        def freeze(self) -> None:
            self.prior.freeze()

        def check_exact(self) -> None:
            """No integer network: nothing to prove."""

        @staticmethod
        def file_key(name: str) -> str:
            return name

        def file_state_dict(self) -> dict[str, torch.Tensor]:
            return self.state_dict()

    _TORCH_MODULE = FactorizedModel
    return FactorizedModel


_TORCH_MODULE: type | None = None
FACTORIZED = register(FactorizedArchitecture())
