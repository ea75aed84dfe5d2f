"""Keeping freed memory in the process instead of returning it to the OS at once.

A batch explanation allocates tens of megabytes of activations, uses them for milliseconds and
frees them. glibc's malloc serves blocks of that size with fresh ``mmap`` calls and hands them
back on ``free``, so every forward pass pays page faults to zero the same memory again; on this
project's 2-core VM that cost a LeNet-5 batch of 256 (float64) a third of its time. Raising the
mmap and trim thresholds lets freed blocks be reused. Applications call this once at start
(``lrp`` and ``lrp-explorer`` do); a library import never changes the process's allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's upper limit on 64-bit systems


@functools.lru_cache(maxsize=1)
def keep_freed_memory(trim_mb: int = 256) -> bool:
    """Let glibc keep up to ``trim_mb`` MB of freed memory for reuse; True when applied.

    A no-op (False) where the C library is not glibc, e.g. on macOS or Windows.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    trimmed = mallopt(_M_TRIM_THRESHOLD, int(trim_mb) * 2**20)
    mapped = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
    return bool(trimmed and mapped)
