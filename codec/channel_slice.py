"""The shipped architecture, ``aec-channel-slice-v1``: its layers, its model files' tensor names, and its numpy
decoder and encoder; its torch training module is ``aec.model.AECModel`` (imported only when asked for). Torch-free.

A variable-rate autoencoder (Cui et al. 2021's gains) whose latent is coded by a channel-slice hyperprior latent
codec (Minnen & Singh 2020; ``aec.latent_codecs`` trains it, ``aec.exact`` codes it):

    x --g_a--> y --* gain[q]--> [h_a, z: ZHYP; h_s, slices: YLAT] --> y_hat --* inverse_gain[q]--> --g_s--> x_hat

    g_a:            pixels (3) -> y (M), float, four stride-2 5x5 layers with GDN between them
    h_a:            y (M) -> z (Z), float, stride 1 then two stride-2 layers, leaky ReLU between them
    h_s:            z_hat (Z) -> hyper features (hyper_width), integer, two stride-2 transposed layers
    params[i]:      hyper + y_hat_0..i-1 -> mean and scale index of slice i (2 x M / slices), integer
    residuals[i]:   hyper + y_hat_0..i-1 + slice i -> its latent residual prediction (M / slices), integer
    g_s:            y_hat (M) -> pixels (3), float, four stride-2 transposed 5x5 layers with inverse GDN between

The torch modules (``aec.transforms``, ``aec.context``: training and refinement) and the numpy coders here build
their networks from these lists, so a layer's shape, its place in the file and the order of its channels are stated
once. The numpy decoder is what ``decompress`` runs and the numpy encoder what ``compress`` runs at effort 0.
Their g_a, h_a and g_s are float32 as in torch, summed in another order, so their latents may differ from torch's in
the last bits (a symbol may differ where a value lies within that of a rounding boundary) and their pixels by one
level at rare positions (measured: ``tests/codec/test_encoder.py``, ``test_decoder.py``); the probability path is
exact (``aec.exact``), so every file decodes to the same symbols on every machine.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .architecture import Architecture, FloatNetwork, Layer, integer_network, named_tensor
from .config import ModelConfig
from .entropy_models import FactorizedTables, IndexedGaussian
from .exact import HYPER_SHARE, HYPER_STRIDE, CodedLatents, ExactLatentPath
from .ops import to_uint8
from .progress import part, shares
from .tiling import tiled
from .timing import stage

__all__ = ["CHANNEL_SLICE", "LATENT_STRIDE", "STRIDE", "ChannelSliceArchitecture", "Decoder", "Encoder"]

LATENT_STRIDE = 16  # g_a's total stride (and g_s's)
STRIDE = 64  # g_a's followed by h_a's (4): images are padded to a multiple of it

# The float networks run in overlapping tiles so that memory stays bounded on big photos; each margin covers the
# network's receptive-field radius. g_a's are in input pixels (radius 30 px), h_a's and g_s's in latent pixels
# (radius 7 and under 2). A 48-pixel g_s tile takes a Kodak image whole and recomputes about a sixth of a big one
# (32 recomputed a quarter, and split a Kodak image in two: 15 % of the light model's decode, docs/speed.md); its largest
# activation is 75 MB for the channel-slice g_s (128 channels at 384 x 384). A 768-pixel g_a tile takes a Kodak image
# whole too (512 split it in two, 832 columns computed for 768: 7 % of g_a) and recomputes 17 % of a big one (512: 27 %);
# its largest activation is 89 MB (128 channels at 416 x 416).
ANALYSIS_TILE, ANALYSIS_MARGIN = 768, 32
HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN = 128, 8
SYNTHESIS_TILE, SYNTHESIS_MARGIN = 48, 2
# Each stage's share of an image's coding time, for progress (aec.progress): milliseconds per Kodak image on one
# thread on an idle machine (benchmarks/results/speed.md, r7). Encoding: g_a 476, the latents (h_a, z, h_s, slices,
# y coding) 300, a refinement step about a second (README, Encoder effort). Decoding: the latents 310, the numpy g_s
# 594 (torch's g_s took about 325).
ENCODE_MS = {"g_a": 476.0, "latents": 300.0}
REFINEMENT_STEP_MS = 1000.0
DECODE_MS = {"latents": 310.0, "g_s": 594.0}


# ----------------------------------------------------------------------------------------------------- the layers
def analysis(c: ModelConfig) -> tuple[Layer, ...]:
    """g_a, float: 3 -> N -> N -> N -> M, total stride 16, a GDN after every layer but the last."""
    return analysis_of(c.M, (c.N, c.N, c.N))


def analysis_of(latents: int, widths: tuple[int, int, int],
                kernels: tuple[int, int, int, int] = (5, 5, 5, 5)) -> tuple[Layer, ...]:
    """A g_a of four stride-2 layers, 3 -> widths[0] -> widths[1] -> widths[2] -> latents, of these kernel sizes
    (``aec.light`` may narrow the widths and shrink the kernels)."""
    w1, w2, w3 = widths
    k1, k2, k3, k4 = kernels
    return (Layer(3, w1, k1, stride=2), Layer(w1, w2, k2, stride=2), Layer(w2, w3, k3, stride=2),
            Layer(w3, latents, k4, stride=2, activation=False))


def hyper_analysis(c: ModelConfig) -> tuple[Layer, ...]:
    """h_a, float: y -> z, total stride 4, a leaky ReLU after every layer but the last."""
    return (Layer(c.M, c.N, 3), Layer(c.N, c.N, 5, stride=2), Layer(c.N, c.Z, 5, stride=2, activation=False))


def hyper_synthesis(c: ModelConfig) -> tuple[Layer, ...]:
    """h_s, integer: total stride 4, to the latent's resolution."""
    return hyper_synthesis_of(c.Z, c.N, c.hyper_width)


