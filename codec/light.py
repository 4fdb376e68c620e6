"""``aec-light-v1``: the channel-slice architecture with a light synthesis (issue "A fast model"). Torch-free.

Everything but the widths of g_s and h_s is ``aec.channel_slice``'s (g_a, the gains, h_a, the slice networks, the
entropy models and the tensor names), so a trained channel-slice model's encoder and probability path carry over
tensor for tensor. g_s keeps its shape (four stride-2 transposed 5x5 layers, an inverse GDN after each but the last)
at the widths the config gives, ``synthesis_widths`` (w1, w2, w3), and h_s at ``hyper_synthesis_width`` (h):

    g_s:  y_hat (M) -> w1 -> w2 -> w3 -> pixels (3)
    h_s:  z_hat (Z) -> h -> h -> hyper features (hyper_width)

At (128, 64, 32) that is about 10.2 k multiply-adds per pixel against 42 k for the channel-slice g_s (N = 128 in
every layer), inverse GDNs included (``synthesis_macs``). A light synthesis first learns from a trained model's
own latents (``python -m aec.train --init MODEL --architecture aec-light-v1 --train-only synthesis``: the encoder
and the probability path frozen, so the files' bytes are the parent's), then trains with the rest
(docs/training.md); a narrower probability path (``hyper_synthesis_width``, ``hyper_width``, ``context_width``)
learns from the parent's units on its cached latents (``python -m aec.train.probability``). ``analysis_widths``
narrows g_a the same way for a faster encoder (none: N in every layer, the channel-slice g_a), and
``analysis_kernels`` shrinks its kernels (none: 5x5 in every layer; 3x3 in the middle two is about 40 % of the
work); ``latent_residual``
false drops the latent residual prediction networks, half the slice networks' work (y_hat_i = sym_i + mu_i; a
parent's other tensors carry over). A narrower g_a starts
from the first channels of the trained one (``aec.train.checkpoint.narrowed``) and trains alone under the frozen
decoder (``--train-only encoder``), so its files decode with the parent's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

from .architecture import Layer
from .channel_slice import ChannelSliceArchitecture, analysis_of, hyper_synthesis_of, synthesis_of
from .config import MAX_WIDTH, ModelConfig

__all__ = ["LIGHT", "LightArchitecture", "LightConfig", "synthesis", "synthesis_macs"]


@dataclass(frozen=True)
class LightConfig(ModelConfig):
    """ModelConfig's fields, the widths of g_s's three hidden layers and of h_s's two (0: N, as the channel-slice
    h_s has them)."""

    synthesis_widths: tuple[int, ...] = (128, 64, 32)
    hyper_synthesis_width: int = 0
    analysis_widths: tuple[int, ...] = ()  # g_a's three hidden widths; () is (N, N, N), the channel-slice g_a
    analysis_kernels: tuple[int, ...] = ()  # g_a's four kernel sizes (odd); () is (5, 5, 5, 5), the channel-slice g_a
    latent_residual: bool = True  # False: no latent residual prediction (y_hat_i = sym_i + mu_i), half the slice work

    def to_dict(self) -> dict:
        """The fields, without ``analysis_widths`` and ``analysis_kernels`` while they are the channel-slice g_a's and
        ``latent_residual`` while it is on (so files of the first light models, which predate the fields, keep their
        config)."""
        fields = super().to_dict()
        for name in ("analysis_widths", "analysis_kernels"):
            if not fields[name]:
                del fields[name]
        if fields["latent_residual"]:
            del fields["latent_residual"]
        return fields

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, empty in (("synthesis_widths", False), ("analysis_widths", True)):
            widths = getattr(self, name)
            if isinstance(widths, list):  # as JSON gives it
                object.__setattr__(self, name, widths := tuple(widths))
            if empty and widths == ():
                continue
            if (not isinstance(widths, tuple) or len(widths) != 3
                    or not all(not isinstance(w, bool) and isinstance(w, int) and 1 <= w <= MAX_WIDTH for w in widths)):
                raise ValueError(f"config field {name} must be three whole numbers from 1 to {MAX_WIDTH}"
                                 f"{' (or none: N)' if empty else ''}, got {widths!r}")
        kernels = self.analysis_kernels
        if isinstance(kernels, list):
            object.__setattr__(self, "analysis_kernels", kernels := tuple(kernels))
        if kernels != () and (not isinstance(kernels, tuple) or len(kernels) != 4 or not all(
                not isinstance(k, bool) and isinstance(k, int) and k in (1, 3, 5, 7) for k in kernels)):
            raise ValueError(f"config field analysis_kernels must be four kernel sizes of 1, 3, 5 or 7 (or none: 5 "
                             f"each), got {kernels!r}")
        if not isinstance(self.latent_residual, bool):
            raise ValueError(f"config field latent_residual must be true or false, got {self.latent_residual!r}")
        width = self.hyper_synthesis_width
        if isinstance(width, bool) or not isinstance(width, int) or not 0 <= width <= MAX_WIDTH:
            raise ValueError(f"config field hyper_synthesis_width must be a whole number from 0 (N) to {MAX_WIDTH}, "
                             f"got {width!r}")


def synthesis(c: LightConfig) -> tuple[Layer, ...]:
    """g_s, float: M -> w1 -> w2 -> w3 -> 3, stride-2 transposed 5x5 layers, an inverse GDN after all but the last."""
    return synthesis_of(c.M, c.synthesis_widths)


def synthesis_macs(layers: tuple[Layer, ...]) -> float:
    """Multiply-adds per output pixel of a stride-16 synthesis of stride-2 transposed layers, the inverse GDNs
    (one channels x channels product per position) included."""
    total, share = 0.0, 1 / 256  # a layer's input positions per output pixel
    for layer in layers:
        total += share * layer.kernel ** 2 * layer.inputs * layer.outputs
        share *= 4
        if layer.activation:
            total += share * layer.outputs ** 2
    return total


class LightArchitecture(ChannelSliceArchitecture):
    """See the module docstring."""

    name = "aec-light-v1"
    config_class = LightConfig

    def analysis_layers(self, config: LightConfig) -> tuple[Layer, ...]:
        return analysis_of(config.M, config.analysis_widths or (config.N,) * 3, config.analysis_kernels or (5,) * 4)

    def synthesis_layers(self, config: LightConfig) -> tuple[Layer, ...]:
        return synthesis(config)

    def hyper_synthesis_layers(self, config: LightConfig) -> tuple[Layer, ...]:
        return hyper_synthesis_of(config.Z, config.hyper_synthesis_width or config.N, config.hyper_width)


LIGHT = LightArchitecture()  # aec.registry lists it
