"""The 0-100 quality scale: how the quality users type (as to cwebp, avifenc, cjxl) maps onto a model's own range.

A model codes at any quality in its own continuous range (1 to 6 for the shipped models: the gains it was trained at,
interpolated), and the .aec header stores that model quality. Users give 0 to 100. Each released model's entry in
``weights/manifest.json`` holds its ``quality_scale``: anchors ``{"0": 1.0, "20": 1.72, ..., "100": 6.0}`` from the
0-100 scale to the model's, piecewise linear between them, strictly increasing, 0 and 100 at the ends of the model's
range. A released scale never changes (a test holds the released ones), so a model id and a quality keep meaning the
same file. A model without one (a model file that is not in the manifest, the tests' tiny models) maps 0-100
linearly onto its range.

The anchors are computed from the model's release benchmark, in cjxl's habit of "-q roughly matching libjpeg":

    quality Q (a JPEG quality measured)  ->  the model quality whose mean Kodak PSNR equals libjpeg's at Q

for each measured JPEG quality whose PSNR lies inside the model's (linear between the model's measured qualities),
with 0 and 100 at the ends of the model's range (``calibrate``; ``benchmarks/quality_scale.py`` and
``benchmarks/manifest_results.py`` run it on an ``rd.py`` summary). Numpy- and torch-free: ``aec info`` uses it.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InputError

__all__ = ["DEFAULT_QUALITY", "LOWEST", "HIGHEST", "QualityScale", "calibrate", "check_number"]

LOWEST, HIGHEST = 0.0, 100.0
DEFAULT_QUALITY = 75.0  # as cwebp's
REFERENCE = "jpeg420"  # libjpeg (through Pillow) at its default 4:2:0 subsampling, as rd.py measures it


def check_number(value: object, what: str, low: float, high: float, takes: str) -> float:
    """value as a float in [low, high]; otherwise an InputError ``{what} {value} is ...: {takes}``.

    A bool is an int to Python and a string converts with float(): both are mistakes, not numbers.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} {value!r} is not a number ({type(value).__name__}): {takes}")
    number = float(value)
    if math.isnan(number):
        raise InputError(f"{what} nan is not a number: {takes}")
    if not low <= number <= high:
        raise InputError(f"{what} {number:g} is out of range: {takes}")
    return number


@dataclass(frozen=True)
class QualityScale:
    """Anchors (quality 0-100, model quality), both strictly increasing, from 0 to 100; linear in between."""

    anchors: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        qualities = [quality for quality, _ in self.anchors]
        models = [model for _, model in self.anchors]
        if len(self.anchors) < 2 or qualities[0] != LOWEST or qualities[-1] != HIGHEST:
            raise ValueError(f"a quality scale runs from {LOWEST:g} to {HIGHEST:g}, got anchors at {qualities}")
        if not all(math.isfinite(value) for value in qualities + models):
            raise ValueError("quality scale anchors must be finite numbers")
        for values in (qualities, models):
            if any(b <= a for a, b in zip(values, values[1:])):
                raise ValueError(f"quality scale anchors must increase strictly, got {dict(self.anchors)}")

    @classmethod
    def linear(cls, low: float, high: float) -> "QualityScale":
        """0-100 onto [low, high] in a straight line: the scale of a model that has none in the manifest."""
        return cls(((LOWEST, float(low)), (HIGHEST, float(high))))

    @classmethod
    def from_manifest(cls, block: Mapping, low: float, high: float) -> "QualityScale":
        """The scale of a manifest entry's ``quality_scale`` block; ValueError unless its ends are [low, high]."""
        anchors = tuple(sorted((float(quality), float(model)) for quality, model in block["anchors"].items()))
        scale = cls(anchors)
        if scale.model_range != (float(low), float(high)):
            raise ValueError(f"the quality scale spans model qualities {scale.model_range[0]:g} to "
                             f"{scale.model_range[1]:g}, the model {low:g} to {high:g}")
        return scale

    def to_manifest(self) -> dict[str, float]:
        """The anchors as the manifest writes them: {"0": 1.0, ..., "100": 6.0}."""
        return {f"{quality:g}": model for quality, model in self.anchors}

    @property
    def model_range(self) -> tuple[float, float]:
        return self.anchors[0][1], self.anchors[-1][1]

    def model_quality(self, quality: float) -> float:
        """The model quality of a quality in [0, 100] (not rounded)."""
        return _interpolate(self.anchors, quality)

    def quality(self, model_quality: float) -> float:
        """The quality 0-100 of a model quality in the model's range (not rounded)."""
        return _interpolate(tuple((model, quality) for quality, model in self.anchors), model_quality)

    def describe(self, model_quality: float) -> float:
        """The quality 0-100 to show for a coded model quality (hundredths): the whole number whose model quality
        rounds to it where there is one (a file coded with -q 75 says 75), else the quality to a tenth."""
        whole = round(self.quality(model_quality))
        if LOWEST <= whole <= HIGHEST and round(self.model_quality(whole) * 100) == round(model_quality * 100):
            return float(whole)
        return round(self.quality(model_quality), 1)


def _interpolate(points: tuple[tuple[float, float], ...], x: float) -> float:
    xs = [point[0] for point in points]
    x = min(max(float(x), xs[0]), xs[-1])
    right = min(max(bisect.bisect_right(xs, x), 1), len(xs) - 1)
    (x0, y0), (x1, y1) = points[right - 1], points[right]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def calibrate(model_psnr: Mapping[float, float], reference_psnr: Mapping[float, float]) -> dict[str, float]:
    """The anchors of a model's scale from its measured curve and libjpeg's (see the module docstring).

    Args:
        model_psnr: model quality -> mean PSNR (dB) measured there; its lowest and highest qualities are the ends
            of the model's range (0 and 100). The PSNR must increase with the quality.
        reference_psnr: JPEG quality -> libjpeg's mean PSNR on the same images. A JPEG quality whose PSNR is not
            strictly inside the model's, or whose anchor (to hundredths, as the header codes) would not increase
            strictly, gives no anchor.

    Returns:
        {"0": lowest, "<Q>": model quality, ..., "100": highest}, model qualities rounded to hundredths.
    """
    curve = sorted((float(quality), float(psnr)) for quality, psnr in model_psnr.items())
    if len(curve) < 2 or any(b[1] <= a[1] for a, b in zip(curve, curve[1:])):
        raise ValueError(f"the model's PSNR must increase with its quality, got {dict(curve)}")
    by_psnr = tuple((psnr, quality) for quality, psnr in curve)
    low, high = curve[0][0], curve[-1][0]
    anchors = [(LOWEST, low)]
    for quality, psnr in sorted((float(q), float(p)) for q, p in reference_psnr.items()):
        if not LOWEST < quality < HIGHEST or not by_psnr[0][0] < psnr < by_psnr[-1][0]:
            continue
        model = round(_interpolate(by_psnr, psnr), 2)
        if anchors[-1][1] < model < high:
            anchors.append((quality, model))
    anchors.append((HIGHEST, high))
    return QualityScale(tuple(anchors)).to_manifest()
