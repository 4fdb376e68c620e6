"""The Python API: `compress(image, quality=...) -> bytes`, `decompress(data) -> PIL.Image`, on a reusable `Codec`."""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, Union

import numpy as np
from PIL import Image

from .bitstream import (CODER_VERSION, DEFAULT_MAX_PIXELS, MAGIC, Header, Section, check_coder_version,
                        lowest_version, pack, parse)
from .errors import InputError, ModelMismatchError, torch_missing
from .bitstream import read_header as _read_header

from . import images
from . import threads as free_threads
from .images import ImageLike
from .inputs import input_limit, read_path, read_stream
from .architecture import Coded, NumpyDecoder, NumpyEncoder
from .decoder import coders_from_file, load_coders, load_decoder
from .metrics import psnr
from .manifest import WEIGHTS_DIR, read_manifest
from .manifest import quality_scale as _released_scale
from .manifest import effort_iterations as _released_efforts
from .quality_scale import DEFAULT_QUALITY, HIGHEST, LOWEST, QualityScale, check_number
from .ops import one_thread_blas, workers
from .progress import part, reporting
from .rate_control import search_quality
from .config import ModelConfig, check_effort

if TYPE_CHECKING:  # torch is imported when a model is loaded to encode, never to decode
    import torch

DataLike = Union[bytes, bytearray, memoryview, str, os.PathLike, BinaryIO]
ProgressCallback = Callable[[float], None]
PROBE_SHARE = 0.7  # progress with a target: each probe of the search takes 0.3 of what is left


@dataclass(frozen=True)
class EncodeResult:
    """One compressed image: the bytes, their header, the quality, the rate and the effort.

    ``quality`` is on the 0-100 scale: the one asked for, else (a model quality or a target) the one of the model
    quality coded (``QualityScale.describe``); ``header.quality`` is the model quality coded, in hundredths. With a
    target (size, bits per pixel or PSNR), ``target_met`` says whether the result is within its tolerance
    (2 % of the size, 0.05 dB) and ``psnr`` is the PSNR measured for a PSNR target; both are None otherwise.
    """

    data: bytes
    header: Header
    quality: float
    bits_per_pixel: float
    estimated_bits: float
    effort: int = 0
    target_met: bool | None = None
    psnr: float | None = None


@dataclass(frozen=True)
class DecodeResult:
    """One decoded image: a PIL image (mode L, LA, RGB or RGBA; ICC and EXIF in its info) and the file's header."""

    image: Image.Image
    header: Header


