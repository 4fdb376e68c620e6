"""How many threads to code with by default: the cores that other work leaves free, at least one.

One thread per core is the fastest on an idle machine, but a core that another process keeps busy makes the threads
of a BLAS call wait for the slowest of them: with one busy process beside it, a two-thread `aec decompress` took 2.1
times as long as a one-thread one (issue 25). So by default aec counts the cores it may run on (its affinity) that
other work does not keep busy, from Linux's /proc/stat over the time since the last count (at least ``WINDOW_S``),
less this process's own CPU time, and codes with that many threads. Work at a lower priority (a positive nice value,
as a background training job) counts too: measured beside two training jobs and a test run at nice 10, two threads
took 6 times as long as one (``python benchmarks/busy.py``), as the threads of each matrix product wait for the one
that shares its core. Where there is no /proc/stat, the libraries keep their default, one thread per core.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["WINDOW_S", "CpuSample", "Sampler", "SharedSetting", "cores", "default_threads", "free_cores", "sample",
           "start"]

WINDOW_S = 0.05  # the shortest window a count is taken over: 5 clock ticks of a busy core at the usual 100 Hz
STALE_S = 10.0  # a count older than this says nothing of the load now: a new window is measured
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# /proc/stat's columns after "cpuN": user nice system idle iowait irq softirq steal (guest time is within user).
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)  # all but idle and iowait


@dataclass(frozen=True)
class CpuSample:
    """A point in time: the busy seconds of the cores and this process's own CPU seconds."""

    time: float
    busy: float
    own: float


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def sample(stat_path: str = "/proc/stat") -> CpuSample | None:
    """The busy time of the cores this process may run on, from /proc/stat, and its own; None where there is none."""
    try:
        allowed = {f"cpu{cpu}" for cpu in os.sched_getaffinity(0)}
        with open(stat_path, encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except (AttributeError, OSError, UnicodeDecodeError):
        return None
    busy = 0
    for line in lines:
        name, *columns = line.split()
        if name in allowed and len(columns) >= 8:
            busy += sum(int(columns[column]) for column in _BUSY_COLUMNS)
    own = os.times()
    return CpuSample(time.monotonic(), busy / _CLOCK_TICKS, own.user + own.system)


def free_cores(before: CpuSample, after: CpuSample, total: int) -> int:
    """The cores of ``total`` that other processes left free between two samples, at least 1 (rounded: a core busy
    half the time counts as free)."""
    elapsed = after.time - before.time
    if elapsed <= 0:
        return total
    others = max(0.0, after.busy - before.busy - (after.own - before.own)) / elapsed  # in cores
    return max(1, min(total, int(total - others + 0.5)))


class Sampler:
    """Free cores over the time since the last call (a new window of at least ``WINDOW_S`` when there was none, or
    it is older than ``STALE_S``); thread-safe. ``read``, ``sleep``, ``clock`` and ``total`` are there for the tests
    (``clock`` must be the clock of the samples' times)."""

    def __init__(self, read: Callable[[], CpuSample | None] = sample, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, total: Callable[[], int] = cores):
        self._read, self._sleep, self._clock, self._total = read, sleep, clock, total
        self._last: CpuSample | None = None
        self._lock = threading.Lock()

    def _fresh(self) -> bool:
        return self._last is not None and self._clock() - self._last.time <= STALE_S

    def start(self) -> None:
        """Begin a window now unless one is under way (a command's start-up then counts towards it)."""
        with self._lock:
            if not self._fresh():
                self._last = self._read()

    def free(self) -> int | None:
        """The free cores, or None where the load cannot be read (the libraries then keep their default)."""
        with self._lock:
            total = self._total()
            if total < 2:
                return total
            last = self._last if self._fresh() else self._read()
            if last is None:
                return None
            waited = self._clock() - last.time
            if waited < WINDOW_S:
                self._sleep(WINDOW_S - waited)
            now = self._read()
            if now is None:
                return None
            self._last = now
            return free_cores(last, now, total)


_SAMPLER = Sampler()


def start() -> None:
    """Begin the window of the first count now (the CLI does, as a command starts)."""
    _SAMPLER.start()


def default_threads() -> int | None:
    """The threads to code with when none are asked for: the free cores, or None (the libraries' default, one per
    core) where they are all free or the load cannot be read."""
    free = _SAMPLER.free()
    return None if free is None or free >= cores() else free


class SharedSetting:
    """A process-wide setting (numpy's BLAS threads, torch's) that calls from several threads hold at once: the first
    to enter applies it, the last to leave restores what was there. A count, not a stack: calls may end in any order,
    where nested limits each restoring what it found would, unwound out of order, leave the process limited for good.
    While calls overlap, a later one runs under the setting the first applied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._restore: Callable[[], None] | None = None

    @contextmanager
    def held(self, apply: Callable[[], Callable[[], None]]) -> Iterator[None]:
        """apply() (which returns the call that undoes it) unless another call holds the setting already."""
        with self._lock:
            if self._holders == 0:
                self._restore = apply()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    restore, self._restore = self._restore, None
                    if restore is not None:
                        restore()
