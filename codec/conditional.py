"""``aec-conditional-v1``: the channel-slice architecture whose transforms depend on the quality (issue "The whole
quality range"). Torch-free.

The channel-slice model shares one g_a and one g_s across every quality: only the gain vectors on the latent
(Cui et al. 2021) change with it. Trained over a wide table (lambda 0.0009 to 0.36), r9 lost 2.85 % against r8 over
r8's range and its top is flat; sharing the transforms is one suspect (docs/training.md, "Quality-conditional
transforms", has the pilot that chose this: -0.73 %). Here every (inverse) GDN of g_a and
g_s is followed by a per-quality modulation of its channels, a scale and an offset (the conditional convolutions of
Choi et al. 2019, on the GDN outputs), interpolated between the trained qualities as the gains are (the scale
log-linearly, the offset linearly; ``ModelConfig.interpolation``):

    g_a:  conv -> GDN -> mod[q] -> conv -> GDN -> mod[q] -> conv -> GDN -> mod[q] -> conv
    g_s:  deconv -> IGDN -> mod[q] -> ... -> deconv

A modulation at scale 1 and offset 0 is the identity, which is how it starts: a model of this architecture made from a
trained channel-slice model (``python -m aec.train --init MODEL --architecture aec-conditional-v1``) codes exactly as
its parent did, and each quality then learns its own transforms at a cost of 2 x (qualities x channels) numbers a
network. Everything else (h_a, h_s, the slice networks, the entropy models, the tensor names) is the channel-slice
architecture's; the modulations are the model file's ``g_a_modulation.{k}.log_scale`` / ``.offset`` and
``g_s_modulation.{k}...`` tensors, (qualities, channels) float32.
"""

from __future__ import annotations

import numpy as np

from .architecture import FloatNetwork, Layer, named_tensor
from .channel_slice import ChannelSliceArchitecture, Decoder, Encoder, gain_table, hyper_analysis
from .config import ModelConfig
from .ops import GDN

__all__ = ["CONDITIONAL", "ConditionalArchitecture", "QualityNetwork", "modulated_widths"]

MODULATION_PREFIXES = {"g_a": "g_a_modulation", "g_s": "g_s_modulation"}


def modulated_widths(layers: tuple[Layer, ...]) -> tuple[int, ...]:
    """The channels of each modulation of a float network's layer list: one after each layer with an activation."""
    return tuple(layer.outputs for layer in layers if layer.activation)


class ChannelModulation:
    """x * scale + offset per channel of a (C, H, W) float32 array."""

    def __init__(self, scale: np.ndarray, offset: np.ndarray):
        self.scale = scale.astype(np.float32)[:, None, None]
        self.offset = offset.astype(np.float32)[:, None, None]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x *= self.scale  # x is the GDN's own output
        x += self.offset
        return x


class QualityNetwork:
    """A float network (g_a or g_s) whose GDN outputs are modulated at a quality: ``at(quality)`` is the network
    there, a callable like ``FloatNetwork``."""

    def __init__(self, network: FloatNetwork, tensors: dict[str, np.ndarray], prefix: str,
                 layers: tuple[Layer, ...], config: ModelConfig):
        self.network, self.config = network, config
        qualities = len(config.lambdas)
        self.tables = [(named_tensor(tensors, f"{prefix}.{k}.log_scale", (qualities, channels)).astype(np.float32),
                        named_tensor(tensors, f"{prefix}.{k}.offset", (qualities, channels)).astype(np.float32))
                       for k, channels in enumerate(modulated_widths(layers))]

    def at(self, quality: float) -> FloatNetwork:
        low, high, t = self.config.interpolation(quality)
        steps, tables = [], iter(self.tables)
        for step in self.network.layers:
            steps.append(step)
            if isinstance(step, GDN):
                log_scale, offset = next(tables)
                scale = self.config.interpolated(log_scale, quality)
                steps.append(ChannelModulation(scale, offset[low] * np.float32(1 - t) + offset[high] * np.float32(t)))
        return FloatNetwork.of_steps(steps)


class ConditionalArchitecture(ChannelSliceArchitecture):
    """See the module docstring."""

    name = "aec-conditional-v1"

    def is_decoder_tensor(self, name: str) -> bool:
        return super().is_decoder_tensor(name) or name.startswith(MODULATION_PREFIXES["g_s"] + ".")

    def decoder(self, config: ModelConfig, tensors: dict[str, np.ndarray], latents=None) -> Decoder:
        layers = self.synthesis_layers(config)
        synthesis = QualityNetwork(FloatNetwork(tensors, "g_s", layers, "igdn"), tensors,
                                   MODULATION_PREFIXES["g_s"], layers, config)
        return Decoder(config, latents or self.exact_path(config, tensors),
                       gain_table(tensors, "log_inverse_gains", config), synthesis)

    def encoder(self, config: ModelConfig, tensors: dict[str, np.ndarray], decoder: Decoder) -> Encoder:
        layers = self.analysis_layers(config)
        network = QualityNetwork(FloatNetwork(tensors, "g_a", layers, "gdn"), tensors, MODULATION_PREFIXES["g_a"],
                                 layers, config)
        return Encoder(config, network, FloatNetwork(tensors, "h_a", hyper_analysis(config), "leaky"),
                       gain_table(tensors, "log_gains", config), decoder.latents)

    def training_module(self, config: ModelConfig):
        from .model import ConditionalModel  # torch

        return ConditionalModel(config, self)


CONDITIONAL = ConditionalArchitecture()  # aec.registry lists it
