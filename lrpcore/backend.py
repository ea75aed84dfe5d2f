"""Choice of array module (numpy on the CPU, cupy on an NVIDIA GPU) and of float precision.

The engine is written against the subset of the numpy API that cupy shares, and receives the
module to use as ``xp``. Nothing here imports cupy unless it is asked for or auto-detected.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .errors import BackendError

DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Backend:
    """An array module with a name and a short description of its device."""

    name: str
    xp: object
    device: str

    def asarray(self, a, dtype=None):
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        if self.name == "numpy":
            return np.asarray(a)
        return self.xp.asnumpy(a)

    def synchronize(self) -> None:
        if self.name == "cupy":
            self.xp.cuda.Device().synchronize()


NUMPY = Backend("numpy", np, "CPU")


@functools.lru_cache(maxsize=1)
def _cupy_backend() -> Backend | None:
    try:
        import cupy  # noqa: PLC0415 (optional dependency)

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        return Backend("cupy", cupy, f"GPU {name}")
    except Exception:  # no cupy, no driver, no device: all mean "no GPU here"
        return None


def gpu_available() -> bool:
    """True when cupy is installed and sees at least one CUDA device."""
    return _cupy_backend() is not None


def get_backend(name: str | Backend | None = None) -> Backend:
    """Resolve ``None``/``"auto"`` (GPU when available), ``"numpy"`` or ``"cupy"``."""
    if isinstance(name, Backend):
        return name
    if name in (None, "auto"):
        return _cupy_backend() or NUMPY
    if name in ("numpy", "cpu"):
        return NUMPY
    if name in ("cupy", "gpu", "cuda"):
        backend = _cupy_backend()
        if backend is None:
            raise BackendError("backend 'cupy' requested, but cupy is not installed or sees no GPU")
        return backend
    raise BackendError(f"unknown backend {name!r}: choose numpy, cupy or auto")


def get_dtype(name: str | type | np.dtype | None) -> np.dtype:
    """Resolve a dtype name; ``None`` means float64, the toolbox's precision."""
    if name is None:
        return np.dtype(np.float64)
    try:
        dtype = np.dtype(name)
    except TypeError as exc:
        raise BackendError(f"unknown dtype {name!r}: choose float64 or float32") from exc
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise BackendError(f"unsupported dtype {dtype}: choose float64 or float32")
    return dtype
