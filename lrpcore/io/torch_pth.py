"""PyTorch checkpoints (``.pth``/``.pt`` state dicts) read without torch and without running
anything from the file.

Both of torch's formats are read: the zip archive (``archive/data.pkl`` + one member per
storage) and the legacy stream (magic number, protocol, system info, the state-dict pickle, the
list of storage keys, then each storage's length and bytes). The state-dict pickle may name only
what a state dict needs: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` (and
``_rebuild_parameter``) and the typed storages; every other global is refused before anything
is called, as in the ``.nn`` reader. Tensors are built at the end from the reader's own copies:
storage bytes whose size is checked against the declared element count and the file, shapes and
strides checked to stay inside their storage, native-endian arrays.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import zipfile

import numpy as np

from ..errors import ModelFormatError
from ..fileio import read_bytes
from .claims import ZIP_ERRORS
from .safe_pickle import AllowListUnpickler, BoundedUnpickler
from .toolbox_nn import describe

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MAX_TENSORS = 100_000
MAX_DIMS = 8
MAX_PICKLE_OPS = 40 * MAX_TENSORS + 10_000  # a tensor entry takes about 15 opcodes
# as for native .npz files: deflated storages may inflate this much (real weights hardly compress)
_MAX_INFLATION = 100
_INFLATION_FLOOR = 16 << 20


class _Fixed:
    """The reader's own records, which the pickle can reach (as a persistent reference or a
    rebuilt tensor) but never change: a BUILD after the checks could otherwise move a tensor
    outside its storage (a crash, or memory beyond the file read as weights)."""

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"the file tries to change a {type(self).__name__[1:]} "
                                     "after it was checked")

_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
             "HalfStorage": np.float16, "BFloat16Storage": None, "LongStorage": np.int64,
             "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
             "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType(_Fixed):
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGES[name]


class _Storage(_Fixed):
    """A storage the pickle refers to by key: its element type and count (bytes come later)."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, np.dtype(dtype), numel
        self.data: bytes | None = None


class _Tensor(_Fixed):
    """A tensor view of a storage: offset, shape and strides, checked to stay inside it."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray:
        st = self.storage
        base = np.frombuffer(st.data, dtype=st.dtype.newbyteorder("<"), count=st.numel)
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.size, strides=[s * item for s in self.stride],
            writeable=False)
        return np.array(view, dtype=st.dtype.newbyteorder("="), order="C")


def _ints(value, what, n=None):
    if (not isinstance(value, tuple) or (n is not None and len(value) != n)
            or len(value) > MAX_DIMS
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise pickle.UnpicklingError(f"tensor {what} ({describe(value)}) is not whole numbers")
    return value


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None,
                    metadata=None):
    """``torch._utils._rebuild_tensor_v2`` limited to a plain view of a known storage."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor's storage is not a storage of this file")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise pickle.UnpicklingError("a tensor's storage offset is not a whole number ≥ 0")
    size = _ints(size, "shape")
    stride = _ints(stride, "strides", len(size))
    if hooks not in (None,) and not (isinstance(hooks, collections.OrderedDict) and not hooks):
        raise pickle.UnpicklingError("tensors with backward hooks are not a state dict")
    if math.prod(size):
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= storage.numel:
            raise pickle.UnpicklingError(f"a tensor of shape {size} reaches past its storage "
                                         f"of {storage.numel} elements")
    if math.prod(size) > storage.numel:  # stride 0: a 400-byte file could expand to terabytes
        raise pickle.UnpicklingError(f"a tensor of shape {size} has more elements than its "
                                     f"storage of {storage.numel} (a broadcast view)")
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError("a parameter that is not a tensor")
    return data


def _ordered_dict(*args):
    if args:
        raise pickle.UnpicklingError("OrderedDict called with arguments")
    return collections.OrderedDict()


class _StateDictUnpickler(AllowListUnpickler):
    holds = "a state dict"

    def __init__(self, file, path, max_numel):
        super().__init__(file, MAX_PICKLE_OPS, encoding="utf-8")
        self.path, self.max_numel = path, max_numel
        self.storages: dict[str, _Storage] = {}
        self.allowed = {("collections", "OrderedDict"): _ordered_dict,
                        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
                        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}
        for name in _STORAGES:
            self.allowed[("torch", name)] = _StorageType(name)

    def persistent_load(self, pid):
        ok = (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
              and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
              and isinstance(pid[4], int) and not isinstance(pid[4], bool) and pid[4] >= 0
              and (len(pid) == 5 or pid[5] is None))
        if not ok:
            raise ModelFormatError(f"{self.path}: refused to load: a persistent reference "
                                   "that is not a tensor storage")
        kind, key, numel = pid[1], pid[2], pid[4]
        if kind.dtype is None:
            raise ModelFormatError(f"{self.path}: {kind.name} tensors are not supported")
        if numel > self.max_numel:
            raise ModelFormatError(f"{self.path}: storage {key[:20]!r} declares {numel:,} "
                                   "elements, more than the file holds")
        have = self.storages.get(key)
        if have is None:
            have = self.storages[key] = _Storage(key, kind.dtype, numel)
            if len(self.storages) > MAX_TENSORS:
                raise ModelFormatError(f"{self.path}: more than {MAX_TENSORS} storages")
        elif have.dtype != np.dtype(kind.dtype) or have.numel != numel:
            raise ModelFormatError(f"{self.path}: storage {key[:20]!r} is declared twice "
                                   "differently")
        return have


