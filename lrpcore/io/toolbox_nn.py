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
from .safe_pickle import AllowListUnpickler
from .toolbox_txt import MAX_LAYERS

_MAX_ELEMENTS = 1 << 31  # largest array a model file may declare
_NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: no objects, strings or voids
MAX_PICKLE_OPS = 200 * MAX_LAYERS + 1000  # LeNet-5.nn: 535 opcodes for 12 modules


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


def describe(value) -> str:
    """A short description of a value from the pickle that never formats its contents (a
    few hundred bytes of shared list references can stand for a structure of 2^40 items)."""
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)[:40]
    if isinstance(value, str):
        return repr(value[:40])
    size = len(value) if isinstance(value, (tuple, list, dict, bytes, bytearray)) else None
    return type(value).__name__ + ("" if size is None else f" of {size} items")


class _Budget:
    """Bytes of array data one file may still declare. Array data lies in the file itself, so a
    valid file never declares more than its own size; reusing one blob for many arrays (via
    the pickle's memo) is refused before anything is copied."""

    def __init__(self, file_size: int, built: bool = False):
        self.left = int(file_size)
        # the arrays made from the declared data: also at most the file's size
        self.built = None if built else _Budget(file_size, built=True)

    def charge(self, nbytes: int) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise pickle.UnpicklingError("the arrays declare more data than the file holds "
                                         "(one data block reused for many arrays?)")


class _DtypeToken:
    """What the pickle gets for ``numpy.dtype(code)``: a record of a plain number type, never a
    numpy dtype. numpy's own dtype can be rewritten in place by a later BUILD after it was
    checked (structured or object dtypes reaching the engine); this record only keeps a kind,
    a size and a byte order, and :meth:`resolve` builds a fresh dtype from them."""

    def __init__(self, kind: str, itemsize: int):
        self.kind, self.itemsize, self.byteorder = kind, itemsize, "="
        self.used = False  # set once an array or scalar took this type: it may not change

    def __setstate__(self, state):
        if self.used:
            raise pickle.UnpicklingError("numpy dtype changed after an array used it")
        # numpy writes (version, byteorder, subdescr, names, fields, elsize, alignment, flags[,
        # metadata]); only the byte order may be set, everything else must be empty
        if (not isinstance(state, tuple) or len(state) not in (8, 9)
                or state[1] not in ("<", ">", "|", "=")
                or any(part is not None for part in state[2:5])
                or (len(state) == 9 and state[8] is not None)):
            raise pickle.UnpicklingError("numpy dtype state is not that of a plain number type")
        self.byteorder = state[1]

    def resolve(self) -> np.dtype:
        dt = np.dtype(f"{self.kind}{self.itemsize}")  # a fresh object nobody else holds
        return dt if self.byteorder in ("=", "|") else dt.newbyteorder(self.byteorder)


def _dtype_token(value) -> _DtypeToken:
    if not isinstance(value, _DtypeToken):
        raise pickle.UnpicklingError(f"array dtype ({describe(value)}) is not a plain number type")
    value.used = True
    return value


def _check_shape(shape):
    if isinstance(shape, list):
        shape = tuple(shape)
    if (not isinstance(shape, tuple) or len(shape) > 8
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in shape)
            or math.prod(shape) > _MAX_ELEMENTS):
        shown = shape if isinstance(shape, tuple) and len(shape) <= 8 and all(
            isinstance(s, int) for s in shape) else describe(shape)
        raise pickle.UnpicklingError(f"array shape {shown} is not acceptable")
    return shape


def _data_bytes(data):
    if isinstance(data, str):  # Python 2 pickles read with encoding="latin1"
        data = data.encode("latin1")
    if isinstance(data, pickle.PickleBuffer):
        data = bytes(data.raw())
    if not isinstance(data, bytes | bytearray):
        raise pickle.UnpicklingError("ndarray data is not a byte string")
    return bytes(data)  # immutable: the pickle cannot change it after the checks