def _coded_planes(decoded: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The planes aec codes of a decoded image (the gray plane of L and LA, the RGB of RGB and RGBA: alpha is
    lossless) and the same planes of what was coded (HxWx3)."""
    if decoded.ndim == 2 or decoded.shape[-1] < 3:
        return (decoded if decoded.ndim == 2 else decoded[..., 0]), rgb[..., 0]
    return decoded[..., :3], rgb


def _coded_psnr(decoded: np.ndarray, rgb: np.ndarray) -> float:
    """PSNR (dB) of the coded planes of a decoded image (gray, or the RGB of RGB/RGBA) against what was coded."""
    planes, reference = _coded_planes(decoded, rgb)
    return psnr(float(np.mean((planes.astype(np.float64) - reference) ** 2)), 255.0)


def _read_bytes(data: DataLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The .aec bytes of data, a path or a binary file read in bounded memory (aec.inputs)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        return read_path(data, input_limit(max_pixels), magic=MAGIC)
    if hasattr(data, "read"):
        return read_stream(data, input_limit(max_pixels), getattr(data, "name", "the input"), magic=MAGIC)
    raise InputError(f"expected .aec data as bytes, a path or a binary file, got {type(data).__name__}")


def _checked_max_pixels(max_pixels: object) -> int:
    """The pixel limit (DEFAULT_MAX_PIXELS for None); InputError unless it is a whole number from 1, as the CLI's
    --max-pixels must be."""
    if max_pixels is None:
        return DEFAULT_MAX_PIXELS
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1:
        raise InputError(f"max_pixels must be a whole number of pixels, 1 or more (None for the default, "
                         f"{DEFAULT_MAX_PIXELS}), got {max_pixels!r}")
    return int(max_pixels)


_TORCH_THREADS = free_threads.SharedSetting()


@contextmanager
def _torch_threads(torch, threads: int) -> Iterator[None]:
    """torch's intra-op threads at ``threads`` while the block runs (torch: the module, if loaded, else None), shared
    by overlapping calls as ``aec.ops.one_thread_blas`` is."""
    if torch is None:
        yield
        return

    def apply():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        return lambda: torch.set_num_threads(previous)

    with _TORCH_THREADS.held(apply):
        yield


class Codec:
    """Loads a model once and codes many images with it; thread-safe (one image at a time).

    Without model_id or weights, the default model is loaded only when encode needs it: decoding loads just the
    models that the files name, and only their decoders (built by each file's architecture, ``aec.decoder``: numpy,
    no torch, on the CPU whatever the device). Encoding at effort 0 on the CPU runs the architecture's numpy encoder,
    also without torch; higher efforts (the refinement differentiates the model) and other devices import torch and
    run its torch module, on ``device``.

    A Codec pickles (for a process pool or a distributed engine): what travels is the model id, the weights file's
    path, the device, the pixel limit and the threads, with the weights tag of each model it had loaded. The copy
    re-opens the model it encodes with as it is unpickled, and the models files name when it first needs them, and
    refuses (ModelMismatchError) a model whose weights there differ from the ones this codec used, so that every
    process writes the same bytes. The weights file, if any, must be at the same path in the other process.

    ``threads``: at most this many threads for the networks while an image is coded (numpy's BLAS and torch's pool,
    which belong to the process: another thread coding meanwhile shares the limit); None: as many as there are cores
    that other work leaves free, counted as each image is coded (``aec.threads``; on an idle machine one per core).
    """

    def __init__(self, model_id: str | None = None, *, weights: str | os.PathLike | None = None,
                 device: str | torch.device = "cpu", max_pixels: int | None = None, threads: int | None = None):
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InputError(f"threads must be a whole number, 1 or more (or None for the free cores), got {threads!r}")
        self.threads = threads
        if threads is None:
            free_threads.start()  # the first count's window: loading the model and reading the image count towards it
        self._device = device
        self.max_pixels = _checked_max_pixels(max_pixels)
        self._encoders: dict[str, tuple[NumpyEncoder, bytes, str, Path | None]] = {}  # (encoder, tag, sha256, file)
        self._models: dict[str, tuple[torch.nn.Module, bytes]] = {}  # torch models, loaded when an encode needs one
        self._decoders: dict[str, tuple[NumpyDecoder, bytes]] = {}
        self._scales: dict[str, QualityScale] = {}
        self._efforts: dict[str, tuple[int, ...]] = {}  # refinement steps per effort level, by model id
        self._from_file = weights is not None
        self._weights = None if weights is None else os.fspath(weights)
        self._expected_tags: dict[str, bytes] = {}  # set by unpickling: the tags the original codec used
        self._lock = threading.Lock()
        self._loading = threading.RLock()  # _load may load a torch model under it
        self._model_id = self._load(model_id, weights) if model_id is not None or weights is not None else None

    @property
    def device(self) -> torch.device:
        """Where encoding runs the float transforms; InputError for a string torch does not know as a device."""
        try:
            import torch
        except ImportError as error:
            if error.name != "torch":
                raise
            raise ModelMismatchError(torch_missing(f"device {self._device!r}")) from None
        try:
            return torch.device(self._device)
        except (RuntimeError, TypeError) as error:
            raise InputError(f"device {self._device!r} is not a torch device ({str(error).splitlines()[0]})") from None

    def _load(self, model_id: str | None, weights: str | os.PathLike | None = None) -> str:
        """Load the model file `weights`, else the installed model_id (the default when None), for encoding: its
        torch-free coders, and its torch model too when the device is not the CPU; returns its id."""
        if weights is not None:
            path = Path(weights)
            decoder, encoder, model_id, digest = coders_from_file(path)
        else:
            decoder, encoder, model_id, digest = load_coders(model_id)
            path = None
        tag = self._checked_tag(model_id, digest)
        self._encoders[model_id] = (encoder, tag, digest, path)
        self._decoders.setdefault(model_id, (decoder, tag))
        # The released scale of these weights (a --weights copy of a released model too), else 0-100 linearly.
        qualities = encoder.config.qualities
        self._scales[model_id] = _released_scale(model_id, digest) or QualityScale.linear(qualities[0], qualities[-1])
        self._efforts[model_id] = _released_efforts(model_id, digest)
        if not self._on_cpu:
            self._torch_model(model_id)
        return model_id

    @property
    def _on_cpu(self) -> bool:
        return str(self._device) == "cpu"

    def _torch_model(self, model_id: str) -> torch.nn.Module:
        """The torch model of a loaded model id (for the refinement of efforts above 0, and devices other than the
        CPU), loaded on first use from the same file, on ``device``."""
        with self._loading:
            if model_id not in self._models:
                try:
                    from .model_files import load_model, load_model_file  # imports torch
                except ImportError as error:
                    if error.name != "torch":
                        raise
                    raise ModelMismatchError(torch_missing("encoding with effort above 0 (or on a device)")) from None
                _, tag, digest, path = self._encoders[model_id]
                model, _, file_digest = load_model_file(path) if path is not None else load_model(model_id)
                if file_digest != digest:
                    raise ModelMismatchError(f"model {model_id!r} changed on disk since this codec loaded it")
                model.place(self.device)
                self._models[model_id] = (model, tag)
            return self._models[model_id][0]

    def _checked_tag(self, model_id: str, digest: str) -> bytes:
        """The weights tag of a model file's sha256; ModelMismatchError if a pickled codec used other weights."""
        tag = bytes.fromhex(digest[:8])
        expected = self._expected_tags.get(model_id)
        if expected is not None and expected != tag:
            raise ModelMismatchError(f"model {model_id!r} here has other weights (tag {tag.hex()}) than the codec that "
                                     f"was pickled (tag {expected.hex()}); install the same aec in every process")
        return tag

    def __getstate__(self) -> dict:
        """What a copy in another process needs to re-open the same models (not the models, nor the locks)."""
        return {"model_id": self._model_id, "weights": self._weights, "device": str(self._device),
                "max_pixels": self.max_pixels, "threads": self.threads,
                "tags": {**self._expected_tags, **{name: tag for name, (_, tag) in self._decoders.items()},
                         **{name: entry[1] for name, entry in self._encoders.items()}}}

    def __setstate__(self, state: dict) -> None:
        self.__init__(None, device=state["device"], max_pixels=state["max_pixels"],  # loads nothing yet
                      threads=state.get("threads"))
        self._expected_tags = dict(state["tags"])
        self._weights = state["weights"]
        self._from_file = self._weights is not None
        if self._from_file:
            self._model_id = self._load(None, self._weights)  # the file's id, checked against the pickled tag
        elif state["model_id"] is not None:
            self._model_id = self._load(state["model_id"])

    def writing_threads(self) -> int:
        """The threads an output written beside this codec's work may take now (``aec.png``): ``threads``, else the
        cores other work leaves free."""
        return self.threads or free_threads.default_threads() or free_threads.cores()

    @contextmanager
    def _limited_threads(self) -> Iterator[None]:
        """numpy's layers (``aec.ops.workers``) and (if it is loaded) torch's pool at ``threads`` while the block
        runs; without ``threads``, at the cores other work leaves free (all of them when nothing else runs)."""
        threads = self.threads if self.threads is not None else free_threads.default_threads()
        if threads is None:
            with workers(free_threads.cores()):
                yield
            return
        torch = sys.modules.get("torch")  # only if encoding loaded it: decoding never imports torch
        with one_thread_blas(), workers(threads), _torch_threads(torch, threads):
            yield

    @property
    def model_id(self) -> str:
        """The model encode uses: the one asked for, else the default model (loaded now if it is not yet)."""
        with self._loading:
            if self._model_id is None:
                default = read_manifest().get("default")
                self._model_id = default if default in self._encoders else self._load(None)
            return self._model_id

    @property
    def model(self) -> torch.nn.Module:
        """The encoding model's torch module (its architecture's training module, loaded now if it is not yet): what
        efforts above 0 refine with."""
        return self._torch_model(self.model_id)

    @property
    def config(self) -> ModelConfig:
        """The encoding model's configuration (its architecture's sizes and quality table)."""
        return self._encoders[self.model_id][0].config

    @property
    def model_qualities(self) -> tuple[float, ...]:
        """The model qualities the encoding model was trained at (1 to 10 for the default model, 1 to 6 for the
        others)."""
        return self.config.qualities

    @property
    def model_quality_range(self) -> tuple[float, float]:
        """The lowest and highest model quality (the model's own scale, as the header stores it)."""
        return self.model_qualities[0], self.model_qualities[-1]

    @property
    def quality_scale(self) -> QualityScale:
        """How the 0-100 quality maps onto the encoding model's range (its manifest entry's, else linear)."""
        return self._scales[self.model_id]

    @property
    def effort_iterations(self) -> tuple[int, ...]:
        """The encoding model's refinement steps at each effort level, 0 to ``MAX_EFFORT`` (its manifest entry's, for
        a model whose light decoder makes each step cheap; else ``aec.config.EFFORT_ITERATIONS``)."""
        return self._efforts[self.model_id]

    def _decoder_for(self, header: Header) -> NumpyDecoder:
        """The decoder of the model a file names: from the loaded model if there is one (a --weights file), else from
        the installed model file, without torch."""
        if self._from_file and header.model_id not in self._encoders:
            raise ModelMismatchError(f"the file was written with model {header.model_id!r}, "
                                     f"but this codec holds only {self.model_id!r}")
        with self._loading:
            if header.model_id not in self._decoders:
                decoder, model_id, digest = load_decoder(header.model_id)
                self._decoders[header.model_id] = (decoder, self._checked_tag(model_id, digest))
        decoder, tag = self._decoders[header.model_id]
        if tag != header.weights_tag:
            raise ModelMismatchError(f"the file was written with other weights for model {header.model_id!r} "
                                     f"(tag {header.weights_tag.hex()}, installed {tag.hex()})")
        return decoder

    @property
    def default_quality(self) -> float:
        """The quality (0-100) encode uses when none is given: 75, as cwebp's."""
        return DEFAULT_QUALITY

    def check_quality(self, quality: float | None = None, *, model_quality: float | None = None) -> float:
        """The model quality encode would code at, in hundredths as the header stores it: ``quality`` (0 to 100,
        the default 75 when None) through the model's ``quality_scale``, or ``model_quality`` as it is; InputError
        for both, a bool or str, or a value out of range."""
        if model_quality is not None:
            if quality is not None:
                raise InputError("give quality (0 to 100) or model_quality (the model's own scale), not both")
            coded = self.config.check_quality(model_quality, self.model_id)
        else:
            scale = self.quality_scale
            low, high = scale.model_range
            quality = DEFAULT_QUALITY if quality is None else quality
            coded = scale.model_quality(check_number(
                quality, "quality", LOWEST, HIGHEST, f"give 0 to 100 (higher: larger file, better image; default "
                f"{DEFAULT_QUALITY:g}), which model {self.model_id} maps onto its qualities {low:g} to {high:g}"))
        return round(coded * 100) / 100

    def encode(self, image: ImageLike, quality: float | None = None, *, model_quality: float | None = None,
               effort: int = 0, target_size: int | None = None, target_bpp: float | None = None,
               target_psnr: float | None = None, strip: bool = False,
               progress: Callable[[float], None] | None = None) -> EncodeResult:
        """Compress an image and return the bytes with their header, rate and effort.

        Args:
            image: a path (str or os.PathLike), an encoded image's bytes (bytes, bytearray or memoryview of a PNG,
                JPEG, WebP, TIFF, ... file: anything Pillow reads), a binary file object, a PIL image (any mode:
                L, LA, RGB, RGBA, P, CMYK, I;16, I, F) or a uint8 (or uint16) numpy array HxW, HxWx1, HxWx2,
                HxWx3 or HxWx4. Only the first frame of an animated image is coded (with a UserWarning); wider
                input is reduced to 8 bits with a ``PrecisionWarning``.
            quality: 0 to 100 (higher: larger file, better image; fractions allowed), mapped onto the model's own
                range by its ``quality_scale`` (roughly matching libjpeg's PSNR at the same number, for the shipped
                models); None: 75 (``default_quality``). Not with model_quality or a target.
            model_quality: the model's own scale instead (``model_quality_range``, 1 to 10 for the default model), as
                the header stores it, in hundredths: for benchmarks and for files that must match earlier ones.
            effort: 0 (one pass, the default) to ``aec.config.MAX_EFFORT``: higher refines the latents longer for fewer bits
                at the same quality (``aec.refine``; the model's levels are ``effort_iterations``).
            target_size, target_bpp, target_psnr: search the model quality (at this effort) for a file of about this
                many bytes (within 2 %), bits per pixel, or PSNR in dB on the RGB planes (within 0.05 dB); a target
                out of reach gives the nearest end of the range, with ``target_met`` False.
            strip: leave out the ICC profile and EXIF block (they are kept by default).
            progress: called with the fraction done, from 0 to 1 (1 once, at the end), as the image's tiles and
                latent slices are coded (a target's search calls it per probe).

        Returns:
            EncodeResult: ``data`` (the .aec bytes), ``header`` (with the model quality coded, in hundredths),
            ``quality`` (0-100), ``bits_per_pixel``, ``estimated_bits``, ``effort``; ``target_met`` and ``psnr``
            with a target.

        Raises:
            InputError: an input of another type (None, a torch tensor, ...), an unreadable or empty image, one over
                the pixel limit (``max_pixels``), a quality or model quality that is not a number (bool and str are
                refused) or out of range, both of them, a bad effort or target.
            ModelMismatchError: the default model cannot be loaded.
        """
        effort = check_effort(effort)
        targets = {name: value for name, value in (("target_size", target_size), ("target_bpp", target_bpp),
                                                   ("target_psnr", target_psnr)) if value is not None}
        if len(targets) > 1 or (targets and (quality is not None or model_quality is not None)):
            raise InputError("give one of quality, model quality, target size, target bits per pixel or target PSNR")
        for name, value in targets.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise InputError(f"{name.replace('_', ' ')} must be a positive number, got {value!r}")
        coded_at, asked = 0.0, None  # the model quality to code at, and the quality (0-100) asked for, if any
        if not targets:
            # The header stores hundredths: code at the model quality the decoder will use.
            coded_at = self.check_quality(quality, model_quality=model_quality)
            asked = float(self.default_quality if quality is None else quality) if model_quality is None else None
        source = images.load(image, self.max_pixels, strip)
        height, width = source.rgb.shape[:2]
        # Kept as uint8 (edge-padded): the model converts tile by tile, so big photos stay small in memory.
        encoder, tag, _, _ = self._encoders[self.model_id]
        stride = encoder.stride
        padded = np.pad(source.rgb, ((0, (-height) % stride), (0, (-width) % stride), (0, 0)), mode="edge")
        coder = self._coder(effort, padded, (height, width))

        def code(at: float) -> EncodeResult:
            with self._lock, self._limited_threads():
                coded = coder(at)
            sections = [Section("ZHYP", coded.z_payload), Section("YLAT", coded.y_payload), *source.side_sections()]
            header = Header(model_id=self.model_id, weights_tag=tag, quality=at, width=width, height=height,
                            layout=source.layout, symbol_checksum=coded.checksum, coder_version=CODER_VERSION,
                            version=lowest_version(sections))
            data = pack(header, sections)
            described = self.quality_scale.describe(at) if asked is None else asked
            return EncodeResult(data, header, described, 8 * len(data) / (width * height), coded.estimated_bits,
                                effort)

        if not targets:
            with reporting(progress):
                return code(coded_at)
        (name, target), = targets.items()
        results: dict[float, EncodeResult] = {}
        psnrs: dict[float, float] = {}

        def measure(at: float) -> float:
            # Probe k of the search is the share [1 - 0.7^k, 1 - 0.7^(k+1)] of the progress: how many probes a
            # target takes is not known in advance (the search stops within the tolerance, after 12 at most).
            probe = len(results)
            with part(1 - PROBE_SHARE ** probe, 1 - PROBE_SHARE ** (probe + 1)):
                with part(0.0, 0.5 if name == "target_psnr" else 1.0):
                    results[at] = result = code(at)
                if name == "target_psnr":
                    with part(0.5, 1.0):
                        psnrs[at] = _coded_psnr(self.decompress_array(result.data), source.rgb)
                    return psnrs[at]
            return len(result.data) if name == "target_size" else result.bits_per_pixel

        low, high = self.model_quality_range
        with reporting(progress):
            found = search_quality(measure, float(target), low, high, relative=name != "target_psnr")
        return replace(results[found.quality], target_met=found.met, psnr=psnrs.get(found.quality))

    def _coder(self, effort: int, padded: np.ndarray, valid: tuple[int, int]) -> Callable[[float], Coded]:
        """What codes the padded image at a model quality (the one place that decides): the architecture's numpy
        one-pass encoder at effort 0 on the CPU; else its torch module, which refines the latents for the effort's
        steps (``effort_iterations``) and runs on ``device``. valid: the image's own (height, width)."""
        encoder = self._encoders[self.model_id][0]
        if not effort and self._on_cpu:
            return lambda at: encoder.compress(padded, at)
        model = self._torch_model(self.model_id)  # first: without torch it says which extra to install
        import torch

        x = torch.from_numpy(padded).permute(2, 0, 1).unsqueeze(0)
        iterations = self.effort_iterations[effort]
        return lambda at: model.compress(x, at, iterations, valid)

    def compress(self, image: ImageLike, quality: float | None = None, *, model_quality: float | None = None,
                 effort: int = 0, strip: bool = False, progress: ProgressCallback | None = None) -> bytes:
        """Compress an image to .aec bytes.

        Args:
            image: a path, an encoded image's bytes, a binary file, a PIL image or a uint8 numpy array (see
                ``encode``).
            quality: 0 to 100 (fractions allowed), mapped onto the model's range by its ``quality_scale``; None:
                75. model_quality: the model's own scale instead (1 to 10 for the default model, 1 to 6 for the
                others); not both.
            effort: 0 to ``aec.config.MAX_EFFORT``. strip: leave out the ICC profile and EXIF block.
            progress: called with the fraction done, 0 to 1 (see ``encode``).

        Returns:
            bytes: the .aec file.

        Raises:
            InputError: an unusable image, quality or effort (see ``encode``); other ``AECError`` subclasses for a
                model that cannot be loaded.
        """
        return self.encode(image, quality, model_quality=model_quality, effort=effort, strip=strip,
                           progress=progress).data

    def _decode(self, data: DataLike, progress: ProgressCallback | None) -> tuple[np.ndarray, Header, dict[str, bytes]]:
        header, sections = parse(_read_bytes(data, self.max_pixels), max_pixels=self.max_pixels)
        check_coder_version(header.coder_version)
        payloads = {s.kind: s.payload for s in sections}
        decoder = self._decoder_for(header)
        height = header.height + (-header.height) % decoder.stride
        width = header.width + (-header.width) % decoder.stride
        with self._lock, self._limited_threads(), reporting(progress):
            rgb = decoder.decode_rgb(payloads["ZHYP"], payloads["YLAT"], header.quality, height, width,
                                     header.symbol_checksum, major=header.version[0])
        if rgb.shape[:2] != (header.height, header.width):
            rgb = np.ascontiguousarray(rgb[:header.height, :header.width])
        return images.assemble(rgb, header.layout, payloads), header, payloads

    def decompress_array(self, data: DataLike, *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Decode .aec data to a numpy array.

        Args:
            data: .aec bytes (bytes, bytearray, memoryview), a path or a binary file object.
            progress: called with the fraction done, from 0 to 1 (1 once, at the end), as the latent slices and
                the synthesis tiles are decoded.

        Returns:
            numpy.ndarray: uint8, HxWx3 RGB, HxW gray, HxWx2 gray+alpha or HxWx4 RGBA, as the file was coded.

        Raises:
            InputError: data of another type, or an unreadable path.
            FormatError: data that is not a valid .aec file (truncated, corrupt, over the pixel limit).
            UnsupportedVersionError: a format or entropy-coder version this aec does not read.
            ModelMismatchError: the model or weights the file names are not installed (or not this codec's).
        """
        return self._decode(data, progress)[0]

    def decode(self, data: DataLike, *, progress: ProgressCallback | None = None) -> DecodeResult:
        """Decode .aec data (bytes, a path or a binary file) to a PIL image with the file's header; ``progress`` as
        for ``decompress_array``.

        Returns:
            DecodeResult: ``image`` (PIL, mode L, LA, RGB or RGBA; ICC profile and EXIF in ``image.info``) and
            ``header``.

        Raises:
            AECError: as ``decompress_array`` (InputError, FormatError, UnsupportedVersionError,
                ModelMismatchError).
        """
        array, header, payloads = self._decode(data, progress)
        return DecodeResult(images.to_pil(array, header.layout, payloads), header)

    def decompress(self, data: DataLike, *, progress: ProgressCallback | None = None) -> Image.Image:
        """Decode .aec data (bytes, a path or a binary file) to a PIL image; ``progress`` as for
        ``decompress_array``.

        Returns:
            PIL.Image.Image: mode L, LA, RGB or RGBA, as the file was coded; ICC profile and EXIF in its info.

        Raises:
            AECError: as ``decompress_array``.
        """
        return self.decode(data, progress=progress).image


_default: Codec | None = None
_default_lock = threading.Lock()


def default_codec() -> Codec:
    """The shipped default model, loaded once per process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Codec()
        return _default


def compress(image: ImageLike, quality: float | None = None, *, model_quality: float | None = None,
             effort: int = 0, strip: bool = False, progress: ProgressCallback | None = None) -> bytes:
    """Compress an image with the default model (loaded once per process).

    Args:
        image: a path, an encoded image's bytes (PNG, JPEG, ... as bytes, bytearray or memoryview), a binary file
            object, a PIL image or a uint8 numpy array HxW[xC]; see ``Codec.encode``.
        quality: a number (int or float, not bool or str) from 0 to 100, higher for a larger file and a better
            image; None: 75. Mapped onto the model's own range by its scale in the manifest (roughly libjpeg's
            PSNR at the same number).
        model_quality: the model's own scale instead (1 to 10 for the default model, as the header stores it);
            not with quality.
        effort: 0 (default, one pass) to 5. strip: leave out the ICC profile and EXIF block.
        progress: called with the fraction done, from 0 to 1, while the image is coded.

    Returns:
        bytes: the .aec file.

    Raises:
        InputError: an input of another type, an unreadable image, a quality or effort the model does not take.
        ModelMismatchError: the default model cannot be loaded.
    """
    return default_codec().compress(image, quality, model_quality=model_quality, effort=effort, strip=strip,
                                    progress=progress)


def decompress(data: DataLike) -> Image.Image:
    """Decode .aec data with the model the file names (loaded once per process).

    Args:
        data: .aec bytes (bytes, bytearray, memoryview), a path or a binary file object.

    Returns:
        PIL.Image.Image: mode L, LA, RGB or RGBA, as the file was coded; ICC profile and EXIF in its info.

    Raises:
        InputError: data of another type. FormatError: not a valid .aec file. UnsupportedVersionError: a version
            this aec does not read. ModelMismatchError: the model the file names is not installed.
    """
    return default_codec().decompress(data)


def decompress_array(data: DataLike) -> np.ndarray:
    """Decode .aec data (bytes, a path or a binary file) with the model the file names.

    Returns:
        numpy.ndarray: uint8, HxWx3 RGB, HxW gray, HxWx2 gray+alpha or HxWx4 RGBA.

    Raises:
        AECError: as ``Codec.decompress_array`` (InputError, FormatError, UnsupportedVersionError,
            ModelMismatchError).
    """
    return default_codec().decompress_array(data)


def read_header(data: DataLike) -> Header:
    """The header of .aec data, without decoding the image or loading a model.

    Args:
        data: .aec bytes (bytes, bytearray, memoryview), a path or a binary file object.

    Returns:
        aec.bitstream.Header: model id, weights tag, quality, width, height, layout, checksum, coder version.

    Raises:
        InputError: data of another type. FormatError: not a valid .aec container (the CRC is checked).
            UnsupportedVersionError: a format version this aec does not read.
    """
    return _read_header(_read_bytes(data))


__all__ = ["Codec", "EncodeResult", "DecodeResult", "compress", "decompress", "decompress_array", "read_header",
           "WEIGHTS_DIR"]
