"""Reading ONNX files without PyTorch: the entry point and what every ONNX reader shares.

Every ONNX model is read by one importer (:mod:`lrpcore.io.onnx_graph`) as a graph model, chain
or not: an ONNX file declares its input layout (N×C×H×W from PyTorch, N×H×W×C from Keras via
tf2onnx, N×F flat), and the model takes arrays in that layout, whatever its shape. (An earlier
chain importer read PyTorch's C×H×W input as H×W×C; it is gone.) Graph models follow zennit's
numerics; see the README's "Graph models" section.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import ModelFormatError
from ..fileio import require_regular_file
from ..text import brief, short


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelFormatError("reading .onnx models needs the 'onnx' package "
                               "(pip install onnx, or pip install lrp-explorer[onnx])") from None
    return onnx, numpy_helper


MAX_EXTERNAL_BYTES = 1 << 33  # all weights one model reads from external files (8 GiB)


class ExternalData:
    """Reads initializers kept outside the model file, as ``torch.onnx.export(...,
    dynamo=True)`` writes every model (``model.onnx.data`` beside ``model.onnx``): only from a
    regular file inside the model's folder (no absolute path, no ``..``, no link leading
    out), within that file, each tensor exactly its declared size, all together at most
    ``MAX_EXTERNAL_BYTES``."""

    def __init__(self, model_path):
        self.folder = os.path.realpath(os.path.dirname(os.path.abspath(model_path)))
        self.read = 0

    def load(self, onnx, tensor, where, name):
        """A copy of ``tensor`` holding its bytes."""
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        fail = f"{where}: tensor '{name}' is stored in an external file"
        parts = location.replace("\\", "/").split("/")
        if not location or os.path.isabs(location) or ".." in parts or "\0" in location:
            raise ModelFormatError(f"{fail} named {short(location)!r}: only a file in the "
                                   "model's own folder is read")
        path = os.path.realpath(os.path.join(self.folder, location))
        if os.path.commonpath([path, self.folder]) != self.folder:
            raise ModelFormatError(f"{fail} {short(location)!r}, which leads out of the "
                                   "model's folder")
        try:  # its reason alone: the message names the model and the tensor, on one line
            require_regular_file(path, ModelFormatError)
        except ModelFormatError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            raise ModelFormatError(f"{fail} {short(location)!r}: {reason}") from None
        try:
            itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
            offset = int(info.get("offset", 0))
            need = math.prod(int(d) for d in tensor.dims) * itemsize
            length = int(info.get("length", need))
        except (KeyError, TypeError, ValueError):
            raise ModelFormatError(f"{fail} with an unreadable type, offset or length") from None
        if any(d < 0 for d in tensor.dims):  # -1 × -4 bytes read the whole file
            raise ModelFormatError(f"{fail} with a negative dimension {list(tensor.dims)}")
        size = os.path.getsize(path)
        if offset < 0 or length != need or offset + length > size:
            raise ModelFormatError(f"{fail} '{short(location)}' ({size:,} bytes) at offset "
                                   f"{offset:,}, {length:,} bytes; its shape needs {need:,}")
        self.read += length
        if self.read > MAX_EXTERNAL_BYTES:
            raise ModelFormatError(f"{fail}: the external weights read so far hold "
                                   f"{self.read:,} bytes, more than {MAX_EXTERNAL_BYTES:,}")
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError as exc:
            raise ModelFormatError(f"{fail} {short(location)!r}: cannot read: "
                                   f"{exc.strerror or exc}") from None
        whole = onnx.TensorProto()
        whole.CopyFrom(tensor)
        del whole.external_data[:]
        whole.data_location = onnx.TensorProto.DEFAULT
        whole.raw_data = data
        return whole


def _tensor(onnx, tensor, where, external=None):
    _, numpy_helper = _onnx()
    if not isinstance(tensor, onnx.TensorProto):  # a Constant's 'value' given as an int
        raise ModelFormatError(f"{where}: its 'value' must be a tensor, not "
                               f"{type(tensor).__name__}")
    name = short(tensor.name)  # a name in a crafted file may be megabytes long
    if any(d < 0 for d in tensor.dims):  # [-1, 3] was read by numpy's reshape as "the rest"
        raise ModelFormatError(f"{where}: tensor '{name}' has a negative dimension "
                               f"{brief(list(tensor.dims))}")
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        if external is None:
            raise ModelFormatError(f"{where}: tensor '{name}' is stored in an external file; "
                                   "external data is read for initializers only")
        tensor = external.load(onnx, tensor, where, name)
    try:
        arr = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - damaged tensor data
        raise ModelFormatError(f"{where}: tensor '{name}' cannot be read: "
                               f"{short(exc, 200)}") from None
    if arr.dtype.kind not in "fiu":
        raise ModelFormatError(f"{where}: tensor '{name}' has type {arr.dtype}")
    with np.errstate(invalid="ignore"):  # a signalling NaN: refused below, not printed
        arr = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ModelFormatError(f"{where}: tensor '{name}' contains NaN or infinite values")
    return arr


MAX_SAMPLE_ELEMENTS = 1 << 26  # per-sample input values (64 M: 4,096² × 4)


def read_onnx(path, input_shape=None):
    """Read an ONNX network as a graph model (see :mod:`lrpcore.io.onnx_graph`); sizes its
    input leaves open are taken from ``input_shape`` (a sidecar's "shape")."""
    from .onnx_graph import read_onnx_graph

    path = os.fspath(path)
    return read_onnx_graph(path, load_proto(path), input_shape)


MAX_PROTO_BYTES = (2 << 30) - 1  # protobuf parses no message larger than 2 GiB


def load_proto(path):
    """The ONNX ModelProto of a file (external data not loaded: :class:`ExternalData` reads
    it, checked), or ModelFormatError."""
    onnx, _ = _onnx()
    require_regular_file(path, ModelFormatError)
    size = os.path.getsize(path)
    if size == 0:  # protobuf reads no bytes as an empty model: "the ONNX graph has no nodes"
        raise ModelFormatError(f"{path}: an empty file (0 bytes), not an ONNX model")
    if size > MAX_PROTO_BYTES:  # onnx.load reads the whole file first: a 20-GB file (sparse,
        # or the wrong file) was read into memory before protobuf refused it
        raise ModelFormatError(f"{path}: {size:,} bytes; an ONNX model file holds at most 2 GiB "
                               "(larger models keep their weights in external data, a file "
                               "beside it)")
    try:
        return onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise ModelFormatError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                               f"{str(exc)[:200]})") from None
