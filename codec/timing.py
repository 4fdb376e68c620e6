"""Wall time per coding stage, for benchmarks/speed.py: free unless a Stopwatch is running in this context.

    with Stopwatch() as watch:
        codec.compress(image)
    watch.seconds    # {"read": ..., "g_a": ..., "h_a": ..., "z coding": ..., "h_s": ..., "slice networks": ...}
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

_current: contextvars.ContextVar["Stopwatch | None"] = contextvars.ContextVar("aec_stopwatch", default=None)


class Stopwatch:
    """Adds up the time spent in each named stage while it is entered."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __enter__(self) -> "Stopwatch":
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc) -> None:
        _current.reset(self._token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the block's wall time under ``name`` in the running Stopwatch, if any."""
    watch = _current.get()
    if watch is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        watch.seconds[name] = watch.seconds.get(name, 0.0) + time.perf_counter() - started