class _GuardedArray:
    """Receives an ndarray's pickled state; the array itself is built only at the end, from
    the reader's own copies of shape, type and data (:attr:`array`)."""

    def __init__(self, budget: _Budget):
        self._budget = budget
        self._parts = None
        self._built = budget.built  # charged by every copy made: one array reused by many
        # layers (the pickle's memo) would otherwise be copied once per layer

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise pickle.UnpicklingError("ndarray state has an unexpected form")
        _version, shape, dtype, fortran, data = state
        self._take(shape, dtype, "F" if fortran else "C", data)

    def _take(self, shape, dtype, order, data):
        if self._parts is not None:
            raise pickle.UnpicklingError("ndarray state given twice")
        shape = _check_shape(shape)
        token = _dtype_token(dtype)
        data = _data_bytes(data)
        need = math.prod(shape) * token.itemsize
        if len(data) != need:
            raise pickle.UnpicklingError(f"ndarray data has {len(data)} bytes, shape {shape} "
                                         f"of {token.kind}{token.itemsize} needs {need}")
        self._budget.charge(need)
        self._parts = (shape, token, order, data)

    @property
    def array(self) -> np.ndarray | None:
        """A fresh native-endian array (None when no state was given)."""
        if self._parts is None:
            return None
        shape, token, order, data = self._parts
        self._built.charge(len(data))
        dt = token.resolve()
        arr = np.frombuffer(data, dtype=dt).reshape(shape, order=order)
        return arr.astype(dt.newbyteorder("="), order="C", copy=True)


def _loader_globals(budget: _Budget) -> dict:
    """The numpy reconstruction functions, bound to one load's data budget."""

    def reconstruct(subtype, shape, dtype_code):
        """``numpy.core.multiarray._reconstruct`` limited to an empty plain ndarray."""
        if subtype is not _NdarrayToken or shape != (0,) or dtype_code not in (b"b", "b"):
            raise pickle.UnpicklingError("numpy _reconstruct called with unexpected arguments")
        return _GuardedArray(budget)

    def frombuffer(buf, dtype, shape, order):
        """``numpy._core.numeric._frombuffer`` (pickle protocol 5) limited to numbers."""
        if order not in ("C", "F"):
            raise pickle.UnpicklingError(f"array order {describe(order)} is not allowed")
        arr = _GuardedArray(budget)
        arr._take(shape, dtype, order, buf)
        return arr

    table = {}
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(core, "_reconstruct")] = reconstruct
        table[(core, "scalar")] = _scalar
    for numeric in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(numeric, "_frombuffer")] = frombuffer
    table[("numpy", "ndarray")] = _NdarrayToken
    table[("numpy", "dtype")] = _dtype
    return table


def _dtype(code, align=False, copy=True):
    """``numpy.dtype`` limited to plain number types (``f8``, ``<f4``, ``i8``, ...)."""
    if not isinstance(code, str) or len(code) > 4:
        raise pickle.UnpicklingError(f"numpy dtype ({describe(code)}) is not allowed")
    try:
        dt = np.dtype(code)
    except TypeError:
        raise pickle.UnpicklingError(f"numpy dtype {code!r} is not understood") from None
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype or dt.hasobject:
        raise pickle.UnpicklingError(f"array dtype {code!r} is not a plain number type")
    token = _DtypeToken(dt.kind, dt.itemsize)
    if dt.byteorder in ("<", ">"):
        token.byteorder = dt.byteorder
    return token


