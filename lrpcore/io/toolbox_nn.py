"""The LRP Toolbox's pickled ``.nn`` models, read without ever running the pickle's code.

A pickle may name any importable callable and call it while loading, so ``pickle.load`` on a
file from elsewhere can run anything. This reader uses a restricted unpickler: ``find_class``
admits only the toolbox's layer classes (mapped onto inert stand-ins that merely collect their
state) and the few numpy reconstruction functions an ndarray needs, each wrapped so that it
only builds plain numeric arrays. Every other global (``os.system``, ``builtins.eval``, ...)
is refused before it is called. The collected state is then converted to this project's layers.
"""

from __future__ import annotations

import io
import math
import os
import pickle

import numpy as np

from ..errors import ModelFormatError
from ..fileio import read_bytes
from ..layers import Convolution, Flatten, Linear, MaxPool, Rect, SoftMax, SumPool, Tanh
from ..model import Sequential
from .layer_check import check_layer_chain
from .toolbox_txt import MAX_LAYERS

_MAX_ELEMENTS = 1 << 31  # largest array a model file may declare
_NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: no objects, strings or voids


class _ToolboxObject:
    """Inert stand-in for a toolbox module: it keeps its pickled ``__dict__`` and nothing else."""

    toolbox_class = "?"
    state: dict = {}  # replaced, never mutated: objects made by NEWOBJ skip __init__

    def __init__(self, *args):
        if args:
            raise pickle.UnpicklingError(f"{self.toolbox_class} called with arguments")
        self.state = {}

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]  # (dict, slots) form of BUILD
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{self.toolbox_class} state is not a dict")
        self.state = dict(state)


def _stand_in(name):
    return type(f"Toolbox{name}", (_ToolboxObject,), {"toolbox_class": name})


_TOOLBOX_CLASSES = ("Sequential", "Linear", "Convolution", "SumPool", "MaxPool", "Rect", "Tanh",
                    "SoftMax", "Flatten")
STAND_INS = {name: _stand_in(name) for name in _TOOLBOX_CLASSES}


class _NdarrayToken:
    """Placeholder for ``numpy.ndarray``: only accepted as ``_reconstruct``'s first argument."""


def _check_dtype(dtype):
    dt = dtype if isinstance(dtype, np.dtype) else None
    if dt is None or dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype:
        raise pickle.UnpicklingError(f"array dtype {dtype!r} is not a plain number type")
    return dt


def _check_shape(shape):
    if (not isinstance(shape, tuple) or len(shape) > 8
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in shape)
            or math.prod(shape) > _MAX_ELEMENTS):
        raise pickle.UnpicklingError(f"array shape {shape!r} is not acceptable")
    return shape


def _reconstruct(subtype, shape, dtype_code):
    """``numpy.core.multiarray._reconstruct`` limited to an empty plain ndarray."""
    if subtype is not _NdarrayToken or shape != (0,) or dtype_code not in (b"b", "b"):
        raise pickle.UnpicklingError("numpy _reconstruct called with unexpected arguments")
    return _GuardedArray()


class _GuardedArray:
    """Receives an ndarray's pickled state and builds the array only if it is plain numbers."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError("ndarray state has an unexpected form")
        _version, shape, dtype, fortran, data = state
        shape = _check_shape(tuple(shape) if isinstance(shape, list) else shape)
        dt = _check_dtype(dtype)
        if isinstance(data, str):  # Python 2 pickles read with encoding="latin1"
            data = data.encode("latin1")
        if not isinstance(data, bytes | bytearray):
            raise pickle.UnpicklingError("ndarray data is not a byte string")
        need = math.prod(shape) * dt.itemsize
        if len(data) != need:
            raise pickle.UnpicklingError(f"ndarray data has {len(data)} bytes, shape {shape} "
                                         f"of {dt} needs {need}")
        arr = np.frombuffer(bytes(data), dtype=dt).reshape(shape, order="F" if fortran else "C")
        self.array = arr.copy()


def _dtype(code, align=False, copy=True):
    """``numpy.dtype`` limited to plain number types (``f8``, ``<f4``, ``i8``, ...)."""
    if not isinstance(code, str) or len(code) > 4:
        raise pickle.UnpicklingError(f"numpy dtype {code!r} is not allowed")
    try:
        dt = np.dtype(code)
    except TypeError:
        raise pickle.UnpicklingError(f"numpy dtype {code!r} is not understood") from None
    return _check_dtype(dt)


def _scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar`` limited to plain numbers."""
    dt = _check_dtype(dtype)
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise pickle.UnpicklingError("numpy scalar data has the wrong size")
    return np.frombuffer(data, dtype=dt)[0]


