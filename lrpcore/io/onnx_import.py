"""Reading ONNX files without PyTorch: the entry point and what every ONNX reader shares.

Every ONNX model is read by one importer (:mod:`lrpcore.io.onnx_graph`) as a graph model, chain
or not: an ONNX file declares its input layout (N×C×H×W from PyTorch, N×H×W×C from Keras via
tf2onnx, N×F flat), and the model takes arrays in that layout, whatever its shape. (An earlier
chain importer read PyTorch's C×H×W input as H×W×C; it is gone.) Graph models follow zennit's
numerics; see the README's "Graph models" section.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ModelFormatError
from ..fileio import require_regular_file
from ..text import short


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelFormatError("reading .onnx models needs the 'onnx' package "
                               "(pip install onnx, or pip install lrp-explorer[onnx])") from None
    return onnx, numpy_helper


def _tensor(onnx, tensor, where):
    _, numpy_helper = _onnx()
    name = short(tensor.name)  # a name in a crafted file may be megabytes long
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raise ModelFormatError(f"{where}: tensor '{name}' is stored in an external file; "
                               "external data is not supported")
    try:
        arr = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - damaged tensor data
        raise ModelFormatError(f"{where}: tensor '{name}' cannot be read: "
                               f"{short(exc, 200)}") from None
    if arr.dtype.kind not in "fiu":
        raise ModelFormatError(f"{where}: tensor '{name}' has type {arr.dtype}")
    arr = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ModelFormatError(f"{where}: tensor '{name}' contains NaN or infinite values")
    return arr


MAX_SAMPLE_ELEMENTS = 1 << 26  # per-sample input values (64 M: 4,096² × 4)


def read_onnx(path):
    """Read an ONNX network as a graph model (see :mod:`lrpcore.io.onnx_graph`)."""
    from .onnx_graph import read_onnx_graph

    path = os.fspath(path)
    return read_onnx_graph(path, load_proto(path))


MAX_PROTO_BYTES = (2 << 30) - 1  # protobuf parses no message larger than 2 GiB


def load_proto(path):
    """The ONNX ModelProto of a file (external data never followed), or ModelFormatError."""
    onnx, _ = _onnx()
    require_regular_file(path, ModelFormatError)
    size = os.path.getsize(path)
    if size > MAX_PROTO_BYTES:  # onnx.load reads the whole file first: a 20-GB file (sparse,
        # or the wrong file) was read into memory before protobuf refused it
        raise ModelFormatError(f"{path}: {size:,} bytes; an ONNX model file holds at most 2 GiB "
                               "(larger models keep their weights in external data, which is "
                               "not supported)")
    try:
        return onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise ModelFormatError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                               f"{str(exc)[:200]})") from None
