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


def no_gpu_reason() -> str:
    """Why cupy gives no backend here, in words for a refusal (the one message said "cupy is
    not installed or sees no GPU", leaving a CPU-only machine's user to guess which)."""
    try:
        import cupy  # noqa: PLC0415 (optional dependency)
    except ModuleNotFoundError:
        return "cupy is not installed (pip install -e \".[gpu]\" on a machine with an NVIDIA GPU)"
    except Exception as exc:  # a broken install: its own words, one line
        return f"cupy does not import ({str(exc).splitlines()[0] if str(exc) else exc!r})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver: CUDARuntimeError
        return f"CUDA finds no driver or device ({str(exc).splitlines()[0] if str(exc) else exc!r})"
    if count < 1:
        return "CUDA sees no GPU device"
    return "cupy could not open the GPU"


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
            raise BackendError(f"backend 'cupy' requested, but this machine has no usable GPU: "
                               f"{no_gpu_reason()}; backend 'numpy' runs on the CPU (and "
                               "'auto' takes the GPU only where there is one)")
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