def hyper_synthesis_of(latents: int, hidden: int, features: int) -> tuple[Layer, ...]:
    """An h_s of two stride-2 transposed 5x5 layers of HIDDEN channels and a 3x3 layer to FEATURES (``aec.light``
    narrows the hidden ones)."""
    up = {"stride": 2, "transpose": True}
    return (Layer(latents, hidden, 5, **up), Layer(hidden, hidden, 5, **up), Layer(hidden, features, 3))


def slice_channels(c: ModelConfig) -> int:
    return c.M // c.slices


def parameter_net(c: ModelConfig, i: int) -> tuple[Layer, ...]:
    """Slice i's parameter network, integer: its input is the hyper features then slices 0..i-1 in order; its output
    the means, then the scale indexes."""
    width, channels = c.context_width, slice_channels(c)
    return (Layer(c.hyper_width + i * channels, width, 3), Layer(width, width, 1),
            Layer(width, 2 * channels, 3, activation=False))


def residual_net(c: ModelConfig, i: int) -> tuple[Layer, ...]:
    """Slice i's latent residual prediction, integer: its input is parameter_net(c, i)'s, then slice i itself."""
    width, channels = c.context_width, slice_channels(c)
    return (Layer(c.hyper_width + (i + 1) * channels, width, 3), Layer(width, channels, 3, activation=False))


def synthesis(c: ModelConfig) -> tuple[Layer, ...]:
    """g_s, float: M -> N -> N -> N -> 3, an inverse GDN after every layer but the last."""
    return synthesis_of(c.M, (c.N, c.N, c.N))


def synthesis_of(latents: int, widths: tuple[int, int, int]) -> tuple[Layer, ...]:
    """A g_s of four stride-2 transposed 5x5 layers, latents -> widths[0] -> widths[1] -> widths[2] -> 3 (``aec.light``
    narrows the widths)."""
    up = {"stride": 2, "transpose": True}
    w1, w2, w3 = widths
    return (Layer(latents, w1, 5, **up), Layer(w1, w2, 5, **up), Layer(w2, w3, 5, **up),
            Layer(w3, 3, 5, **up, activation=False))


