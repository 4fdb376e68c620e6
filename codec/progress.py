"""Progress within one image: how much of its coding is done, as a fraction for a callback (the CLI's progress line).

    with reporting(callback):           # callback(fraction): increasing, from 0 up to 1, 1 once at the end
        with part(0.0, 0.54):           # this block is that share of the whole ...
            for k in range(n):
                ...
                tick(k + 1, n)          # ... and has done k + 1 of its n pieces of work

Free unless a callback is reporting in this context (as ``aec.timing``'s Stopwatch): the tiles of the transforms
(``aec.tiling``) and the latent slices tick, and the model says what share of an image each stage is
(``aec.model``, ``aec.latent_codecs``), measured with ``benchmarks/speed.py``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Callback = Callable[[float], None]


class _Reporter:
    def __init__(self, callback: Callback):
        self.callback = callback
        self.last = -1.0

    def report(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction > self.last:  # never back: a part that is done again (a target's probes) says nothing new
            self.last = fraction
            self.callback(fraction)


@dataclass(frozen=True)
class _Span:
    reporter: _Reporter
    low: float
    high: float

    def at(self, fraction: float) -> float:
        return self.low + (self.high - self.low) * fraction


_current: contextvars.ContextVar[_Span | None] = contextvars.ContextVar("aec_progress", default=None)


@contextmanager
def reporting(callback: Callback | None) -> Iterator[None]:
    """Report the progress of the block to callback (None: nothing), with 0 first and 1 when it ends without error."""
    if callback is None:
        yield
        return
    reporter = _Reporter(callback)
    token = _current.set(_Span(reporter, 0.0, 1.0))
    try:
        reporter.report(0.0)
        yield
        reporter.report(1.0)
    finally:
        _current.reset(token)


@contextmanager
def part(start: float, end: float) -> Iterator[None]:
    """The block is the share [start, end] of the enclosing part (of the whole image at the top)."""
    span = _current.get()
    if span is None:
        yield
        return
    token = _current.set(_Span(span.reporter, span.at(start), span.at(end)))
    try:
        yield
    finally:
        _current.reset(token)
    span.reporter.report(span.at(end))


def tick(done: int, total: int) -> None:
    """done of the enclosing part's total pieces of work are done."""
    span = _current.get()
    if span is not None and total > 0:
        span.reporter.report(span.at(done / total))


def in_turn(steps: Sequence[Callable[[Any], Any]], x: Any, costs: Sequence[float]) -> Any:
    """x through the steps in turn (the layers of a network), each the share of the enclosing part that its cost is
    of the total, so that the steps' own ticks (a layer's strips) move the progress evenly."""
    total = sum(costs)
    if _current.get() is None or total <= 0:
        for step in steps:
            x = step(x)
        return x
    start = 0.0
    for step, cost in zip(steps, costs):
        end = min(1.0, start + cost / total)
        with part(start, end):
            x = step(x)
        start = end
    return x


def shares(weights: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Consecutive parts of [0, 1] in proportion to the weights, by name: {"a": 1, "b": 3} -> a (0, .25), b (.25, 1)."""
    total = sum(weights.values())
    parts, start = {}, 0.0
    for name, weight in weights.items():
        parts[name] = (start, start + weight / total)
        start += weight / total
    return parts
