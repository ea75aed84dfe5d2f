"""Caps on what the user did not ask for (download size and time, cache size), in one place.

Each cap has a default stated in the README and an environment variable to change it; a
value that is not a positive number is refused with the variable's name (never ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import LRPError


@dataclass(frozen=True)
class Limit:
    env: str
    default: float
    unit: str  # how the value is written: "MB" (2**20 bytes) or "s"
    what: str

    def value(self) -> float:
        """The cap in its unit: the environment variable if set, else the default."""
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not (0 < value < float("inf")):
            raise LRPError(f"{self.env}={raw!r}: {self.what} must be a positive number "
                           f"of {self.unit}")
        return value

    def bytes(self) -> int:
        return int(self.value() * 2**20)


DOWNLOAD_MAX = Limit("LRP_DOWNLOAD_MAX_MB", 64, "MB", "the largest file a download may be")
DOWNLOAD_DEADLINE = Limit("LRP_DOWNLOAD_DEADLINE_S", 900, "s",
                          "the longest one file's download may take")
DOWNLOAD_STALL = Limit("LRP_DOWNLOAD_STALL_S", 30, "s",
                       "how long a download may wait for the next byte")
CACHE_MAX = Limit("LRP_CACHE_MAX_MB", 512, "MB",
                  "the most one decompressed dataset may put into the cache")
RELMAX_CACHE_MAX = Limit("LRP_RELMAX_CACHE_MAX_MB", 256, "MB",
                         "the most the RelMax reference cache may hold")
