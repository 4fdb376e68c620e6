"""Model configuration: the architecture and the quality table, stored in every model file's manifest."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .quality_scale import check_number


MAX_WIDTH = 1 << 16  # the most channels (or scale levels, or z support) a config may give
MAX_QUALITIES = 655  # a header stores the model quality in hundredths in a u16: at most 655.35


def _positive(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < math.inf


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the transforms and entropy model, and the rate-distortion trade-offs it was trained for.

    Model quality q in [1, len(lambdas)] selects lambdas[q - 1]; fractional ones interpolate the gain vectors. (Users
    give 0 to 100, mapped onto this range per model: ``aec.quality_scale``.)
    """

    N: int = 128  # width of the analysis/synthesis transforms
    M: int = 192  # latent channels
    Z: int = 128  # hyper-latent channels
    slices: int = 4  # channel slices of the context model (M must divide evenly)
    hyper_width: int = 192  # channels of the integer hyper-synthesis output
    context_width: int = 128  # hidden width of the integer slice networks
    lambdas: tuple[float, ...] = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483)
    scale_levels: int = 64
    scale_low: float = 0.11
    scale_high: float = 256.0
    z_support: int = 48  # z symbols in [-z_support, z_support] use the tables; others are escape-coded

    def __post_init__(self) -> None:
        """ValueError for a config no model can have (a model file's config comes from a stranger)."""
        if isinstance(self.lambdas, list):  # as JSON gives it
            object.__setattr__(self, "lambdas", tuple(self.lambdas))
        for name in ("N", "M", "Z", "slices", "hyper_width", "context_width", "scale_levels", "z_support"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WIDTH:
                raise ValueError(f"config field {name} must be a whole number from 1 to {MAX_WIDTH}, got {value!r}")
        if self.M % self.slices:
            raise ValueError(f"M={self.M} is not divisible by slices={self.slices}")
        if not isinstance(self.lambdas, tuple) or not 1 <= len(self.lambdas) <= MAX_QUALITIES:
            raise ValueError(f"lambdas must be 1 to {MAX_QUALITIES} numbers (one a quality), got {self.lambdas!r}")
        for name, values in (("lambdas", self.lambdas), ("scale_low", (self.scale_low,)),
                             ("scale_high", (self.scale_high,))):
            if not all(_positive(value) for value in values):
                raise ValueError(f"config field {name} must hold finite numbers above 0, got {getattr(self, name)!r}")
        if not self.scale_low < self.scale_high:
            raise ValueError(f"scale_low ({self.scale_low!r}) must be below scale_high ({self.scale_high!r})")

    def interpolation(self, quality: float) -> tuple[int, int, float]:
        """(low, high, t): a model quality lies t of the way from trained quality low + 1 to high + 1 (indexes into
        lambdas), clamped to the trained range; the gains, their inverses and the refinement's lambda interpolate
        log-linearly with it: the numpy coders' ``interpolated``, ``AECModel.gains`` per sample and the refinement's
        lambda (``aec.refine``) all take these weights."""
        count = len(self.lambdas)
        position = min(max(float(quality) - 1.0, 0.0), count - 1.0)
        low = min(int(position), count - 1)
        return low, min(low + 1, count - 1), position - low

    def interpolated(self, log_table: np.ndarray, quality: float) -> np.ndarray:
        """exp of a table of logs (one row per trained quality: the gains, their inverses) at a model quality,
        log-linear between the rows (``interpolation``), in the table's float type."""
        low, high, t = self.interpolation(quality)
        return np.exp(log_table[low] * log_table.dtype.type(1 - t) + log_table[high] * log_table.dtype.type(t))

    @property
    def qualities(self) -> tuple[float, ...]:
        return tuple(float(q) for q in range(1, len(self.lambdas) + 1))

    def check_quality(self, quality: float, model_id: str | None = None) -> float:
        """A model quality (this model's own scale, as the header stores it) as a float; InputError if this model
        cannot take it. The one check of a model quality (the 0-100 scale maps onto it: ``aec.quality_scale``);
        model_id names the model in the message."""
        low, high = self.qualities[0], self.qualities[-1]
        takes = (f"{f'model {model_id}' if model_id else 'the model'} takes model qualities from {low:g} to {high:g} "
                 f"(trained at {', '.join(f'{q:g}' for q in self.qualities)})")
        return check_number(quality, "model quality", low, high, takes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown model config fields: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


TINY = ModelConfig(N=16, M=16, Z=8, slices=2, hyper_width=16, context_width=16,
                   lambdas=(0.004, 0.016, 0.064), z_support=16)


# Encoder effort: refinement steps per level (aec.refine); effort 0 is the one-pass encoder. Chosen from the measured
# curve of gain against time (benchmarks/effort.py, README "Encoder effort"). Torch-free, for the command line.
EFFORT_ITERATIONS = (0, 10, 25, 60, 150, 400)
MAX_EFFORT = len(EFFORT_ITERATIONS) - 1
# A released model may give its own steps per level in its manifest entry (``effort_iterations``): a light decoder
# makes each step several times cheaper (docs/effort.md), so its levels take more steps in about the same time.
MAX_EFFORT_ITERATIONS = 10_000  # the most steps a level may take (the longest level of any model measured: 1,000)


def check_effort_iterations(levels: object) -> tuple[int, ...]:
    """A model's refinement steps per effort level as a tuple; ValueError unless they are MAX_EFFORT + 1 whole
    numbers, 0 first (effort 0 is the one-pass encoder), each level more than the one before, the last at most
    ``MAX_EFFORT_ITERATIONS``."""
    if (not isinstance(levels, (list, tuple)) or len(levels) != MAX_EFFORT + 1
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in levels)
            or levels[0] != 0 or any(b <= a for a, b in zip(levels, levels[1:])) or levels[-1] > MAX_EFFORT_ITERATIONS):
        raise ValueError(f"effort iterations must be {MAX_EFFORT + 1} ascending whole numbers from 0 to at most "
                         f"{MAX_EFFORT_ITERATIONS}, got {levels!r}")
    return tuple(levels)


def check_effort(effort: int) -> int:
    """The effort level as an int; InputError unless it is a whole number from 0 to MAX_EFFORT."""
    if isinstance(effort, bool) or not isinstance(effort, int) or not 0 <= effort <= MAX_EFFORT:
        raise InputError(f"effort must be a whole number from 0 to {MAX_EFFORT}, got {effort!r}")
    return effort
