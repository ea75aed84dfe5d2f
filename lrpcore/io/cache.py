"""Where downloaded and decompressed datasets live: one per-user cache folder.

``LRP_CACHE_DIR`` overrides the platform's cache folder (``platformdirs``), so that tests,
clusters and read-only homes can point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatasetError

CACHE_ENV = "LRP_CACHE_DIR"


def cache_dir(sub: str | None = None, create: bool = True) -> Path:
    """The cache folder (or its subfolder ``sub``), created on demand."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("lrp-explorer")
    path = Path(root) / sub if sub else Path(root)
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"{path}: cannot create the cache folder "
                               f"({exc.strerror or exc}); set {CACHE_ENV} to a writable "
                               "folder") from None
    return path