def _scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar`` limited to plain numbers: a Python number."""
    token = _dtype_token(dtype)
    data = _data_bytes(data)
    if len(data) != token.itemsize:
        raise pickle.UnpicklingError("numpy scalar data has the wrong size")
    return np.frombuffer(data, dtype=token.resolve())[0].item()


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

_TOOLBOX_GLOBALS = {
    **{(f"modules.{name.lower()}", name): cls for name, cls in STAND_INS.items()},
    **{("modules", name): cls for name, cls in STAND_INS.items()},
    **_PICKLE_GLOBALS,
}


class SafeUnpickler(AllowListUnpickler):
    """An unpickler that resolves only the toolbox stand-ins, a few pickle helpers and numpy's
    reconstruction functions (bound to this load's data budget, see :class:`_Budget`), and runs
    at most :data:`MAX_PICKLE_OPS` opcodes (:mod:`.safe_pickle`)."""

    holds = "a toolbox model"

    def __init__(self, file, path, file_size):
        super().__init__(file, MAX_PICKLE_OPS, encoding="latin1")
        self.path = path
        self.allowed = {**_TOOLBOX_GLOBALS, **_loader_globals(_Budget(file_size))}

    def read_to_the_end(self, stream, size) -> bool:
        """Whether every byte of the file was taken: the stream read to ``size`` and no
        frame (pickle protocol 4 reads one whole, ahead of its opcodes) left unread."""
        frame = getattr(getattr(self, "_unframer", None), "current_frame", None)
        unread = frame is not None and frame.tell() < len(frame.getbuffer())
        return stream.tell() >= size and not unread

    def persistent_load(self, pid):
        raise ModelFormatError(f"{self.path}: refused to load: persistent references are not "
                               "part of a toolbox model")


def unpickle_toolbox(data: bytes, path: str = "<bytes>"):
    """Unpickle a toolbox model with the restricted unpickler; returns stand-in objects.

    A load that fails with every byte read is a file cut short, whatever the unpickler says
    there: pickle's empty EOFError, a float cut in two ("unpack requires a buffer of 8
    bytes"), or a class name cut in two, which read as a refused class "that may be unsafe".
    """
    stream = io.BytesIO(data)
    truncated = ModelFormatError(f"{path}: not a readable toolbox .nn model: the file ends in "
                                 "the middle of the model (truncated?)")
    unpickler = SafeUnpickler(stream, path, len(data))
    try:
        return unpickler.load()
    except ModelFormatError:
        if unpickler.read_to_the_end(stream, len(data)):
            raise truncated from None
        raise
    except RecursionError:
        raise ModelFormatError(f"{path}: nested too deeply to be a toolbox model") from None
    except MemoryError:
        raise ModelFormatError(f"{path}: declares more data than fits in memory") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a damaged pickle is a format error
        if unpickler.read_to_the_end(stream, len(data)) or isinstance(exc, EOFError):
            raise truncated from None
        said = str(exc)[:200]
        raise ModelFormatError(f"{path}: not a readable toolbox .nn model: "
                               f"{type(exc).__name__}{': ' + said if said else ''}") from None


# ---------------------------------------------------------------------------------------------
# stand-ins → layers
# ---------------------------------------------------------------------------------------------


def _array(state, key, ndim, path, where):
    value = state.get(key)
    if isinstance(value, _GuardedArray):
        value = value.array
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
                           f"got {describe(value)}")


def _weights_and_biases(state, ndim, path, where):
    return (_array(state, "W", ndim, path, where),
            _array(state, "B", 1, path, where).reshape(-1))


def _pool_builder(cls):
    return lambda state, path, where: cls(_pair(state, "pool", path, where),
                                          _pair(state, "stride", path, where))


# the toolbox's layer classes by name: a layer of this project from a pickled one's state
_BUILDERS = {
    "Linear": lambda state, path, where: Linear(*_weights_and_biases(state, 2, path, where)),
    "Convolution": lambda state, path, where: Convolution(
        *_weights_and_biases(state, 4, path, where), _pair(state, "stride", path, where)),
    "SumPool": _pool_builder(SumPool),
    "MaxPool": _pool_builder(MaxPool),
    **{cls.kind: (lambda state, path, where, cls=cls: cls())
       for cls in (Rect, Tanh, SoftMax, Flatten)},
}


def _layer(obj, i, path):
    if not isinstance(obj, _ToolboxObject) or obj.toolbox_class == "Sequential":
        raise ModelFormatError(f"{path}: module {i} is not a toolbox layer "
                               f"({type(obj).__name__})")
    kind, state, where = obj.toolbox_class, obj.state, f"module {i} ({obj.toolbox_class})"
    try:
        return _BUILDERS[kind](state, path, where)
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