def _frombuffer(buf, dtype, shape, order):
    """``numpy._core.numeric._frombuffer`` (pickle protocol 5) limited to numeric arrays."""
    dt = _check_dtype(dtype)
    shape = _check_shape(shape)
    if isinstance(buf, pickle.PickleBuffer):
        buf = bytes(buf.raw())
    if not isinstance(buf, bytes | bytearray) or len(buf) != math.prod(shape) * dt.itemsize:
        raise pickle.UnpicklingError("numpy buffer has the wrong size")
    if order not in ("C", "F"):
        raise pickle.UnpicklingError(f"array order {order!r} is not allowed")
    return np.frombuffer(bytes(buf), dtype=dt).reshape(shape, order=order).copy()


class _ObjectToken:
    """Placeholder for ``object``: only accepted as ``copyreg._reconstructor``'s base."""


def _reconstructor(cls, base, state):
    """``copyreg._reconstructor`` (protocols 0 and 1) limited to toolbox stand-ins."""
    if (not isinstance(cls, type) or not issubclass(cls, _ToolboxObject)
            or base is not _ObjectToken or state is not None):
        raise pickle.UnpicklingError("copyreg _reconstructor called with unexpected arguments")
    return cls()


def _encode(text, encoding="utf-8"):
    """``_codecs.encode``, which Python 3 uses to write bytes at protocol 2: latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode called with unexpected arguments")
    return text.encode("latin1")


_PICKLE_GLOBALS = {
    ("_codecs", "encode"): _encode,
    ("copy_reg", "_reconstructor"): _reconstructor,  # Python 2 name
    ("copyreg", "_reconstructor"): _reconstructor,
    ("__builtin__", "object"): _ObjectToken,
    ("builtins", "object"): _ObjectToken,
}

_NUMPY_GLOBALS = {}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _NUMPY_GLOBALS[(_core, "_reconstruct")] = _reconstruct
    _NUMPY_GLOBALS[(_core, "scalar")] = _scalar
for _numeric in ("numpy.core.numeric", "numpy._core.numeric"):
    _NUMPY_GLOBALS[(_numeric, "_frombuffer")] = _frombuffer
_NUMPY_GLOBALS[("numpy", "ndarray")] = _NdarrayToken
_NUMPY_GLOBALS[("numpy", "dtype")] = _dtype

ALLOWED_GLOBALS = {
    **{(f"modules.{name.lower()}", name): cls for name, cls in STAND_INS.items()},
    **{("modules", name): cls for name, cls in STAND_INS.items()},
    **_NUMPY_GLOBALS,
    **_PICKLE_GLOBALS,
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :data:`ALLOWED_GLOBALS`."""

    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module, name):
        target = ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise ModelFormatError(
                f"{self.path}: refused to load: the file asks for '{module}.{name}', which is "
                "not part of a toolbox model (the file may be unsafe; nothing was run)")
        return target

    def persistent_load(self, pid):
        raise ModelFormatError(f"{self.path}: refused to load: persistent references are not "
                               "part of a toolbox model")


def unpickle_toolbox(data: bytes, path: str = "<bytes>"):
    """Unpickle a toolbox model with the restricted unpickler; returns stand-in objects."""
    try:
        return SafeUnpickler(io.BytesIO(data), path).load()
    except ModelFormatError:
        raise
    except RecursionError:
        raise ModelFormatError(f"{path}: nested too deeply to be a toolbox model") from None
    except MemoryError:
        raise ModelFormatError(f"{path}: declares more data than fits in memory") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a damaged pickle is a format error
        where = ""
        if isinstance(exc, EOFError) or "ran out of input" in str(exc).lower():
            where = " (truncated?)"
        raise ModelFormatError(f"{path}: not a readable toolbox .nn model{where}: "
                               f"{type(exc).__name__}: {str(exc)[:200]}") from None