class _PlainUnpickler(BoundedUnpickler):
    """For the legacy stream's header pickles: plain values only, no globals at all."""

    def __init__(self, file):
        super().__init__(file, MAX_PICKLE_OPS)

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"'{module}.{name}' in a checkpoint header")


def _load(make_unpickler, path, what):
    try:
        return make_unpickler().load()
    except ModelFormatError:
        raise
    except RecursionError:
        raise ModelFormatError(f"{path}: {what} nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a damaged pickle is a format error
        raise ModelFormatError(f"{path}: {what} is not readable ({type(exc).__name__}: "
                               f"{str(exc)[:160]})") from None


def _state_dict(root, path) -> dict:
    if isinstance(root, dict) and "state_dict" in root and isinstance(root["state_dict"], dict):
        root = root["state_dict"]
    if not isinstance(root, dict) or not root:
        raise ModelFormatError(f"{path}: the checkpoint holds no state dict "
                               f"(found {describe(root)})")
    if len(root) > MAX_TENSORS:
        raise ModelFormatError(f"{path}: {len(root)} entries; not a state dict")
    for key, value in root.items():
        if not isinstance(key, str) or not isinstance(value, _Tensor):
            raise ModelFormatError(f"{path}: entry {describe(key)} is not a named tensor")
    return root


def _member(zf, name, path) -> bytes:
    """One member's bytes; a damaged one (a CRC or deflate error, a compression Python does
    not read) is a ModelFormatError naming it (it was an internal error)."""
    try:
        return zf.read(name)
    except ZIP_ERRORS as exc:
        raise ModelFormatError(f"{path}: damaged member {name[-40:]!r} "
                               f"({str(exc)[:160]})") from None


def _read_zip(path, data) -> dict:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = zf.namelist()
    except (ValueError, *ZIP_ERRORS) as exc:
        raise ModelFormatError(f"{path}: not a readable checkpoint ({str(exc)[:160]})") \
            from None
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pkl) != 1:
        raise ModelFormatError(f"{path}: the archive holds no single data.pkl")
    prefix = pkl[0][:-len("data.pkl")]
    info = zf.getinfo(pkl[0])
    if info.file_size > len(data) * 100:
        raise ModelFormatError(f"{path}: data.pkl inflates implausibly (a zip bomb?)")
    u = _StateDictUnpickler(io.BytesIO(_member(zf, pkl[0], path)), path, len(data))
    root = _load(lambda: u, path, "the state-dict pickle")
    state = _state_dict(root, path)
    need, packed = {}, 0
    for key, st in u.storages.items():
        member = f"{prefix}data/{key}"
        if member not in names:
            raise ModelFormatError(f"{path}: storage {key[:20]!r} is missing")
        need[key] = st.numel * st.dtype.itemsize
        if zf.getinfo(member).file_size != need[key]:
            raise ModelFormatError(f"{path}: storage {key[:20]!r} holds "
                                   f"{zf.getinfo(member).file_size} bytes, needs {need[key]}")
        packed += zf.getinfo(member).compress_size
    # each storage may declare as many elements as the file has bytes, and deflated zeros
    # shrink ~1000:1: a 300-KB file of 100 storages (one-element tensors each) took 240 MB
    if sum(need.values()) > _INFLATION_FLOOR + _MAX_INFLATION * packed:
        raise ModelFormatError(f"{path}: its storages would inflate to {sum(need.values()):,} "
                               f"bytes from {packed:,} compressed bytes; not a plausible "
                               "checkpoint (a zip bomb?)")
    for key, st in u.storages.items():
        st.data = _member(zf, f"{prefix}data/{key}", path)
    return state


def _read_legacy(path, data) -> dict:
    f = io.BytesIO(data)

    def plain(what):
        return _load(lambda: _PlainUnpickler(f), path, what)

    magic = plain("the checkpoint header")
    if magic != LEGACY_MAGIC:
        raise ModelFormatError(f"{path}: not a PyTorch checkpoint (no torch magic number)")
    plain("the protocol version")
    plain("the system information")
    u = _StateDictUnpickler(f, path, len(data))
    root = _load(lambda: u, path, "the state-dict pickle")
    state = _state_dict(root, path)
    keys = plain("the list of storages")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) \
            or set(keys) != set(u.storages):
        raise ModelFormatError(f"{path}: the list of storages does not match the tensors")
    for key in keys:
        st = u.storages[key]
        head = f.read(8)
        if len(head) != 8:
            raise ModelFormatError(f"{path}: truncated before storage {key[:20]!r}")
        numel = int.from_bytes(head, "little", signed=True)
        if numel != st.numel:
            raise ModelFormatError(f"{path}: storage {key[:20]!r} holds {numel} elements, the "
                                   f"tensors declare {st.numel}")
        need = numel * st.dtype.itemsize
        st.data = f.read(need)
        if len(st.data) != need:
            raise ModelFormatError(f"{path}: storage {key[:20]!r} is truncated")
    return state


def read_state_dict(path) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict as numpy arrays, by name (file order)."""
    path = os.fspath(path)
    data = read_bytes(path, ModelFormatError)
    state = _read_zip(path, data) if data[:2] == b"PK" else _read_legacy(path, data)
    total = sum(math.prod(t.size) for t in state.values())
    if total > 8 * len(data):  # many views of one storage (tied weights are at most a few)
        raise ModelFormatError(f"{path}: the tensors would hold {total:,} values, far more "
                               "than the file stores")
    arrays = {name: tensor.array() for name, tensor in state.items()}
    for name, arr in arrays.items():  # as every other format: a NaN weight is the file's fault
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ModelFormatError(f"{path}: tensor {name[:60]!r} contains NaN or infinite "
                                   "values")
    return arrays