# ------------------------------------------------------------------------------------------------ the tensor names
# Model files name their tensors as the first release wrote them, before the latent codec had a torch module of its
# own ("h_a.0.weight", "scale_table"); checkpoints of that time do too. (file name prefix, torch module name prefix)
FILE_PREFIXES = (("h_a.", "latent_codec.h_a."), ("h_s.", "latent_codec.h_s."), ("prior.", "latent_codec.prior."),
                 ("context.", "latent_codec.context."), ("scale_table", "latent_codec.gaussian.scale_table"))
# What the decoder reads of a model file: the rest (g_a, h_a, the gains, the training-only tensors) encodes only.
DECODER_PREFIXES = ("h_s.", "context.", "g_s.")
DECODER_NAMES = ("scale_table", "prior.counts", "prior.offsets", "log_inverse_gains")


def gain_table(tensors: dict[str, np.ndarray], name: str, config: ModelConfig) -> np.ndarray:
    """A (qualities, M) table of log gains (``log_gains``, ``log_inverse_gains``) as float32."""
    return named_tensor(tensors, name, (len(config.lambdas), config.M)).astype(np.float32)


# ------------------------------------------------------------------------------------------------- numpy coders
class Decoder:
    """One model's decoding state: the exact probability path, the inverse gains and the synthesis."""

    stride = STRIDE

    def __init__(self, config: ModelConfig, latents: ExactLatentPath, log_inverse_gains: np.ndarray,
                 synthesis_network: FloatNetwork):
        self.config, self.latents = config, latents
        self.log_inverse_gains, self.synthesis = log_inverse_gains, synthesis_network
        self.latents.check_exact()

    def decode(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
               checksum: int | None = None, *, major: int = 2) -> np.ndarray:
        """Decode padded dimensions (multiples of 64) of a file of format ``major`` to a (3, height, width) float32
        image in [0, 1]; FormatError for a corrupt payload (``ExactLatentPath.decode``)."""
        y = self._synthesis_input(z_payload, y_payload, quality, height, width, checksum, major)
        with stage("g_s"), part(*shares(DECODE_MS)["g_s"]):
            x_hat = tiled(self.synthesis.at(quality), y, SYNTHESIS_TILE, SYNTHESIS_MARGIN, LATENT_STRIDE)
        return np.clip(x_hat, 0, 1, out=x_hat)

    def decode_rgb(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
                   checksum: int | None = None, *, major: int = 2) -> np.ndarray:
        """``decode``'s picture as uint8 (height, width, 3), round(255 x): each synthesis tile is converted as it
        comes, so no float picture is ever whole (a 6000x4000 one is 288 MB; docs/speed.md)."""
        y = self._synthesis_input(z_payload, y_payload, quality, height, width, checksum, major)
        network = self.synthesis.at(quality)
        rgb = np.empty((height, width, 3), np.uint8)
        with stage("g_s"), part(*shares(DECODE_MS)["g_s"]):
            tiled(lambda piece: to_uint8(network(piece)), y, SYNTHESIS_TILE, SYNTHESIS_MARGIN, LATENT_STRIDE,
                  out=rgb.transpose(2, 0, 1))
        return rgb

    def _synthesis_input(self, z_payload: bytes, y_payload: bytes, quality: float, height: int, width: int,
                         checksum: int | None, major: int) -> np.ndarray:
        """The decoded latent times the inverse gain, float32 (M, height / 16, width / 16)."""
        with part(*shares(DECODE_MS)["latents"]):
            y_hat = self.latents.decode(z_payload, y_payload, height // LATENT_STRIDE, width // LATENT_STRIDE,
                                        checksum, major=major)
        inverse_gain = self.config.interpolated(self.log_inverse_gains, quality).astype(np.float64)
        return np.multiply(y_hat, inverse_gain[:, None, None], out=y_hat).astype(np.float32)


