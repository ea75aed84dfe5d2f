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


def touch(path) -> None:
    """Mark a cache entry as just used (its modification time: access times are often not
    kept), so that :func:`trim` removes it last."""
    try:
        os.utime(path)
    except OSError:
        pass


def trim(folder, cap_bytes: int, suffix: str, keep=()) -> None:
    """Remove the entries ending in ``suffix`` of ``folder`` used longest ago (oldest
    modification time first) until the rest fit into ``cap_bytes``; ``keep`` are never
    removed (the entry just written). Temporary files are not entries (the atomic writer
    cleans those of dead runs)."""
    keep = {os.path.abspath(k) for k in keep}
    entries = []
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(".") or not name.endswith(suffix):
            continue
        full = os.path.join(folder, name)
        try:
            st = os.stat(full)
        except OSError:
            continue
        entries.append((st.st_mtime_ns, name, st.st_size, full))
    used = sum(e[2] for e in entries)
    for _, _, size, full in sorted(entries):
        if used <= cap_bytes:
            break
        if os.path.abspath(full) in keep:
            continue
        try:
            os.unlink(full)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        used -= size
