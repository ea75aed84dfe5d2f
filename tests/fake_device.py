"""A stand-in for cupy that runs on the CPU but is as strict as a GPU about where arrays live.

CI has no GPU, so the cupy code path would otherwise go untested between sessions lent a
device. The usual GPU bug is a host (numpy) array meeting a device array in an operation:
cupy raises a TypeError there, numpy would silently compute. ``DeviceArray`` is an ndarray that
refuses such mixing in every ufunc (``+``, ``*``, ``@``, ``np.maximum`` ...) and numpy
function, and the ``fake_cupy`` namespace refuses host arrays where cupy's functions do. Host →
device goes through ``asarray``/``array``/``ascontiguousarray``; device → host through
``asnumpy`` or ``.get()``, as in cupy.
"""

from __future__ import annotations

import types

import numpy as np

from lrpcore.backend import Backend


class OperationCounter:
    """Array operations run on the stand-in: each would be (at least) one kernel launch on a
    GPU, whose fixed cost (microseconds) dominates small batches such as one GUI click."""

    count = 0


class MixedArraysError(TypeError):
    """A host numpy array was used where cupy only accepts device arrays."""


def _is_host_array(a) -> bool:
    return isinstance(a, np.ndarray) and not isinstance(a, DeviceArray) and a.ndim > 0


def _refuse_host(values, where):
    for a in values:
        if isinstance(a, (list, tuple)):
            _refuse_host(a, where)
        elif _is_host_array(a):
            raise MixedArraysError(f"{where}: host numpy array of shape {a.shape} used with "
                                   "device arrays")


def _to_host_view(a):
    if isinstance(a, DeviceArray):
        return a.view(np.ndarray)
    if isinstance(a, (list, tuple)):
        return type(a)(_to_host_view(v) for v in a)
    return a


def _to_device(result):
    if isinstance(result, np.ndarray) and not isinstance(result, DeviceArray):
        return result.view(DeviceArray)
    if isinstance(result, tuple):
        return tuple(_to_device(r) for r in result)
    return result


class DeviceArray(np.ndarray):
    """An array that 'lives on the device': it never mixes with host arrays."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        OperationCounter.count += 1
        _refuse_host(inputs, f"ufunc {ufunc.__name__}")
        if out is not None:
            _refuse_host(out, f"ufunc {ufunc.__name__} (out=)")
            kwargs["out"] = tuple(_to_host_view(o) for o in out)
        result = getattr(ufunc, method)(*_to_host_view(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _to_device(result)

    def __array_function__(self, func, types_, args, kwargs):
        OperationCounter.count += 1
        _refuse_host(args, func.__name__)
        _refuse_host(kwargs.values(), func.__name__)
        host_args = _to_host_view(args)
        host_kwargs = {k: _to_host_view(v) for k, v in kwargs.items()}
        return _to_device(func(*host_args, **host_kwargs))

    def __setitem__(self, index, value):
        OperationCounter.count += 1
        _refuse_host([value], "setitem")
        super().__setitem__(index, value)

    def copy(self, *args, **kwargs):
        OperationCounter.count += 1
        return super().copy(*args, **kwargs)

    def astype(self, *args, **kwargs):
        OperationCounter.count += 1
        return super().astype(*args, **kwargs)

    @property
    def __cuda_array_interface__(self):  # how callers recognise a device array
        return {"shape": self.shape, "typestr": self.dtype.str, "version": 3}

    def get(self) -> np.ndarray:
        """Copy to the host, as cupy's ``ndarray.get``."""
        return np.array(self.view(np.ndarray))


# cupy functions that take host data (the transfer to the device)
_TRANSFERS = {"asarray", "array", "ascontiguousarray", "asanyarray"}


def _device_function(name, func):
    def call(*args, **kwargs):
        OperationCounter.count += 1
        if name not in _TRANSFERS:
            _refuse_host(args, f"fake_cupy.{name}")
            _refuse_host(kwargs.values(), f"fake_cupy.{name}")
        host_args = _to_host_view(args)
        host_kwargs = {k: _to_host_view(v) for k, v in kwargs.items()}
        result = func(*host_args, **host_kwargs)
        if name in _TRANSFERS:  # a fresh device copy, never a view of host memory
            result = np.array(result, copy=True)
        return _to_device(result)

    call.__name__ = name
    return call


def _as_strided(x, shape=None, strides=None, **kwargs):
    _refuse_host([x], "fake_cupy.lib.stride_tricks.as_strided")
    view = np.lib.stride_tricks.as_strided(x.view(np.ndarray), shape=shape, strides=strides,
                                           **kwargs)
    return view.view(DeviceArray)


class _Device:
    def synchronize(self):
        pass


def _make_namespace():
    ns = types.SimpleNamespace()
    ns.__name__ = "cupy"
    ns.asnumpy = lambda a: np.array(a.view(np.ndarray) if isinstance(a, DeviceArray) else a)
    ns.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(as_strided=_as_strided))
    ns.cuda = types.SimpleNamespace(Device=_Device)
    ns.ndarray = DeviceArray
    ns.float32, ns.float64, ns.int64, ns.bool_ = np.float32, np.float64, np.int64, np.bool_
    ns.newaxis, ns.inf, ns.nan = None, np.inf, np.nan
    return ns


class _FakeCupy(types.SimpleNamespace):
    """Attribute access falls back to numpy's function of the same name, made strict."""

    def __getattr__(self, name):
        attr = getattr(np, name)
        if isinstance(attr, np.ufunc) or callable(attr):
            return _device_function(name, attr)
        return attr


fake_cupy = _FakeCupy(**vars(_make_namespace()))
FAKE_GPU = Backend("cupy", fake_cupy, "fake GPU (numpy, strict about host arrays)")
