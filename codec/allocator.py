"""The C allocator of an aec process, set for coding: ``tune()``, called by the command line and its -j workers.

A decode allocates and frees arrays of a few megabytes layer after layer. glibc's malloc serves each from fresh pages
(mmap, or a heap it trims back after every free), so a process that decodes once pays the kernel's page faults on
every intermediate array, and its first decode is slower than a second one in the same process. Kept heap pages are
reused instead. aec sets this only in its own
processes (the command line, its workers): a program that imports aec keeps its allocator as it was.

`python benchmarks/allocator.py FILE.aec` times a whole `aec decompress` with these settings and without
(docs/speed.md has the numbers).
"""

from __future__ import annotations

import ctypes
import sys

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS = (
    (M_MMAP_THRESHOLD, 32 << 20),  # glibc's largest: arrays up to 32 MiB come from the heap, bigger ones are mapped
    (M_TRIM_THRESHOLD, 1 << 30),  # give freed heap memory back to the system only beyond 1 GiB
    (M_TOP_PAD, 64 << 20),  # grow the heap 64 MiB at a time (address space; pages count once touched)
)


def tune() -> bool:
    """Set glibc's malloc for a coding process; True when set, False where there is no glibc mallopt (macOS,
    Windows, musl) and nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(parameter, value) == 1 for parameter, value in SETTINGS)
