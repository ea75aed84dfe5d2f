"""Import sequential ONNX networks (e.g. exported from PyTorch or Keras) without PyTorch.

ONNX computes in NCHW with OIHW filters; this engine computes in NHWC with HWCN filters. The
importer walks the graph as one chain of nodes and converts each into this project's layers:

* ``Gemm`` (``transB``, ``alpha``, ``beta``; ``transA`` is refused), ``MatMul`` + ``Add``
  → Linear; ``Conv`` → Convolution (filters transposed to HWCN); ``Relu`` → Rect; ``Tanh``;
  ``Softmax`` (last axis); ``MaxPool``; ``Flatten`` and flattening ``Reshape``;
  ``Dropout`` and ``Identity`` are dropped; ``BatchNormalization`` is folded into the Conv or
  Gemm right before it (per output channel: W·s, (B − mean)·s + β with s = γ/√(var + ε)).
* Flattening an NCHW map gives features in C, H, W order, this engine's Flatten gives H, W, C
  order: the weight rows of the first Linear after a flatten are permuted to match.
* ``AveragePool`` / ``GlobalAveragePool`` become SumPool, which computes window sum/√(h·w)
  where the average is sum/(h·w). The missing factor 1/√(h·w) is folded into the weights of
  the next Linear or Convolution (it passes unchanged through Relu, MaxPool and flattening,
  which are positively homogeneous). This keeps every layer's output as the engine defines it,
  and LRP is unaffected at the pool itself: the toolbox's SumPool rules divide the normaliser
  out and distribute relevance in proportion to the window's values, as for a mean. A factor
  that cannot be folded (no linear layer follows; a Tanh or Softmax comes first) is refused.
* Padding: a ``Conv`` with ``pads`` (or ``auto_pad`` SAME_UPPER/SAME_LOWER) becomes a Pad
  layer of zeros followed by an unpadded Convolution; a constant-mode ``Pad`` node on the
  height and width becomes a Pad layer. The border is a constant, not input: flat, w² and zB
  share among the real inputs only, and relevance that reaches a non-zero border is dropped
  (``lrpcore.layers.Pad``). Padded pooling, grouped or dilated convolutions and
  ``ceil_mode`` pooling are refused.

Any other operator raises ModelFormatError naming the operator and the node. The ONNX file
carries no preprocessing: the input specification maps raw values unchanged (``divide`` 1,
``offset`` 0); put the real one in a sidecar ``MODEL.json``.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import ModelFormatError
from ..layers import (
    Convolution,
    Flatten,
    Linear,
    MaxPool,
    Pad,
    Rect,
    SoftMax,
    SumPool,
    Tanh,
)
from ..model import Sequential
from ..spec import InputSpec


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelFormatError("reading .onnx models needs the 'onnx' package "
                               "(pip install onnx, or pip install lrp-explorer[onnx])") from None
    return onnx, numpy_helper


class _Chain:
    """State of the walk: layers so far, the current tensor and its per-sample shape."""

    def __init__(self, path, current, shape):
        self.path = path
        self.layers = []
        self.current = current
        self.shape = shape  # this engine's per-sample shape: (H, W, C) or (F,)
        self.last_linear = None  # a Linear/Convolution whose output is the current tensor
        self.perm = None  # row permutation owed to the next Linear (NCHW flatten)
        self.scale = 1.0  # factor owed to the next Linear/Convolution (average pooling)
        self.scale_from = None

    def add(self, layer, where):
        try:
            self.shape = layer.output_shape(self.shape)
        except Exception as exc:  # noqa: BLE001 - ShapeError from the layer
            raise ModelFormatError(f"{where}: does not fit its input: {exc}") from None
        self.layers.append(layer)
        self.last_linear = layer if layer.kind in ("Linear", "Convolution") else None


def _attrs(onnx, node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _constant(chain, consts, name, where, what):
    if name not in consts:
        raise ModelFormatError(f"{where}: {what} '{name}' must be a constant (initializer)")
    return consts[name]


def _pair(values, key, where, default=(1, 1)):
    values = tuple(values) if values is not None else default
    if len(values) != 2 or any(int(v) <= 0 for v in values):
        raise ModelFormatError(f"{where}: '{key}' must be two positive numbers, got {values}")
    return (int(values[0]), int(values[1]))


def _text(value, default):
    value = default if value is None else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _no_padding(attrs, where):
    pads = list(attrs.get("pads", []))
    auto = _text(attrs.get("auto_pad"), "NOTSET")
    if any(int(p) != 0 for p in pads) or auto not in ("NOTSET", "VALID"):
        raise ModelFormatError(
            f"{where}: padded pooling (pads={pads}, auto_pad={auto}) is not supported; export "
            "the pooling layer with padding=0")


def _conv_pads(attrs, in_shape, kernel, stride, where) -> tuple:
    """(top, bottom, left, right) zero padding of a Conv node, from 'pads' or 'auto_pad'."""
    auto = _text(attrs.get("auto_pad"), "NOTSET")
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        sides = []
        for size, k, s in zip(in_shape[:2], kernel, stride, strict=True):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            low, high = total // 2, total - total // 2  # SAME_UPPER: the odd pixel at the end
            sides += [low, high] if auto == "SAME_UPPER" else [high, low]
        return tuple(sides)
    if auto != "NOTSET":
        raise ModelFormatError(f"{where}: unknown auto_pad '{auto}'")
    pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
    if len(pads) != 4 or any(p < 0 for p in pads):
        raise ModelFormatError(f"{where}: 'pads' must be four numbers ≥ 0 (H and W begin, then "
                               f"end), got {pads}")
    top, left, bottom, right = pads
    return (top, bottom, left, right)


def _add_pad(chain, pads, value, where):
    if not any(pads):
        return
    if value != 0.0:
        _check_no_pending(chain, where)  # a pending pooling factor would scale the border too
    chain.add(Pad(pads, value), where)


def _pad_node(chain, node, attrs, consts, where):
    mode = _text(attrs.get("mode"), "constant")
    if mode != "constant":
        raise ModelFormatError(f"{where}: only constant padding is supported, not '{mode}'")
    if len(chain.shape) != 3:
        raise ModelFormatError(f"{where}: Pad is supported on images (N, C, H, W) only")
    if "pads" in attrs:  # opset < 11: attributes
        pads, value = list(attrs["pads"]), float(attrs.get("value", 0.0))
    else:
        pads = _constant(chain, consts, node.input[1], where, "pads").astype(np.int64).ravel()
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            v = _constant(chain, consts, node.input[2], where, "constant_value").ravel()
            value = float(v[0]) if v.size else 0.0
        if len(node.input) > 3 and node.input[3]:
            raise ModelFormatError(f"{where}: Pad with 'axes' is not supported")
    pads = [int(p) for p in pads]
    if len(pads) != 8:
        raise ModelFormatError(f"{where}: 'pads' must have 8 entries for an N, C, H, W tensor")
    n0, c0, h0, w0, n1, c1, h1, w1 = pads
    if n0 or c0 or n1 or c1:
        raise ModelFormatError(f"{where}: only height and width can be padded")
    if min(h0, w0, h1, w1) < 0:
        raise ModelFormatError(f"{where}: negative pads (cropping) are not supported")
    if not math.isfinite(value):
        raise ModelFormatError(f"{where}: the padding value must be finite, got {value}")
    _add_pad(chain, (h0, h1, w0, w1), value, where)


def _take_scale(chain, where):
    """The factor owed by earlier average pooling (applied to the next weights)."""
    factor, chain.scale, chain.scale_from = chain.scale, 1.0, None
    return factor


def _gemm(chain, node, attrs, consts, where):
    if attrs.get("transA", 0):
        raise ModelFormatError(f"{where}: Gemm with transA=1 is not a layer on a batch")
    if node.input[0] != chain.current:
        raise ModelFormatError(f"{where}: the layer input must be the previous node's output")
    B = _constant(chain, consts, node.input[1], where, "weight")
    if B.ndim != 2:
        raise ModelFormatError(f"{where}: weight must be 2-d, got shape {B.shape}")
    W = B.T if attrs.get("transB", 0) else B
    for label in ("alpha", "beta"):  # as the graph importer: inf would become the weights
        if not math.isfinite(float(attrs.get(label, 1.0))) or \
                abs(float(attrs.get(label, 1.0))) > 1e30:
            raise ModelFormatError(f"{where}: Gemm {label} = {attrs.get(label)} is not a "
                                   "usable scale (finite, at most 1e30 in size)")
    W = W * float(attrs.get("alpha", 1.0))
    n = W.shape[1]
    bias = np.zeros(n)
    if len(node.input) > 2 and node.input[2]:
        C = _constant(chain, consts, node.input[2], where, "bias")
        try:
            bias = np.broadcast_to(C, (1, n)).reshape(n) * float(attrs.get("beta", 1.0))
        except ValueError:
            raise ModelFormatError(f"{where}: bias of shape {C.shape} does not fit {n} "
                                   "outputs") from None
    _linear(chain, W, bias, where)


def _linear(chain, W, bias, where):
    if W.ndim != 2:
        raise ModelFormatError(f"{where}: weight must be 2-d, got shape {W.shape}")
    if len(chain.shape) != 1:
        raise ModelFormatError(f"{where}: a dense layer needs flat input; add a Flatten first")
    if chain.perm is not None:
        if len(chain.perm) != W.shape[0]:
            raise ModelFormatError(f"{where}: weight has {W.shape[0]} rows for "
                                   f"{len(chain.perm)} inputs")
        W = W[chain.perm]
        chain.perm = None
    W = W * _take_scale(chain, where)
    chain.add(Linear(np.ascontiguousarray(W), np.array(bias, dtype=np.float64)), where)


def _conv(chain, node, attrs, consts, where):
    if attrs.get("group", 1) != 1:
        raise ModelFormatError(f"{where}: grouped convolutions (group={attrs['group']}) are "
                               "not supported")
    if any(int(d) != 1 for d in attrs.get("dilations", [1, 1])):
        raise ModelFormatError(f"{where}: dilated convolutions are not supported")
    if len(chain.shape) != 3:
        raise ModelFormatError(f"{where}: Conv needs an image input (N, C, H, W)")
    if chain.perm is not None:
        raise ModelFormatError(f"{where}: Conv after a flatten is not supported")
    K = _constant(chain, consts, node.input[1], where, "filter")
    if K.ndim != 4:
        raise ModelFormatError(f"{where}: only 2-d convolutions (OIHW filters) are supported")
    W = K.transpose(2, 3, 1, 0) * _take_scale(chain, where)  # OIHW -> HWCN (I = C)
    bias = np.zeros(W.shape[3])
    if len(node.input) > 2 and node.input[2]:
        bias = _constant(chain, consts, node.input[2], where, "bias").reshape(-1)
    stride = _pair(attrs.get("strides"), "strides", where)
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != W.shape[:2]:
        raise ModelFormatError(f"{where}: kernel_shape does not match the filters")
    _add_pad(chain, _conv_pads(attrs, chain.shape, W.shape[:2], stride, where), 0.0, where)
    try:
        layer = Convolution(np.ascontiguousarray(W), bias, stride)
    except Exception as exc:  # noqa: BLE001 - ShapeError
        raise ModelFormatError(f"{where}: {exc}") from None
    chain.add(layer, where)


def _pool(chain, node, attrs, where, average):
    if len(chain.shape) != 3:
        raise ModelFormatError(f"{where}: pooling needs an image input (N, C, H, W)")
    if node.op_type.startswith("Global"):
        pool = stride = chain.shape[:2]
    else:
        _no_padding(attrs, where)
        if attrs.get("ceil_mode", 0):
            raise ModelFormatError(f"{where}: ceil_mode=1 pooling is not supported")
        if any(int(d) != 1 for d in attrs.get("dilations", [1, 1])):
            raise ModelFormatError(f"{where}: dilated pooling is not supported")
        if attrs.get("storage_order", 0):
            raise ModelFormatError(f"{where}: MaxPool storage_order=1 is not supported")
        pool = _pair(attrs.get("kernel_shape"), "kernel_shape", where, default=())
        stride = _pair(attrs.get("strides"), "strides", where)
    if average:
        chain.add(SumPool(pool, stride), where)
        chain.scale *= 1.0 / np.sqrt(pool[0] * pool[1])
        chain.scale_from = where
    else:
        chain.add(MaxPool(pool, stride), where)


def _flatten(chain, where):
    if len(chain.shape) == 3:
        H, W, C = chain.shape
        if H * W > 1 and C > 1:
            chain.perm = np.arange(C * H * W).reshape(C, H, W).transpose(1, 2, 0).ravel()
        chain.add(Flatten(), where)


def _reshape(chain, node, consts, where):
    target = _constant(chain, consts, node.input[1], where, "shape").astype(np.int64).ravel()
    size = int(np.prod(chain.shape))
    flat_ok = (len(target) == 2 and target[0] in (0, -1, 1)
               and (target[1] in (-1, size)) and not (target[0] == -1 and target[1] == -1))
    if not flat_ok:
        raise ModelFormatError(f"{where}: Reshape to {target.tolist()} is not a flatten "
                               f"(N, {size}); only flattening reshapes are supported")
    _flatten(chain, where)


def _add(chain, node, consts, where):
    others = [name for name in node.input if name != chain.current]
    if len(others) != 1 or len(node.input) != 2 or others[0] not in consts:
        raise ModelFormatError(f"{where}: Add is supported only as a constant bias")
    layer = chain.last_linear
    if layer is None:
        raise ModelFormatError(f"{where}: Add of a constant is supported only right after "
                               "MatMul, Gemm or Conv (as their bias)")
    n = layer.B.shape[0]
    value = consts[others[0]]
    if value.size == n:
        value = value.reshape(n)
    elif value.size != 1:
        raise ModelFormatError(f"{where}: bias of shape {value.shape} does not fit {n} outputs")
    layer.B = layer.B + value
    layer.clear_cache()


def _batchnorm(chain, node, attrs, consts, where):
    layer = chain.last_linear
    if layer is None:
        raise ModelFormatError(f"{where}: BatchNormalization can only be folded into a Conv "
                               "or Gemm right before it")
    gamma, beta, mean, var = (_constant(chain, consts, name, where, "parameter").reshape(-1)
                              for name in node.input[1:5])
    eps = float(attrs.get("epsilon", 1e-5))
    n = layer.B.shape[0]
    if not all(a.size == n for a in (gamma, beta, mean, var)):
        raise ModelFormatError(f"{where}: parameters do not have {n} channels")
    if np.any(var + eps <= 0):
        raise ModelFormatError(f"{where}: variance + epsilon must be positive")
    s = gamma / np.sqrt(var + eps)
    layer.W = layer.W * s  # output channel is the last axis for Linear and Convolution
    layer.B = (layer.B - mean) * s + beta
    if not (np.isfinite(layer.W).all() and np.isfinite(layer.B).all()):
        raise ModelFormatError(f"{where}: folding BatchNormalization gives weights that are "
                               "not finite")
    layer.clear_cache()


def _softmax(chain, attrs, where, opset):
    axis = int(attrs.get("axis", -1 if opset >= 13 else 1))
    if len(chain.shape) != 1 or axis not in (-1, 1):
        raise ModelFormatError(f"{where}: Softmax is supported only over the features of a "
                               "flat (N, F) tensor")
    _check_no_pending(chain, where)
    chain.add(SoftMax(), where)


def _check_no_pending(chain, where):
    if chain.scale != 1.0:
        raise ModelFormatError(f"{chain.scale_from}: the average pooling factor cannot be "
                               f"folded into a following layer ({where} comes first)")
    if chain.perm is not None:
        raise ModelFormatError(f"{where}: a flattened N, C, H, W map must go through a dense "
                               "layer first (feature order differs)")


def _node(chain, i, node, consts, onnx, opset):
    op = node.op_type
    where = f"{chain.path}: node {i} '{node.name or '?'}' ({op})"
    attrs = _attrs(onnx, node)
    if op == "Constant":
        value = attrs.get("value")
        if value is None:
            raise ModelFormatError(f"{where}: only tensor constants ('value') are supported")
        consts[node.output[0]] = _tensor(onnx, value, where)
        return
    if not node.input or node.input[0] != chain.current and op != "Add":
        raise ModelFormatError(f"{where}: the network is not one chain of layers (this node "
                               f"does not take the previous node's output '{chain.current}')")
    if op == "Gemm":
        _gemm(chain, node, attrs, consts, where)
    elif op == "MatMul":
        W = _constant(chain, consts, node.input[1], where, "weight")
        _linear(chain, W, np.zeros(W.shape[-1]), where)
    elif op == "Add":
        if chain.current not in node.input:
            raise ModelFormatError(f"{where}: the network is not one chain of layers")
        _add(chain, node, consts, where)
    elif op == "Conv":
        _conv(chain, node, attrs, consts, where)
    elif op == "BatchNormalization":
        _batchnorm(chain, node, attrs, consts, where)
    elif op == "Relu":
        chain.add(Rect(), where)
    elif op == "Tanh":
        _check_no_pending(chain, where)
        chain.add(Tanh(), where)
    elif op == "Softmax":
        _softmax(chain, attrs, where, opset)
    elif op in ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"):
        if len(node.output) > 1 and node.output[1]:
            raise ModelFormatError(f"{where}: pooling indices output is not supported")
        _pool(chain, node, attrs, where, average="Average" in op)
    elif op == "Pad":
        _pad_node(chain, node, attrs, consts, where)
    elif op == "Flatten":
        if int(attrs.get("axis", 1)) != 1:
            raise ModelFormatError(f"{where}: only Flatten with axis=1 is supported")
        _flatten(chain, where)
    elif op == "Reshape":
        _reshape(chain, node, consts, where)
    elif op in ("Dropout", "Identity"):
        if op == "Dropout" and len(node.input) > 2 and node.input[2]:
            mode = consts.get(node.input[2])
            if mode is None or bool(np.asarray(mode).any()):
                raise ModelFormatError(f"{where}: Dropout in training mode is not supported")
    else:
        raise ModelFormatError(f"{where}: unsupported operator '{op}' (supported: Gemm, MatMul, "
                               "Add, Conv, Pad, BatchNormalization, Relu, Tanh, Softmax, "
                               "MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, "
                               "Dropout, Identity)")
    chain.current = node.output[0]


def _tensor(onnx, tensor, where):
    _, numpy_helper = _onnx()
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raise ModelFormatError(f"{where}: tensor '{tensor.name}' is stored in an external file; "
                               "external data is not supported")
    try:
        arr = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - damaged tensor data
        raise ModelFormatError(f"{where}: tensor '{tensor.name}' cannot be read: {exc}") from None
    if arr.dtype.kind not in "fiu":
        raise ModelFormatError(f"{where}: tensor '{tensor.name}' has type {arr.dtype}")
    arr = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ModelFormatError(f"{where}: tensor '{tensor.name}' contains NaN or infinite values")
    return arr


MAX_SAMPLE_ELEMENTS = 1 << 26  # per-sample input values (64 M: 4,096² × 4)


def _input_shape(graph, consts, path):
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1:
        raise ModelFormatError(f"{path}: the graph needs exactly one input, has {len(inputs)}")
    dims = inputs[0].type.tensor_type.shape.dim
    sample = [d.dim_value if d.HasField("dim_value") else None for d in list(dims)[1:]]
    if len(sample) not in (1, 3) or any(not d or d <= 0 for d in sample):
        raise ModelFormatError(f"{path}: input '{inputs[0].name}' must have a fixed shape "
                               "(N, features) or (N, C, H, W); got "
                               f"{[d.dim_param or d.dim_value for d in dims]}")
    if math.prod(sample) > MAX_SAMPLE_ELEMENTS:  # Python ints: np.prod wraps around at 2⁶⁴
        raise ModelFormatError(f"{path}: input '{inputs[0].name}' declares "
                               f"{math.prod(sample):,} values per sample (more than "
                               f"{MAX_SAMPLE_ELEMENTS:,})")
    if len(sample) == 3:
        C, H, W = sample
        return inputs[0].name, (H, W, C)
    return inputs[0].name, (sample[0],)


_GRAPH_OPS = {"Shape", "Constant", "ConstantOfShape", "Gather", "Slice", "Concat", "Cast",
              "Unsqueeze", "Squeeze", "Transpose", "Clip", "LeakyRelu", "Sum", "Mean",
              "ReduceMean"}


def needs_graph(proto) -> bool:
    """Whether an ONNX graph is more than a chain of layers: a tensor read twice, a merge of
    two tensors, a grouped convolution or shape arithmetic."""
    onnx, _ = _onnx()
    consts = {t.name for t in proto.graph.initializer}
    reads: dict = {}
    for node in proto.graph.node:
        if node.op_type in _GRAPH_OPS:
            return True
        if node.op_type == "Conv" and int(_attrs(onnx, node).get("group", 1)) != 1:
            return True
        if node.op_type == "Add" and sum(n not in consts for n in node.input) > 1:
            return True
        for n in node.input:
            if n and n not in consts:
                reads[n] = reads.get(n, 0) + 1
    return any(v > 1 for v in reads.values())


def read_onnx(path):
    """Read an ONNX network: a chain of layers as a Sequential (in NHWC, as before), anything
    else as a graph model (lrpcore.io.onnx_graph)."""
    path = os.fspath(path)
    proto = load_proto(path)
    if proto.graph.node and needs_graph(proto):
        from .onnx_graph import read_onnx_graph

        return read_onnx_graph(path, proto)
    return read_onnx_chain(path)


def load_proto(path):
    """The ONNX ModelProto of a file (external data never followed), or ModelFormatError."""
    onnx, _ = _onnx()
    try:
        return onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise ModelFormatError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                               f"{str(exc)[:200]})") from None


def read_onnx_chain(path) -> Sequential:
    """Read a sequential ONNX network as this project's layers (see the module docstring)."""
    path = os.fspath(path)
    onnx, _ = _onnx()
    proto = load_proto(path)
    graph = proto.graph
    if not graph.node:
        raise ModelFormatError(f"{path}: the ONNX graph has no nodes")
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                default=13)
    consts = {t.name: _tensor(onnx, t, f"{path}: initializer") for t in graph.initializer}
    name, shape = _input_shape(graph, consts, path)
    chain = _Chain(path, name, shape)
    for i, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx"):
            raise ModelFormatError(f"{path}: node {i} '{node.name}': operator "
                                   f"'{node.domain}.{node.op_type}' is not supported")
        _node(chain, i, node, consts, onnx, opset)
    outputs = [o.name for o in graph.output]
    if outputs != [chain.current]:
        raise ModelFormatError(f"{path}: the graph output {outputs} is not the end of the "
                               f"chain of layers ('{chain.current}')")
    if not chain.layers:
        raise ModelFormatError(f"{path}: the ONNX graph holds no layers")
    _check_no_pending(chain, f"{path}: the output")
    layout = "NHWC" if len(shape) == 3 else "flat"
    spec = InputSpec(shape=shape, raw_shape=shape, layout=layout, divide=1.0, offset=0.0,
                     pad=0, value_range=(0.0, 1.0), raw_range=(0.0, 1.0), source="onnx")
    meta = {"provenance": {"imported_from": "onnx", "producer": proto.producer_name or None,
                           "opset": int(opset)}}
    return Sequential(chain.layers, spec, meta, source=path)