# ---------------------------------------------------------------------------------------------
# stand-ins → layers
# ---------------------------------------------------------------------------------------------


def _array(state, key, ndim, path, where):
    value = state.get(key)
    if isinstance(value, _GuardedArray):
        value = getattr(value, "array", None)
    if not isinstance(value, np.ndarray) or value.ndim != ndim:
        raise ModelFormatError(f"{path}: {where}: '{key}' is not a {ndim}-d array")
    if value.dtype.kind != "f":
        raise ModelFormatError(f"{path}: {where}: '{key}' has dtype {value.dtype}, not float")
    if not np.all(np.isfinite(value)):
        raise ModelFormatError(f"{path}: {where}: '{key}' contains NaN or infinite values")
    return np.ascontiguousarray(value)


def _pair(state, key, path, where):
    value = state.get(key)
    if (isinstance(value, tuple | list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        return (int(value[0]), int(value[1]))
    raise ModelFormatError(f"{path}: {where}: '{key}' must be two positive integers, "
                           f"got {str(value)[:60]}")


def _layer(obj, i, path):
    if not isinstance(obj, _ToolboxObject) or obj.toolbox_class == "Sequential":
        raise ModelFormatError(f"{path}: module {i} is not a toolbox layer "
                               f"({type(obj).__name__})")
    kind, state, where = obj.toolbox_class, obj.state, f"module {i} ({obj.toolbox_class})"
    try:
        if kind == "Linear":
            W = _array(state, "W", 2, path, where)
            B = _array(state, "B", 1, path, where).reshape(-1)
            return Linear(W, B)
        if kind == "Convolution":
            W = _array(state, "W", 4, path, where)
            B = _array(state, "B", 1, path, where).reshape(-1)
            return Convolution(W, B, _pair(state, "stride", path, where))
        if kind in ("SumPool", "MaxPool"):
            cls = SumPool if kind == "SumPool" else MaxPool
            return cls(_pair(state, "pool", path, where), _pair(state, "stride", path, where))
        return {"Rect": Rect, "Tanh": Tanh, "SoftMax": SoftMax, "Flatten": Flatten}[kind]()
    except ModelFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - layer constructors raise ShapeError
        raise ModelFormatError(f"{path}: {where}: {exc}") from None


def layers_from_toolbox(root, path="<bytes>") -> list:
    """Convert an unpickled toolbox ``Sequential`` (stand-in) to this project's layers."""
    if not isinstance(root, _ToolboxObject) or root.toolbox_class != "Sequential":
        raise ModelFormatError(f"{path}: the pickle does not hold a toolbox Sequential model "
                               f"(found {type(root).__name__})")
    modules = root.state.get("modules")
    if not isinstance(modules, list) or not modules:
        raise ModelFormatError(f"{path}: the Sequential model has no list of modules")
    if len(modules) > MAX_LAYERS:
        raise ModelFormatError(f"{path}: {len(modules)} modules; more than {MAX_LAYERS} is not "
                               "a model this program can use")
    layers = [_layer(obj, i, path) for i, obj in enumerate(modules)]
    check_layer_chain(layers, lambda i: f"{path}: module {i}")
    return layers


def read_toolbox_nn(path) -> Sequential:
    """Read a toolbox ``.nn`` pickle safely (nothing in the file is ever executed)."""
    path = os.fspath(path)
    data = read_bytes(path, ModelFormatError)
    if data[:1] not in (b"\x80", b"(", b"c", b"]", b"}"):
        raise ModelFormatError(f"{path}: not a pickled toolbox model (does not start like a "
                               "Python pickle)")
    layers = layers_from_toolbox(unpickle_toolbox(data, path), path)
    return Sequential(layers, source=path)