class Encoder:
    """One model's one-pass encoding state: g_a, the gains, h_a and the exact path (shared with its decoder), whose
    ``encode`` the torch model's ``compress`` runs on its refined latents too."""

    stride = STRIDE

    def __init__(self, config: ModelConfig, analysis_network: FloatNetwork, hyper_analysis_network: FloatNetwork,
                 log_gains: np.ndarray, latents: ExactLatentPath):
        self.config, self.latents = config, latents
        self.analysis, self.hyper_analysis, self.log_gains = analysis_network, hyper_analysis_network, log_gains

    def compress(self, rgb: np.ndarray, quality: float) -> CodedLatents:
        """Code a uint8 (H, W, 3) image whose sides are multiples of 64 at a model quality."""
        parts = shares(ENCODE_MS)

        network = self.analysis.at(quality)

        def analysis(piece: np.ndarray) -> np.ndarray:  # uint8 (3, h, w) -> float32 in [0, 1], as torch divides
            return network(piece.astype(np.float32) / np.float32(255))

        with stage("g_a"), part(*parts["g_a"]):
            y = tiled(analysis, rgb.transpose(2, 0, 1), ANALYSIS_TILE, ANALYSIS_MARGIN, Fraction(1, LATENT_STRIDE))
        y *= self.config.interpolated(self.log_gains, quality)[:, None, None]
        with part(*parts["latents"]):
            with stage("h_a"), part(0.0, HYPER_SHARE / 2):
                z = tiled(self.hyper_analysis, y, HYPER_ANALYSIS_TILE, HYPER_ANALYSIS_MARGIN, Fraction(1, HYPER_STRIDE))
            return self.latents.encode(y, z)


# ------------------------------------------------------------------------------------------------ the architecture
class ChannelSliceArchitecture(Architecture):
    """See the module docstring."""

    name = "aec-channel-slice-v1"
    config_class = ModelConfig
    stride = STRIDE

    def is_decoder_tensor(self, name: str) -> bool:
        return name.startswith(DECODER_PREFIXES) or name in DECODER_NAMES

    def analysis_layers(self, config: ModelConfig) -> tuple[Layer, ...]:
        """g_a's layer list (GDN after every layer but the last): one of the three things an architecture built on
        this one (``aec.light``) changes."""
        return analysis(config)

    def synthesis_layers(self, config: ModelConfig) -> tuple[Layer, ...]:
        """g_s's layer list (inverse GDN after every layer but the last): the second."""
        return synthesis(config)

    def hyper_synthesis_layers(self, config: ModelConfig) -> tuple[Layer, ...]:
        """h_s's layer list (integer): the third."""
        return hyper_synthesis(config)

    def exact_path(self, config: ModelConfig, tensors: dict[str, np.ndarray]) -> ExactLatentPath:
        """The frozen probability path of a model file's tensors."""
        c = config
        return ExactLatentPath(
            integer_network(tensors, "h_s", self.hyper_synthesis_layers(c)),
            [integer_network(tensors, f"context.params.{i}", parameter_net(c, i)) for i in range(c.slices)],
            [integer_network(tensors, f"context.residuals.{i}", residual_net(c, i)) for i in range(c.slices)
             if getattr(c, "latent_residual", True)],
            IndexedGaussian(named_tensor(tensors, "scale_table", (c.scale_levels,))),
            FactorizedTables(named_tensor(tensors, "prior.counts", (c.Z, 2 * c.z_support + 2)),
                             named_tensor(tensors, "prior.offsets", (c.Z,))))

    def decoder(self, config: ModelConfig, tensors: dict[str, np.ndarray],
                latents: ExactLatentPath | None = None) -> Decoder:
        """``latents``: the exact path already built from these tensors (``AECModel.decoder`` passes its own)."""
        return Decoder(config, latents or self.exact_path(config, tensors),
                       gain_table(tensors, "log_inverse_gains", config),
                       FloatNetwork(tensors, "g_s", self.synthesis_layers(config), "igdn"))

    def encoder(self, config: ModelConfig, tensors: dict[str, np.ndarray], decoder: Decoder) -> Encoder:
        return Encoder(config, FloatNetwork(tensors, "g_a", self.analysis_layers(config), "gdn"),
                       FloatNetwork(tensors, "h_a", hyper_analysis(config), "leaky"),
                       gain_table(tensors, "log_gains", config), decoder.latents)

    def training_module(self, config: ModelConfig):
        from .model import AECModel  # torch

        return AECModel(config, self)


CHANNEL_SLICE = ChannelSliceArchitecture()  # aec.registry lists it
