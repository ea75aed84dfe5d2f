"""Import ONNX graphs (residual, concatenating, depthwise networks) as graph models.

The engine computes in NHWC; ONNX in NCHW. Every tensor is tracked with its ONNX (logical)
per-sample shape and how it is stored: ``cl`` (a C×H×W tensor stored H×W×C) or ``same``
(stored as ONNX has it). A channels-first model input is turned to channels-last by one
:class:`~lrpcore.graph_layers.ToChannelsLast` node, so the model takes, and explains, arrays in
its own declared layout (N×C×H×W for PyTorch; a Keras export's N×H×W×C input followed by a
Transpose to NCHW is used as it is). Flattening a C×H×W map keeps PyTorch's C, H, W order.

Shape arithmetic (Shape, Gather, Slice, Concat, ConstantOfShape, Cast, Unsqueeze, Squeeze,
Constant, Transpose, Reshape, Split, arithmetic, Neg, Max, Min of constants: ``FOLDED``) is
evaluated at import; the batch size is unknown
then and stands as 0, which ONNX's Reshape reads as "keep this dimension". Every size a file
declares is bounded before anything of that size is made.
"""

from __future__ import annotations

import ast
import math
import os
from fractions import Fraction

import numpy as np

from ..errors import LRPError, ModelFormatError
from ..graph import MAX_MODULE_PATH, MODULE_PATH, GraphModel, Node
from ..graph_activations import (
    SELU_ALPHA,
    SELU_GAMMA,
    Elu,
    HardSigmoid,
    LogSoftmax,
    PRelu,
    Sigmoid,
    Silu,
    Softmax,
)
from ..graph_channels import MirrorPad
from ..graph_dilated import (
    DilatedConvolution,
    DilatedGroupedConvolution,
    DilatedMaxPool,
    check_dilation,
    span,
)
from ..graph_elementwise import Elementwise
from ..graph_layers import (
    Add,
    Affine,
    Clip,
    Concat,
    FlattenChannelsFirst,
    Gate,
    GroupedConvolution,
    LeakyReLU,
    Mean,
    MeanPool,
    PartialMeanPool,
    Scale,
    ToChannelsLast,
)
from ..graph_norms import ChannelNorm, PositionwiseDense
from ..graph_sequence import SequenceToChannelsLast
from ..graph_upsampling import InterpolatingResize, NearestResize
from ..layers import Convolution, Flatten, Linear, MaxPool, Pad, Rect, Tanh, mark_functional
from ..model import MAX_ACTIVATION_VALUES  # noqa: F401 - also read from here
from ..spec import onnx_input_spec
from ..text import brief, error_line, short
from . import onnx_axes as axis_check
from . import onnx_channels as channels
from . import onnx_elementwise as elementwise
from . import onnx_hard_sigmoid as hard_sigmoid
from . import onnx_keras_norms as keras_norms
from . import onnx_norms as norms
from . import onnx_repeat as repeat
from . import onnx_stack as stack
from . import onnx_upsampling as upsampling
from .native import MAX_GRAPH_NODES
from .onnx_functions import CLASS_HIERARCHY, inline_functions
from .onnx_import import MAX_SAMPLE_ELEMENTS, ExternalData, _onnx, _tensor, load_proto
from .onnx_types import ElementTypes, is_floating, is_number_type, type_name

MAX_NODES = MAX_GRAPH_NODES  # far above real exports (EfficientNet-Lite0: 575 nodes)
MAX_CONSTANT_ELEMENTS = 1 << 24  # what shape arithmetic may build
# what all folded constants of one file may hold together: a 33-KB file of 200
# ConstantOfShape nodes, each within the bound above, asked for 25 GB (a real export: kB)
MAX_FOLDED_BYTES = 1 << 29
MAX_PAD = 1024
MAX_SCALE = 1e30

_ONNX_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 9: np.bool_,
               10: np.float16, 11: np.float64}


class _Tensor:
    """A data tensor of the graph: the engine's tensor name, logical shape, storage."""

    def __init__(self, name, shape, storage, seq=False):
        self.name, self.shape, self.storage = name, tuple(int(s) for s in shape), storage
        # a sequence (ONNX's N×C×L) stored as a C×1×L map: ONNX's axes count one fewer
        self.seq = bool(seq)


class _TensorTable(dict):
    """ONNX tensor name → :class:`_Tensor`, indexed by the engine tensor each one names (an
    Identity's output names its input's): a graph of 50,000 Gemm + bias pairs (3 MB) took
    minutes to load while every bias fold searched the whole table and node list."""

    def __init__(self, readers):
        super().__init__()
        self.by_engine: dict[str, set] = {}
        # engine tensor → the nodes reading any of its ONNX names, kept as names are added:
        # summed over the aliases at every fold, one MatMul followed by 8,000 Adds of a
        # bias (0.5 MB) took 9 s to load, 100,000 about 20 minutes
        self.reads: dict[str, int] = {}
        self._readers = readers  # ONNX name → nodes reading it

    def __setitem__(self, key, value):
        if key in self:
            old = self[key].name
            self.by_engine[old].discard(key)
            self.reads[old] -= self._readers.get(key, 0)
        super().__setitem__(key, value)
        self.by_engine.setdefault(value.name, set()).add(key)
        self.reads[value.name] = self.reads.get(value.name, 0) + self._readers.get(key, 0)

    def aliases(self, engine_name) -> set:
        """The ONNX names of engine tensor ``engine_name``."""
        return self.by_engine.get(engine_name, set())


class _Builder:
    def __init__(self, path, opset):
        self.path, self.opset = path, opset
        self.batch = None  # the batch size the input declares, when it is a fixed number
        self.relabelled_nhwc = False  # a Transpose read an N×H×W×C tensor as N×C×H×W
        self.nodes: list[Node] = []
        self.producer: dict[str, int] = {}  # engine tensor → index of the node writing it
        self.readers: dict[str, int] = {}  # counted before any tensor enters ``data``
        self.data: _TensorTable = _TensorTable(self.readers)
        self.consts: dict[str, np.ndarray] = {}
        # constants folded from a data tensor's Shape, whose 0 stands for the batch (Shape
        # gives the batch as 0 here); a 0 the file writes is a 0 (an empty dimension)
        self.batch_shaped: set = set()
        self.folded_bytes = 0  # made by constant folding so far (MAX_FOLDED_BYTES)
        self.pytorch = False  # written by PyTorch's exporters (``_scale_shift`` says why)
        self.bias_free: set = set()  # nodes of a MatMul, whose bias may follow as an Add
        self.sequences: dict = {}  # SplitToSequence's output → (tensor, channel ranges)
        self.repeats: dict = {}  # a pending repeat's _Tensor → (the map, its axes' labels)
        # engine tensors of "same" maps laid out N×H×W×C (a map transposed by [0, 2, 3, 1], a
        # repeat's rows): Pad, Slice and Concat read them as the maps they are stored as
        self.nhwc: set = set()
        self.batch_flat: dict = {}  # a Reshape to [-1] of a batch of one: its _Tensor → the
        # tensor it read
        self.keras_norms: dict = {}  # id(placeholder node) → keras_norms.Moments
        self.grouped: dict = {}  # a map reshaped for nn.GroupNorm (onnx_norms): its _Tensor →
        # the map it read, or the GroupNorm's output once normalised
        # an output after a node's first that the import does not compute (MaxPool's Indices,
        # LayerNormalization's Mean) → (its index, the node's description), for the reader's
        # error (it was "Add's constant must be a constant")
        self.uncomputed: dict = {}
        self.types = ElementTypes()  # the element types the file declares (onnx_types)
        # an Expand of data that a Mul broadcasts alike (an attention gate's expand_as): its
        # output's ONNX name, which names the unexpanded tensor and only a Mul may read
        # an Expand of data (an alias of it) → the per-sample shape it expands to
        self.broadcast_only: dict = {}
        self.output_name = None  # the graph's first output: the model's (_read_nodes)
        self._cl: dict[str, str] = {}

    def fail(self, where, text):
        raise ModelFormatError(f"{self.path}: {where}: {error_line(text, 400)}")

    def add(self, name, layer, inputs, output):
        self.producer.setdefault(output, len(self.nodes))  # a second writer is refused later
        self.nodes.append(Node(name, layer, tuple(inputs), output))
        return output

    def const(self, name, where, what):
        if name not in self.consts:
            self.fail(where, f"{what} must be a constant")
        value = self.consts[name]
        if np.asarray(value).dtype.kind == "f" and not np.all(np.isfinite(value)):
            # initializers are checked when read; this one was computed (e.g. W / 0)
            self.fail(where, f"{what} hold NaN or infinite values")
        return value

    def batch_fits(self, n, name) -> bool:
        """Whether ``n``, the batch entry of constant ``name``, a shape the file gives
        (Expand's, Resize's sizes), keeps the samples: 0 from a data tensor's Shape
        (``written_zero``), 1, or the input's fixed batch; with an open batch any positive
        one (a constant traced at some batch). A 7 on a batch of one was read as the
        sample's own, where every runtime makes seven."""
        if int(n) == 0:
            return not self.written_zero(name)
        return int(n) in (1, self.batch) or self.batch is None and int(n) > 0

    def written_zero(self, name) -> bool:
        """Whether constant ``name`` holds a 0 the file writes, not the batch of a data
        tensor's Shape: an empty dimension to runtimes (Resize's sizes, Reshape's shape with
        allowzero=1), which they refuse, where it was read as the batch."""
        return name not in self.batch_shaped and not np.all(self.consts[name])

    def indices(self, name, where, what):
        """A constant the operator reads as whole numbers (indices, axes, sizes, a shape),
        which ONNX types as integers: floats were cut toward zero (Gather at 1.7 took
        channel 1), where every runtime refuses the file."""
        return _integer(self, where, self.const(name, where, what), what)

    def weights(self, name, where, what):
        """A weighted layer's constant (filters, biases, a weight matrix) in floating point:
        integers are quantised weights, whose scale and zero point a DequantizeLinear node
        holds; read as floats (int8 filters of 7 as weights of 7.0) they are not the model's
        numbers, and the heatmaps of a model that does not exist came out."""
        value = self.const(name, where, what)
        kind = np.asarray(value).dtype
        if kind.kind != "f":
            self.fail(where, f"{what} ('{short(name)}') hold {kind.name} values: quantised weights "
                             "without their scale (a DequantizeLinear node) are not the "
                             "model's numbers; export the model in floating point")
        return value

    def channels_last(self, t: _Tensor, where) -> _Tensor:
        """The tensor stored channels-last (a ToChannelsLast node for a C×H×W input)."""
        if t.storage == "cl":
            return t
        seq = len(t.shape) == 2  # N×C×L (Conv1d): a C×1×L map
        if len(t.shape) != 3 and not seq:
            self.fail(where, f"needs a C×H×W or C×L tensor, gets shape {t.shape}")
        if t.name not in self._cl:
            out = f"{t.name}/channels_last"
            layer = SequenceToChannelsLast() if seq else ToChannelsLast()
            self.add(f"{t.name}/to_channels_last", layer, [t.name], out)
            self._cl[t.name] = out
        shape = (t.shape[0], 1, t.shape[1]) if seq else t.shape
        return _Tensor(self._cl[t.name], shape, "cl", seq)


def _nhwc_map(b, t):
    """``t`` as the "cl" map its array is, when it is an N×H×W×C map (``b.nhwc``: tf2onnx
    leaves Keras's ZeroPadding2D, Cropping2D and Concatenate there after a repeat); None
    otherwise."""
    if t is None or t.storage != "same" or len(t.shape) != 3 or t.name not in b.nhwc:
        return None
    H, W, C = t.shape
    return _Tensor(t.name, (C, H, W), "cl")


def _as_nhwc(b, name):
    """The "cl" map just written to ONNX tensor ``name`` relabelled N×H×W×C (the same array)."""
    C, H, W = b.data[name].shape
    engine = b.data[name].name
    b.data[name] = _Tensor(engine, (H, W, C), "same")
    b.nhwc.add(engine)


# ONNX axis of an N×H×W×C map → that of the N×C×H×W map it is stored as
NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


def _attrs(onnx, node, b=None, where=None) -> dict:
    """A node's attributes; a float one as the value it was written from (:func:`as_written`),
    a string one as text (the one place strings are decoded: bytes not UTF-8, in auto_pad or
    Pad's mode, stopped the import as "malformed (UnicodeDecodeError…)", the attribute
    unnamed). Without ``b`` (a peek at one attribute) such bytes are left as they are."""
    out = {}
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        if a.type == onnx.AttributeProto.FLOAT:
            value = as_written(value)
        elif a.type == onnx.AttributeProto.STRING:
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                if b is not None:
                    b.fail(where, f"attribute '{short(a.name, 40)}' is not text: its bytes "
                                  "are not UTF-8")
        out[a.name] = value
    return out


def as_written(value: float) -> float:
    """ONNX stores float attributes in float32: PyTorch's ``x / 6 + 0.5`` arrives as HardSigmoid
    α = 0.16666667163…, and a float64 model then differs from PyTorch's by 4e-7 in its outputs
    and 6e-5 of max|R| (mobilenet_v3_small). The number the exporter rounded is taken back where
    it is plain: a fraction with a denominator up to 1,000 (1/6, 0.2), or a decimal of at most
    six significant digits (0.01, 0.3), that rounds to the same float32; else the float32's own
    value."""
    if not math.isfinite(value) or value == 0:
        return value
    single = np.float32(value)
    fraction = float(Fraction(value).limit_denominator(1000))
    if np.float32(fraction) == single:
        return fraction
    decimal = float(f"{float(single):.6g}")
    return decimal if np.float32(decimal) == single else value


def _ints(values, where, b, what):
    """Whole numbers: 1.5 is refused, not cut to 1 (a shape or pads read so describe
    another model than the file)."""
    try:
        ints = [int(v) for v in values]
        if any(i != v for i, v in zip(ints, values, strict=True)):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        b.fail(where, f"{what} must be whole numbers")
    return ints


def _integer(b, where, value, what):
    """``value`` where it holds integers (:meth:`_Builder.indices`)."""
    kind = np.asarray(value).dtype
    if kind.kind not in "iu":  # initializers are held in float64, whatever the file's floats
        held = "floating-point" if kind.kind == "f" else kind.name
        b.fail(where, f"{what} hold {held} values: ONNX takes integers there")
    return value


def _pair(values, where, b, what):
    """Two positive whole numbers (strides, kernel sizes): a 0 would divide by zero later."""
    pair = _ints(values, where, b, what)
    if len(pair) != 2 or any(v <= 0 for v in pair):
        b.fail(where, f"{what} {pair} must be two positive numbers")
    return pair


def _finite(value, where, b, what):
    if value is not None and not np.isfinite(value):
        b.fail(where, f"{what} = {value} is not a finite number")
    return value


def _optional_input(node, k):
    return node.input[k] if len(node.input) > k and node.input[k] else None


def _onnx_shape(t) -> tuple:
    """The per-sample shape as ONNX has it (C×L for a sequence stored C×1×L)."""
    return (t.shape[0], t.shape[2]) if t.seq else t.shape


def _rank(t) -> int:
    """The tensor's ONNX rank, batch included."""
    return len(t.shape) + 1 - t.seq


def _is_sequence(t) -> bool:
    """An N×C×L tensor (Conv1d's input), as ONNX has it or stored C×1×L."""
    return t.seq or (t.storage == "same" and len(t.shape) == 2)


def _as_2d(attrs, b, where) -> dict:
    """A 1-D Conv's or pool's attributes for the 1×L map the sequence is stored as. They must
    be those of one axis: a 1-D Conv's pads [1, 1, 1, 1] padded the 1×L map's height too (a
    2-D output explained where runtimes refuse the file), dilations [3, 2] read as 2."""
    out = dict(attrs)
    for key, count in (("strides", 1), ("dilations", 1), ("kernel_shape", 1), ("pads", 2)):
        if key in attrs and len(attrs[key]) != count:
            b.fail(where, f"{key} {brief(list(attrs[key]))} do not fit a 1-D operator, which "
                          f"takes {count}")
    for key in ("strides", "dilations", "kernel_shape"):
        if key in attrs:
            out[key] = [1] + list(attrs[key])
    if "pads" in attrs:
        out["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
    return out


def _bounded(arr, b, where, ins=()):
    """``arr``, a folded node's value, within the bounds of one constant and of all that
    folding made (an array sharing an input's memory, e.g. a Reshape's view, costs nothing)."""
    if np.size(arr) > MAX_CONSTANT_ELEMENTS:
        b.fail(where, f"a constant of {np.size(arr)} values is larger than shape arithmetic "
                      "needs")
    if np.asarray(arr).dtype.kind not in "biuf":  # an input left empty folds in as None
        b.fail(where, f"folds into a constant of {np.asarray(arr).dtype} values, not numbers "
                      "(an input left empty?)")
    if not any(isinstance(x, np.ndarray) and np.may_share_memory(arr, x) for x in ins):
        b.folded_bytes += arr.nbytes
        if b.folded_bytes > MAX_FOLDED_BYTES:
            b.fail(where, f"the constants folded so far hold {b.folded_bytes:,} bytes, more "
                          "than shape arithmetic needs")
    return arr


def _check_size(shape, b, where, op):
    if math.prod(shape) > MAX_CONSTANT_ELEMENTS:
        b.fail(where, f"{op} of constants would make {math.prod(shape):,} values, more than "
                      "shape arithmetic needs")


# -- constant folding --------------------------------------------------------------------------

def _fold(b, node, attrs, where, onnx):
    """Evaluate a node whose inputs are all constants; returns True when it was folded."""
    op = node.op_type
    ins = [None if not n else b.consts.get(n) for n in node.input]
    if op == "Constant":
        if "value" in attrs:
            value = _tensor(onnx, attrs["value"], where)
        elif "value_ints" in attrs:
            value = np.asarray(attrs["value_ints"], dtype=np.int64)
        elif "value_int" in attrs:
            value = np.asarray(attrs["value_int"], dtype=np.int64)
        elif "value_floats" in attrs:
            value = np.asarray(attrs["value_floats"], dtype=np.float64)
        elif "value_float" in attrs:
            value = np.asarray(attrs["value_float"], dtype=np.float64)
        else:
            b.fail(where, "Constant without a supported value")
        b.consts[node.output[0]] = value
        return True
    if op == "Shape" and node.input[0] in b.data:
        t = b.data[node.input[0]]
        b.consts[node.output[0]] = _shape_of((0,) + t.shape, attrs)  # 0: the batch
        b.batch_shaped.add(node.output[0])
        return True
    if op == "CastLike" and ins and ins[0] is not None and len(node.input) > 1 \
            and node.input[1] in b.data:  # a constant cast like the (floating) data
        b.consts[node.output[0]] = _bounded(np.asarray(ins[0], dtype=np.float64), b, where,
                                            ins)
        return True
    if any(x is None for n, x in zip(node.input, ins, strict=True) if n):
        return False
    x = ins[0]
    axis_check.check(b, node, attrs, where)  # an Unsqueeze at axis 9 of 3 was one at 0
    if op == "Split":  # tf2onnx's pads of a Keras model of any input size, one per output
        _fold_split(b, node, attrs, where, ins)
        return True
    if op == "Shape":
        value = _shape_of(np.shape(x), attrs)
    elif op == "Gather":
        index = np.asarray(_integer(b, where, ins[1], "Gather's indices"), dtype=np.int64)
        axis = int(attrs.get("axis", 0))
        if not -np.ndim(x) <= axis < np.ndim(x):
            b.fail(where, f"Gather along axis {axis} of a constant of {np.ndim(x)} dimensions")
        axis %= np.ndim(x)
        shape = np.shape(x)[:axis] + np.shape(index) + np.shape(x)[axis + 1:]
        _check_size(shape, b, where, op)  # checked before numpy allocates the result
        value = np.take(x, index, axis=axis)
    elif op == "Unsqueeze":
        axes = attrs.get("axes") if "axes" in attrs else ins[1]
        value = x
        for ax in sorted(int(a) % (np.ndim(x) + len(axes)) for a in axes):
            value = np.expand_dims(value, ax)
    elif op == "Squeeze":
        axes = attrs.get("axes") if "axes" in attrs else (ins[1] if len(ins) > 1 else None)
        value = np.squeeze(x, axis=None if axes is None else tuple(int(a) for a in axes))
    elif op == "Concat":
        _check_size((sum(int(np.size(v)) for v in ins),), b, where, op)
        value = np.concatenate([np.atleast_1d(v) for v in ins], axis=int(attrs["axis"]))
    elif op == "ConstantOfShape":
        shape = _ints(np.atleast_1d(x), where, b, "ConstantOfShape's shape")
        if any(s < 0 for s in shape) or math.prod(shape) > MAX_CONSTANT_ELEMENTS:
            b.fail(where, f"ConstantOfShape of shape {brief(shape)} is not shape arithmetic")
        fill = _tensor(onnx, attrs["value"], where).reshape(-1)[0] if "value" in attrs else 0.0
        value = np.full(shape, fill)
    elif op == "Cast":
        to = _ONNX_TYPES.get(int(attrs.get("to", 0)))
        if to is None:
            b.fail(where, f"Cast to ONNX type {attrs.get('to')} is not supported")
        with np.errstate(all="ignore"):  # NaN to int: refused later by shape checks, silently
            value = np.asarray(x).astype(to)
    elif op == "Slice":
        if b.opset < 10:
            starts, ends = attrs["starts"], attrs["ends"]
            axes, steps = attrs.get("axes"), None
        else:
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else None
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else None
            for v in (starts, ends, axes, steps):
                if v is not None:
                    _integer(b, where, v, "Slice's bounds")
        axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
        steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
        index = [slice(None)] * np.ndim(x)
        for ax, st, en, sp in zip(axes, starts, ends, steps, strict=True):
            if sp == 0:
                b.fail(where, "Slice with step 0")
            big = np.iinfo(np.int64).max // 2
            index[ax] = slice(int(max(min(st, big), -big)), int(max(min(en, big), -big)), sp)
        value = np.asarray(x)[tuple(index)]
    elif op == "Transpose":
        perm = attrs.get("perm")
        value = np.transpose(x, None if perm is None else [int(p) for p in perm])
    elif op == "Reshape":
        _refuse_allowzero(b, node, attrs, where)
        value = _reshape_const(x, ins[1], b, where)
    elif op in ("Add", "Sub", "Mul", "Div"):
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        try:
            shape = np.broadcast_shapes(np.shape(x), np.shape(ins[1]))
        except ValueError:
            b.fail(where, f"{op} of constants of shapes {np.shape(x)} and {np.shape(ins[1])}")
        if math.prod(shape) > MAX_CONSTANT_ELEMENTS:
            b.fail(where, f"{op} of constants would make {math.prod(shape):,} values, more "
                          "than shape arithmetic needs")
        with np.errstate(all="ignore"):
            value = fn(x, ins[1])
        if op == "Div" and all(np.asarray(v).dtype.kind in "iu" for v in (x, ins[1])):
            # integers divide to integers, cut toward zero, as ONNX's reference does (shape
            # arithmetic: TorchScript's x.chunk(2, dim=1) computes (C + 1) / 2)
            if not np.all(ins[1]):
                b.fail(where, "Div of whole numbers by zero")
            a, d = np.asarray(x), np.asarray(ins[1])
            with np.errstate(all="ignore"):
                whole = np.abs(a) // np.abs(d)  # exact beyond float64's 2⁵³
            value = np.where((a < 0) != (d < 0), -whole, whole)
    elif op == "Neg":  # tf2onnx's pads of a Keras model of any input size: max(−d, 0)
        value = np.negative(x)
    elif op in ("Max", "Min"):  # (of every input, broadcast)
        try:
            shape = np.broadcast_shapes(*(np.shape(v) for v in ins))
        except ValueError:
            b.fail(where, f"{op} of constants of shapes {[np.shape(v) for v in ins]}")
        _check_size(shape, b, where, op)
        value = (np.maximum if op == "Max" else np.minimum).reduce(
            [np.broadcast_to(v, shape) for v in ins])
    elif op == "Mod":  # Swin's window shift: the padding a side needs, H % window
        if np.asarray(x).dtype.kind in "iu" and np.asarray(ins[1]).dtype.kind in "iu" \
                and not np.all(ins[1]):
            b.fail(where, "Mod of whole numbers by zero")
        # fmod=0: the divisor's sign (Python's %); fmod=1: the dividend's (C's fmod)
        fn = np.fmod if int(attrs.get("fmod", 0)) else np.mod
        with np.errstate(all="ignore"):
            value = fn(x, ins[1])
    elif op == "Expand":  # dynamo=True without its optimiser builds zero biases this way
        target = _ints(np.atleast_1d(ins[1]), where, b, "Expand's shape")
        try:
            shape = np.broadcast_shapes(np.shape(x), tuple(target))
        except ValueError:
            b.fail(where, f"Expand of a constant of shape {brief(list(np.shape(x)))} to "
                          f"{brief(target)}")
        _check_size(shape, b, where, op)
        value = np.broadcast_to(x, shape).copy()
    elif op == "CastLike":
        if len(ins) < 2 or ins[1] is None:  # its type from nothing: a constant of objects
            b.fail(where, "CastLike without its second input, whose type it takes")
        value = np.asarray(x).astype(np.asarray(ins[1]).dtype)
    elif op in ("Identity", "Dropout"):
        value = x
    else:
        return False
    b.consts[node.output[0]] = _bounded(np.asarray(value), b, where, ins)
    return True


def _fold_split(b, node, attrs, where, ins):
    """Split of a constant: each part, sizes as ONNX gives them (``split``, the second
    input, or equal parts, the last smaller)."""
    channels.check_split_outputs(b, node, attrs, where)
    x = np.asarray(ins[0])
    axis = int(attrs.get("axis", 0))
    if not -x.ndim <= axis < x.ndim:
        b.fail(where, f"Split along axis {axis} of a constant of {x.ndim} dimensions")
    n, outputs = x.shape[axis], list(node.output)
    sizes = attrs.get("split")
    if sizes is None and len(ins) > 1 and ins[1] is not None:
        sizes = _integer(b, where, ins[1], "Split's sizes")
    if sizes is None:
        part = -(-n // len(outputs))
        sizes = [min(part, n - k * part) for k in range(len(outputs))]
    sizes = [int(v) for v in np.atleast_1d(sizes)]
    if len(sizes) != len(outputs) or any(v < 0 for v in sizes) or sum(sizes) != n:
        b.fail(where, f"Split of {n} values into {brief(sizes)} does not fit")
    start = 0
    for size, output in zip(sizes, outputs, strict=True):
        if output:
            b.consts[output] = _bounded(np.take(x, np.arange(start, start + size), axis=axis),
                                        b, where, ins)
        start += size


def _shape_of(dims, attrs) -> np.ndarray:
    """Shape's output: the dimensions from ``start`` to ``end`` (opset 15; Python's slicing
    is ONNX's, negative and clamped). Without them, Shape(start=1) gave the batch first."""
    end = attrs.get("end")
    return np.asarray(tuple(dims)[int(attrs.get("start", 0)):None if end is None else int(end)],
                      dtype=np.int64)


def _reshape_const(x, target, b, where):
    target = _ints(np.atleast_1d(target), where, b, "Reshape's shape")
    shape = [np.shape(x)[k] if t == 0 and k < np.ndim(x) else t for k, t in enumerate(target)]
    try:
        return np.reshape(x, shape)
    except ValueError:
        b.fail(where, f"cannot reshape a constant of shape {brief(np.shape(x))} to {brief(target)}")


# -- layers ------------------------------------------------------------------------------------

def _biases(b, node, where, n):
    """A Conv's or ConvTranspose's optional third input: one value for each of the ``n``
    channels it makes, in one axis as ONNX declares it (a 3×1 bias loaded as its three values,
    where runtimes refuse the file); zeros where it has none."""
    if not _optional_input(node, 2):
        return np.zeros(n)
    B = b.weights(node.input[2], where, "the biases")
    if np.shape(B) != (n,):
        b.fail(where, f"biases of shape {brief(list(np.shape(B)))}: the filters make {n} "
                      "channels, one bias each")
    return B


def _conv(b, node, attrs, where, t):
    W = b.weights(node.input[1], where, "the filters")
    if _is_sequence(t):  # Conv1d: a 1×k convolution of the C×1×L map
        if W.ndim != 3:  # every runtime refuses it; it ran as a 1×k convolution
            b.fail(where, f"filters of shape {brief(list(W.shape))} on a sequence of shape "
                          f"{brief(list(_onnx_shape(t)))}: the ranks differ")
        W, attrs = W[:, :, None, :], _as_2d(attrs, b, where)
    if W.ndim != 4:
        b.fail(where, f"filters of shape {W.shape}: only 2-D convolutions are supported")
    n, cg, kh, kw = W.shape
    if not (kh and kw):  # a span of −1 rows: an output larger than the input, and an
        # IndexError when it was computed
        b.fail(where, f"filters of shape {brief(list(W.shape))} are empty")
    B = _biases(b, node, where, n)
    groups = int(attrs.get("group", 1))
    dilation = _pair(attrs.get("dilations", [1, 1]), where, b, "dilations")
    strides = _pair(attrs.get("strides", [1, 1]), where, b, "strides")
    if "kernel_shape" in attrs and _ints(attrs["kernel_shape"], where, b, "kernel_shape") \
            != [kh, kw]:
        b.fail(where, f"kernel_shape {brief(list(attrs['kernel_shape']))} does not match "
                      f"filters of {kh}×{kw}")
    t = b.channels_last(t, where)
    C, H, Wd = t.shape
    if cg * groups != C:
        b.fail(where, f"filters take {cg * groups} channels, the input has {C}")
    Wt = np.ascontiguousarray(W.transpose(2, 3, 1, 0))  # OIHW → HWCN
    if dilation != [1, 1]:
        check_dilation(dilation)
    reach = (span(kh, dilation[0]), span(kw, dilation[1]))  # what SAME padding must cover
    # pads may reach as far as the taps do (DeepLab's atrous heads: pads 36 on a 9×9 map)
    x = _pad_for(b, node, attrs, where, t, reach, strides, 0.0,
                 limit=min(MAX_PAD, max(H, Wd) + 15 + max(reach)))
    if dilation != [1, 1]:  # the taps alone, over the input's phases (graph_dilated)
        layer = (DilatedConvolution(Wt, B, strides, dilation) if groups == 1
                 else DilatedGroupedConvolution(Wt, B, strides, groups, dilation))
    else:
        layer = (Convolution(Wt, B, strides) if groups == 1
                 else GroupedConvolution(Wt, B, strides, groups))
    out = b.add(node.name, layer, [x.name], node.output[0])
    _, _, oc = layer.output_shape((x.shape[1], x.shape[2], x.shape[0]))
    Ho, Wo, _ = layer.output_shape((x.shape[1], x.shape[2], x.shape[0]))
    b.data[out] = _Tensor(out, (oc, Ho, Wo), "cl", x.seq)


def _ceil_extra(size, k, s, before, after):
    """Rows (or columns) a ``ceil_mode`` pool reads past the padded input: the output has
    ceil((size + pads − k)/s) + 1 windows, less one starting in the end padding (PyTorch's and
    ONNX's rule); 0 when floor and ceil agree."""
    padded = size + before + after
    out = -(-(padded - k) // s) + 1
    if (out - 1) * s >= size + before:
        out -= 1
    return max(0, (out - 1) * s + k - padded)


def _pad_for(b, node, attrs, where, t, kernel, strides, value, ceil=False, limit=None):
    """A Pad node for a Conv's or pool's own ``pads`` / ``auto_pad`` (and, for a ``ceil_mode``
    pool, the windows past the end); returns its output. ``limit``: as ``_pad_node``'s."""
    pads = _pads_of(b, attrs, where, t, kernel, strides, ceil)
    return _pad_node(b, f"{node.name}/pad", t, pads, value, where, limit)


def _pads_of(b, attrs, where, t, kernel, strides, ceil=False):
    """(top, bottom, left, right) of a Conv's or pool's ``pads`` / ``auto_pad``."""
    C, H, W = t.shape
    auto = str(attrs.get("auto_pad", "NOTSET"))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s in ((H, kernel[0], strides[0]), (W, kernel[1], strides[1])):
            total = max(0, (-(-size // s) - 1) * s + k - size)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
        top, bottom, left, right = pads[0][0], pads[0][1], pads[1][0], pads[1][1]
    elif auto in ("NOTSET", "VALID"):
        p = _ints(attrs.get("pads", [0, 0, 0, 0]), where, b, "pads") if auto == "NOTSET" \
            else [0, 0, 0, 0]
        if len(p) != 4:
            b.fail(where, f"pads {p} are not those of a 2-D operator")
        top, left, bottom, right = p
    else:
        b.fail(where, f"auto_pad {short(auto)!r} is not supported")
    if ceil:  # VALID too, as onnxruntime and onnx.shape_inference read it (README, Model files)
        bottom += _ceil_extra(H, kernel[0], strides[0], top, bottom)
        right += _ceil_extra(W, kernel[1], strides[1], left, right)
    return top, bottom, left, right


def _pad_node(b, name, t, pads, value, where, limit=None):
    """A Pad node adding ``pads`` to ``t``; each at most ``limit`` (default: a little more
    than the input's size, as the operator's own pads are)."""
    if not any(pads):
        return t
    C, H, W = t.shape
    limit = min(MAX_PAD, max(H, W) + 16) if limit is None else limit
    if any(p < 0 for p in pads) or any(p > limit for p in pads):
        # in the order read (a file's [0, 50, 0, 0] was named as [0, 0, 50, 0], unexplained;
        # a 1-D Conv's [35, 0] as the 1×L map's [0, 0, 35, 0])
        if t.seq:
            b.fail(where, f"pads {brief(list(pads[2:]))} are negative or far larger than the "
                          f"sequence of {W} (pads as begin, end)")
        b.fail(where, f"pads {brief(list(pads))} are negative or far larger than the {H}×{W} "
                      "input (pads as top, bottom, left, right)")
    out = b.add(name, Pad(pads, value), [t.name], f"{name}_output")
    top, bottom, left, right = pads
    b.data[out] = _Tensor(out, (C, H + top + bottom, W + left + right), "cl", t.seq)
    return b.data[out]


def _pad(b, node, attrs, where, t):
    mode = str(attrs.get("mode", "constant"))
    if mode not in ("constant", ) + MirrorPad.MODES:
        b.fail(where, f"padding of mode {short(mode)!r} is not supported: only constant, "
                      "reflect, edge and wrap")
    if b.opset < 11:
        pads, value = attrs.get("pads"), float(attrs.get("value", 0.0))
    else:
        pads = b.indices(node.input[1], where, "Pad's pads")
        v = _optional_input(node, 2)
        value = float(np.asarray(b.const(v, where, "Pad's value")).reshape(-1)[0]) if v else 0.0
    pads = _ints(np.atleast_1d(pads), where, b, "pads")
    axes_in = _optional_input(node, 3) if b.opset >= 18 else None
    if axes_in:  # Pad-18's axes: the pads of those axes only (e.g. [2, 3]: height and width)
        axes = _ints(np.atleast_1d(b.indices(axes_in, where, "Pad's axes")), where, b, "axes")
        if len(pads) != 2 * len(axes) or len({a % 4 for a in axes}) != len(axes) \
                or any(not -4 <= a < 4 for a in axes):
            b.fail(where, f"pads {brief(pads)} do not fit axes {brief(axes)}")
        full = [0] * 8
        for k, a in enumerate(axes):
            full[a % 4], full[a % 4 + 4] = pads[k], pads[len(axes) + k]
        pads = full
    elif len(pads) != 2 * _rank(t):  # none was read as no padding: the Pad was dropped
        b.fail(where, f"Pad's pads {brief(pads)} hold {len(pads)} values; its "
                      f"{_rank(t)}-dimensional input takes {2 * _rank(t)} (a start and an end "
                      "per axis; every runtime refuses this file)")
    if not any(pads):  # nothing added (TorchScript at opset 9: a 1-D pool's pads of zeros)
        _alias(b, node, t)
        return
    view = _nhwc_map(b, t)
    if view is not None:  # pads of N, H, W, C: those of N, C, H, W
        if len(pads) != 8 or any(pads[k] for k in (0, 3, 4, 7)):
            b.fail(where, f"pads {pads}: only the height and width of an N×H×W×C map")
        pads = [pads[k // 4 * 4 + [0, 3, 1, 2][k % 4]] for k in range(8)]
        _pad_map(b, node, where, view, pads, mode, value)
        _as_nhwc(b, node.output[0])
        return
    _pad_map(b, node, where, t, pads, mode, value)


def _pad_map(b, node, where, t, pads, mode, value):
    """Pad of N×C×H×W ``pads`` (ONNX's order) of map ``t``."""
    if len(pads) != 8 or any(pads[k] for k in (0, 1, 4, 5)):
        b.fail(where, f"pads {pads}: only the height and width of an N×C×H×W tensor")
    if not np.isfinite(value):
        b.fail(where, "the padding value must be finite")
    t = b.channels_last(t, where)
    pads = (pads[2], pads[6], pads[3], pads[7])
    if mode != "constant":  # PyTorch's padding_mode="reflect" / "replicate"
        C, H, W = t.shape
        if any(p > min(MAX_PAD, max(H, W) + 16) for p in pads):
            b.fail(where, f"pads {brief(list(pads))} are far larger than the {H}×{W} input")
        layer = MirrorPad(pads, mode)
        Hp, Wp, _ = layer.output_shape((H, W, C))
        out = b.add(node.name, layer, [t.name], node.output[0])
        b.data[out] = _Tensor(out, (C, Hp, Wp), "cl", t.seq)
        return
    out = _pad_node(b, node.name, t, pads, value, where)
    b.data[node.output[0]] = out


def _alias(b, node, t):
    b.data[node.output[0]] = t


def _pool(b, node, attrs, where, t, cls):
    if _is_sequence(t) and "kernel_shape" in attrs:  # MaxPool1d, AvgPool1d
        if len(attrs["kernel_shape"]) != 1:  # every runtime refuses it; it ran as 1×k
            b.fail(where, f"kernel_shape {brief(list(attrs['kernel_shape']))} on a sequence "
                          f"of shape {brief(list(_onnx_shape(t)))}: the ranks differ")
        attrs = _as_2d(attrs, b, where)
    t = b.channels_last(t, where)
    if "kernel_shape" not in attrs:
        b.fail(where, "kernel_shape is missing")
    kernel = _pair(attrs["kernel_shape"], where, b, "kernel_shape")
    strides = _pair(attrs.get("strides", kernel), where, b, "strides")
    dilation = _pair(attrs.get("dilations", [1, 1]), where, b, "dilations")
    if dilation != [1, 1] and cls is not MaxPool:  # was read as undilated
        b.fail(where, "dilated average pooling is not supported")
    if dilation != [1, 1]:
        check_dilation(dilation)
    window = [(k - 1) * d + 1 for k, d in zip(kernel, dilation, strict=True)]
    ceil = bool(int(attrs.get("ceil_mode", 0)))
    given = _pads_of(b, attrs, where, t, kernel, strides)
    if any(p >= k for p, k in zip(given, (window[0], window[0], window[1], window[1]),
                                  strict=True)):
        # windows of padding alone: a max of −10³⁰ (or a mean of nothing) reached the
        # classifier, and the explanation warned of a 'cause not recognised'
        b.fail(where, f"pads {brief(list(given))} (top, bottom, left, right) must be smaller "
                      f"than the {window[0]}×{window[1]} "
                      f"{'kernel' if dilation == [1, 1] else 'dilated window'}")
    # ceil_mode (SqueezeNet, GoogLeNet, ResNet-D): the partial windows read a border of
    # −10³⁰ (max) or of zeros that no average counts
    x = _pad_for(b, node, attrs, where, t, window, strides, -1e30 if cls is MaxPool else 0.0,
                 ceil=ceil)
    layer = cls(kernel, strides) if dilation == [1, 1] else DilatedMaxPool(kernel, strides,
                                                                           dilation)
    if isinstance(layer, MaxPool):
        layer.ties = "first"  # PyTorch's (and so zennit's) gradient: see MaxPool.ties
    if cls is MeanPool:
        # the divisor leaves out the padding unless count_include_pad (auto_pad SAME_* too)
        # and always the ceil_mode border
        pads = _pads_of(b, attrs, where, t, kernel, strides, ceil)
        counted = _pads_of(b, attrs, where, t, kernel, strides) \
            if int(attrs.get("count_include_pad", 0)) else (0, 0, 0, 0)
        uncounted = tuple(p - c for p, c in zip(pads, counted, strict=True))
        if any(uncounted):
            layer = PartialMeanPool(kernel, strides, uncounted)
    Ho, Wo, C = layer.output_shape((x.shape[1], x.shape[2], x.shape[0]))
    out = b.add(node.name, layer, [x.name], node.output[0])
    b.data[out] = _Tensor(out, (C, Ho, Wo), "cl", x.seq)


def _global_mean(b, name, t, output, where):
    t = b.channels_last(t, where)
    C, H, W = t.shape
    out = b.add(name, MeanPool((H, W), (H, W)), [t.name], output)
    b.data[out] = _Tensor(out, (C, 1, 1), "cl", t.seq)
    return b.data[out]


def _global_max(b, name, t, output, where):
    t = b.channels_last(t, where)
    C, H, W = t.shape
    layer = MaxPool((H, W), (H, W))
    layer.ties = "first"  # as PyTorch's adaptive_max_pool2d gradient
    out = b.add(name, layer, [t.name], output)
    b.data[out] = _Tensor(out, (C, 1, 1), "cl", t.seq)
    return b.data[out]


def _flatten(b, name, t, output):
    if t.storage == "cl" and t.shape[1:] != (1, 1):
        layer = FlattenChannelsFirst()
    else:
        layer = Flatten()
    out = b.add(name, layer, [t.name], output)
    b.data[out] = _Tensor(out, (int(np.prod(t.shape)),), "same")


def _linear_from(b, node, where, t, W, bias):
    if len(t.shape) != 1:
        b.fail(where, f"a dense layer needs flat input, gets shape {t.shape}")
    if W.shape[0] != t.shape[0]:
        b.fail(where, f"weights take {W.shape[0]} inputs, the previous layer gives {t.shape[0]}")
    out = b.add(node.name, Linear(W, bias), [t.name], node.output[0])
    b.data[out] = _Tensor(out, (W.shape[1],), "same")


def _gemm(b, node, attrs, where, t):
    if int(attrs.get("transA", 0)):
        b.fail(where, "Gemm with transA is not supported")
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    for label, v in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(v) or abs(v) > MAX_SCALE:
            b.fail(where, f"Gemm {label} = {v} is not a usable scale")
    B = b.weights(node.input[1], where, "Gemm's weights")
    if B.ndim != 2:  # was "malformed (IndexError: tuple index out of range)"
        b.fail(where, f"Gemm's weights are {B.ndim}-d (shape {list(B.shape)}); a Gemm needs a "
                      "2-d weight matrix")
    W = alpha * (B.T if int(attrs.get("transB", 0)) else B)
    c = _optional_input(node, 2)
    bias = np.zeros(W.shape[1]) if c is None else b.weights(c, where, "Gemm's bias").reshape(-1)
    if bias.size not in (1, W.shape[1]):
        b.fail(where, f"a bias of {bias.size} values does not fit {W.shape[1]} outputs")
    bias = beta * np.broadcast_to(bias, (W.shape[1],))
    _linear_from(b, node, where, t, np.asarray(W, dtype=np.float64), np.array(bias))


def _sole_reader(b, t) -> bool:
    """Whether one node reads ``t``, counting reads of its aliases (Identity, Dropout, a
    relabelling Transpose): a BatchNormalization or bias folded into the layer before it
    changes that layer's output for every reader, and a residual Add reading the Identity of
    a Conv got the normalised map instead of the Conv's."""
    names = b.data.aliases(t.name)  # each alias was made by one node reading t
    return b.data.reads.get(t.name, 0) - (len(names) - 1) <= 1


def _batchnorm(b, node, attrs, where, t):
    scale, shift, mean, var = (np.asarray(b.weights(n, where, "BatchNormalization's parameters"),
                                          dtype=np.float64).reshape(-1)
                               for n in node.input[1:5])
    if attrs.get("training_mode", 0):  # a model exported in train mode (model.train())
        b.fail(where, "BatchNormalization in training mode (training_mode=1) normalises each "
                      "batch by its own statistics, not the stored ones; export the model in "
                      "eval mode (model.eval())")
    eps = _finite(float(attrs.get("epsilon", 1e-5)), where, b, "epsilon")
    if len({a.size for a in (scale, shift, mean, var)}) != 1:
        b.fail(where, "BatchNormalization's parameters differ in their number of channels")
    if np.any(var + eps <= 0):
        b.fail(where, "variance + epsilon must be positive")
    s = scale / np.sqrt(var + eps)
    k = b.producer.get(t.name)
    layer = None if k is None else b.nodes[k].layer
    if layer is None or not getattr(layer, "weighted", False) or not _sole_reader(b, t):
        # nothing to fold into (or its output is read elsewhere): an affine layer of its own
        if t.storage == "same" and (len(t.shape) == 3 or _is_sequence(t)):
            t = b.channels_last(t, where)  # a BatchNorm1d on an N×C×L input: per channel C
        channels = t.shape[0] if len(t.shape) == 3 else t.shape[-1]
        if s.size != channels:
            b.fail(where, f"{s.size} BatchNormalization channels for {channels}")
        out = b.add(node.name, Affine(s, shift - mean * s), [t.name], node.output[0])
        b.data[out] = _Tensor(out, t.shape, t.storage, t.seq)
        return
    if s.size != layer.B.shape[0]:
        b.fail(where, f"{s.size} BatchNormalization channels for {layer.B.shape[0]} outputs")
    layer.W = layer.W * s  # the last axis of HWCN filters and of Linear's W is the output
    layer.B = (layer.B - mean) * s + shift
    layer.clear_cache()
    _alias(b, node, t)


# -- one handler per ONNX operator: (builder, node, attributes, where, first data input, all
# data inputs). The layer classes name the operators that build them (``onnx_ops``); a test
# keeps this table and those declarations in step, and the README lists them.

def _same_shape(b, node, t, layer):
    out = node.output[0]
    b.data[b.add(node.name, layer, [t.name], out)] = _Tensor(out, t.shape, t.storage, t.seq)
    if t.name in b.nhwc:  # an element-wise layer keeps an N×H×W×C map's layout
        b.nhwc.add(out)


def _op_activation(cls):
    return lambda b, node, attrs, where, t, data_in: _same_shape(b, node, t, cls())


def _scalar(b, name, where, what) -> float:
    """A constant ONNX declares a scalar (a Clip's bound): vectors of bounds were read as
    their first value, silently another model than the file's (ONNX runtimes refuse it)."""
    value = np.asarray(b.const(name, where, what))
    if value.size != 1:
        b.fail(where, f"{what} must be one number, got a constant of shape "
                      f"{brief(list(value.shape))}")
    return float(value.reshape(-1)[0])


def _op_clip(b, node, attrs, where, t, data_in):
    if b.opset < 11:
        low, high = attrs.get("min"), attrs.get("max")
    else:
        low, high = (_scalar(b, n, where, what) if n else None
                     for n, what in ((_optional_input(node, 1), "Clip's min"),
                                     (_optional_input(node, 2), "Clip's max")))
    _finite(low, where, b, "Clip's min")
    _finite(high, where, b, "Clip's max")
    _same_shape(b, node, t, Clip(low, high))


def _op_max_min(b, node, attrs, where, t, data_in):
    """Max or Min of data and constant values: a Clip open on one side (``dynamo=True`` writes
    ``x.clamp(min=0)`` as Max); one-value constants make one bound (Max(x, 0, -1) is
    Max(x, 0)), and a tensor alone is itself. Of two tensors it is refused: no rule."""
    op = node.op_type
    consts = [n for n in node.input if n and n not in b.data]
    tensors = len(node.input) - len(consts)
    if tensors != 1:
        which = "maximum" if op == "Max" else "minimum"
        b.fail(where, f"{op} of {tensors} tensors is not supported: LRP here has no rule for "
                      f"the {which} of two signals; only {op} of one tensor and constant "
                      "values (a clamp) reads")
    if not consts:
        _alias(b, node, t)
        return
    values = []
    for name in consts:
        c = np.asarray(b.const(name, where, f"{op}'s constant"), dtype=np.float64)
        if c.size != 1:
            b.fail(where, f"{op} with a constant of shape {brief(list(c.shape))}: only of "
                          "one value (a clamp)")
        values.append(_finite(float(c.reshape(-1)[0]), where, b, f"{op}'s constant"))
    value = max(values) if op == "Max" else min(values)
    _same_shape(b, node, t, Clip(value, None) if op == "Max" else Clip(None, value))


def _softmax_input(b, node, attrs, where, t):
    """The tensor a (log) softmax reads along the engine's last axis: a flat tensor's
    features (a classifier's output), or a map's channels (a segmentation network's softmax
    per pixel: axis 1 of N×C×H×W, 3 of an N×H×W×C map; from opset 13 on, where the axis is
    one axis and not all from it on). A softmax over an image's other axes is refused: along
    H×W×C storage it would not be ONNX's axis."""
    axis = int(attrs.get("axis", -1 if b.opset >= 13 else 1))
    if len(t.shape) == 1 and axis in (1, -1):
        return t
    view = _nhwc_map(b, t)
    if b.opset >= 13 and not t.seq and (view is not None and axis in (3, -1)
                                        or t.storage == "cl" and len(t.shape) == 3
                                        and axis in (1, -3)):
        return t
    b.fail(where, f"{node.op_type} along axis {axis} of a tensor of shape "
                  f"{brief(list(t.shape))} is not supported; only over the features of a flat "
                  "tensor (N×classes) or, from opset 13, the channels of a map")


def _op_softmax(b, node, attrs, where, t, data_in):
    """Softmax: kept, relevance passes it as its gradient, as zennit's autograd does."""
    _same_shape(b, node, _softmax_input(b, node, attrs, where, t), Softmax())


def _op_log_softmax(b, node, attrs, where, t, data_in):
    """LogSoftmax: as Softmax."""
    _same_shape(b, node, _softmax_input(b, node, attrs, where, t), LogSoftmax())


def _op_leaky_relu(b, node, attrs, where, t, data_in):
    _same_shape(b, node, t, LeakyReLU(_finite(float(attrs.get("alpha", 0.01)), where, b,
                                              "alpha")))


def _op_elu(b, node, attrs, where, t, data_in):
    selu = node.op_type == "Selu"
    alpha = _finite(float(attrs.get("alpha", SELU_ALPHA if selu else 1.0)), where, b, "alpha")
    gamma = _finite(float(attrs.get("gamma", SELU_GAMMA)), where, b, "gamma") if selu else 1.0
    _same_shape(b, node, t, Elu(alpha, gamma))


def _op_hard_sigmoid(b, node, attrs, where, t, data_in):
    if node.op_type == "HardSwish":
        layer = HardSigmoid(1 / 6, 0.5, swish=True)
    else:
        layer = HardSigmoid(_finite(float(attrs.get("alpha", 0.2)), where, b, "alpha"),
                            _finite(float(attrs.get("beta", 0.5)), where, b, "beta"))
    _same_shape(b, node, t, layer)


def _op_prelu(b, node, attrs, where, t, data_in):
    """One slope, or one per channel: (C, 1, 1) on a C×H×W map, (features,) on a flat one."""
    slope = np.asarray(b.const(node.input[1], where, "PRelu's slope"), dtype=np.float64)
    if slope.size != 1:
        shape = slope.shape
        while len(shape) > 1 and shape[0] == 1:  # ONNX broadcasting aligns trailing axes
            shape = shape[1:]
        channels = t.shape[0] if t.storage == "cl" else t.shape[-1]
        want = (channels, 1, 1) if t.storage == "cl" else (channels,)
        if tuple(shape) != want[-len(shape):] or len(shape) > len(want) \
                or slope.size != channels:
            b.fail(where, f"a slope of shape {brief(list(slope.shape))} is neither one value "
                          f"nor one per channel of a tensor of shape {brief(list(t.shape))}")
    _same_shape(b, node, t, PRelu(slope.reshape(-1)))


def _op_alias(b, node, attrs, where, t, data_in):
    _alias(b, node, t)


def _op_cast(b, node, attrs, where, t, data_in):
    """Cast of data between floating types is dropped: the engine computes in its own dtype.
    A model exported in float64 (``model.double()``) casts to float32 around operators ONNX
    defines only for it (``Celu``) and back."""
    if node.op_type == "CastLike":
        like = b.consts.get(node.input[1]) if len(node.input) > 1 else None
        floating = like is not None and np.asarray(like).dtype.kind == "f" \
            or like is None and len(node.input) > 1 and node.input[1] in b.data
        to = "that of its second input"
    else:
        code = int(attrs.get("to", 0))
        floating, to = is_floating(code), type_name(code)
    if not floating:
        b.fail(where, f"{node.op_type} of data to {to} is not supported: only between floating "
                      "types (a float64 export's casts around Celu)")
    _alias(b, node, t)


def _op_dropout(b, node, attrs, where, t, data_in):
    mode = _optional_input(node, 2)  # opset 12+: a constant True drops units at random
    if mode and mode in b.consts and np.any(b.consts[mode]):
        b.fail(where, "Dropout in training mode (training_mode true) zeroes units at random; "
                      "export the model in eval mode (model.eval())")
    _alias(b, node, t)


def _op_reduce(b, node, attrs, where, t, data_in):
    """ReduceMean or ReduceMax over the height and width: global pooling as ``dynamo=True``
    writes ``AdaptiveAvgPool2d(1)``, ``x.mean((2, 3))``, ``AdaptiveMaxPool2d(1)`` and
    ``x.amax((2, 3))``."""
    out, op = node.output[0], node.op_type
    axes = attrs.get("axes")
    if axes is None and _optional_input(node, 1):
        axes = b.indices(node.input[1], where, f"{op}'s axes")
    if _is_sequence(t):
        t = b.channels_last(t, where)
    spatial = [2] if t.seq else [2, 3]  # over L of an N×C×L sequence
    axes = sorted(int(a) % _rank(t) for a in np.atleast_1d(axes)) if axes is not None else None
    nhwc = t.storage == "same" and len(t.shape) == 3 and axes == [1, 2]
    if nhwc:  # Keras's GlobalAveragePooling2D on N×H×W×C: the engine's own layout
        b.relabelled_nhwc = True
        H, W, C = t.shape
        t = _Tensor(t.name, (C, H, W), "cl")
    elif t.storage != "cl" or axes != spatial:
        b.fail(where, f"{op} is supported over the height and width of an image (the "
                      "length of a sequence)")
    pool = _global_mean if op == "ReduceMean" else _global_max
    if int(attrs.get("keepdims", 1)):
        pooled = pool(b, node.name, t, out, where)
        if nhwc:  # N×1×1×C as ONNX has it: the same array
            b.data[out] = _Tensor(pooled.name, (1, 1, pooled.shape[0]), "same")
    else:
        pooled = pool(b, node.name, t, f"{out}/pooled", where)
        _flatten(b, f"{node.name}/flatten", pooled, out)


def _op_squeeze(b, node, attrs, where, t, data_in):
    """Squeeze of data: dropping the 1×1 of a pooled map (Keras's GlobalAveragePooling2D as
    tf2onnx writes it) is a flatten; anything else is refused."""
    axes = attrs.get("axes")
    if axes is None and _optional_input(node, 1):
        axes = b.indices(node.input[1], where, "Squeeze's axes")
    rank = _rank(t)
    axes = None if axes is None else sorted(int(a) % rank for a in np.atleast_1d(axes))
    if t.storage == "cl" and not t.seq and (axes == [2] and t.shape[1] == 1
                                            or axes == [3] and t.shape[1:] == (1, 1)):
        # N×C×1×L back to N×C×L (dynamo's AdaptiveAvgPool1d): the same array; a pooled
        # map's N×C×1×1 to N×C×1 (``x.squeeze(-1).squeeze(-1)``, the second one flattens)
        b.data[node.output[0]] = _Tensor(t.name, t.shape, "cl", True)
        return
    if t.seq and t.shape[2] == 1 and axes in (None, [2]):  # a pooled sequence's length 1
        _flatten(b, node.name, t, node.output[0])
        return
    spatial = [2, 3] if t.storage == "cl" else [1, 2]
    if len(t.shape) == 3 and (axes is None or axes == spatial) \
            and [t.shape[a - 1] for a in spatial] == [1, 1]:
        _flatten(b, node.name, t, node.output[0])
        return
    b.fail(where, f"Squeeze of data along {brief(axes)} of a tensor of shape "
                  f"{brief(list(t.shape))}: only of a pooled map's 1×1")


def _op_unsqueeze(b, node, attrs, where, t, data_in):
    """Unsqueeze of data: a sequence's N×C×L to N×C×1×L (dynamo's AdaptiveAvgPool1d, tf2onnx's
    1-D layers), which is how the engine stores it already, or a Keras sequence input's N×L×C
    to N×1×L×C (a reshape node); anything else is refused."""
    axes = attrs.get("axes")
    if axes is None and _optional_input(node, 1):
        axes = b.indices(node.input[1], where, "Unsqueeze's axes")
    if axes is not None and stack.unsqueeze(b, node, t, axes):
        return  # a summand of torch.stack([...], dim=-1), zennit's Sum layer's input
    if axes is not None and repeat.unsqueeze(b, node, t, axes):
        return  # tf.repeat's ExpandDims: copies of rows or columns, pending until Reshape
    axes = None if axes is None else sorted(int(a) % 4 for a in np.atleast_1d(axes))
    if channels.unsqueeze_picked(b, node, t, axes):
        return  # torch.unsqueeze(x[:, c], 1): one channel, as Gather took it
    if _is_sequence(t) and axes == [2]:
        t = b.channels_last(t, where)
        b.data[node.output[0]] = _Tensor(t.name, t.shape, "cl", False)
        return
    if t.storage == "same" and len(t.shape) == 2 and axes == [1]:
        # a Keras sequence's N×L×C to N×1×L×C (tf2onnx's Conv1D): an H×W×C map of height 1
        out = node.output[0]
        b.add(node.name, SequenceToChannelsLast(channels_first=False), [t.name], out)
        b.data[out] = _Tensor(out, (1,) + t.shape, "same")
        return
    b.fail(where, f"Unsqueeze of data along {brief(axes)} of a tensor of shape "
                  f"{brief(list(t.shape))}: only a sequence's N×C×L to N×C×1×L")


def _op_flatten(b, node, attrs, where, t, data_in):
    if int(attrs.get("axis", 1)) != 1:
        b.fail(where, "Flatten is supported with axis 1")
    _flatten(b, node.name, t, node.output[0])


def _refuse_allowzero(b, node, attrs, where) -> None:
    """Reshape with allowzero=1 makes a written 0 an empty dimension (not the input's size
    there), which no runtime reshapes a nonempty tensor into; it was read as the batch."""
    if int(attrs.get("allowzero", 0)) and b.written_zero(node.input[1]):
        b.fail(where, f"Reshape with allowzero=1 to shape {brief(_shape_list(b, node))}: "
                      "allowzero makes a written 0 an empty dimension, not the input's size "
                      "there, and runtimes refuse to reshape the samples into it (without "
                      "allowzero, 0 keeps the input's dimension)")


def _shape_list(b, node) -> list:
    return [int(v) for v in np.atleast_1d(b.consts[node.input[1]])]


def _op_reshape(b, node, attrs, where, t, data_in):
    target = _ints(np.atleast_1d(b.indices(node.input[1], where, "Reshape's shape")), where,
                   b, "Reshape's shape")
    _refuse_allowzero(b, node, attrs, where)
    if list(target).count(-1) > 1:  # [-1, -1] was read as a flatten; ONNX refuses it
        b.fail(where, f"Reshape's shape {brief(list(target))} holds more than one -1")
    if t.storage in norms.STORAGES:
        norms.reshape_back(b, node, where, t, target)
        return
    if repeat.reshape(b, node, where, t, target):
        return  # tf.repeat's copies merged into rows or columns: a NearestResize
    size = int(np.prod(t.shape))
    # dynamo=True with a fixed example batch writes the flatten as Reshape [1, features]
    batch = (0, -1) if b.batch is None else (0, -1, b.batch)
    if len(target) == 2 and target[0] in batch and target[1] in (-1, size):
        _flatten(b, node.name, t, node.output[0])
    elif [int(s) for s in target[1:]] == list(_onnx_shape(t)):
        _alias(b, node, t)
    elif channels.reshape(b, node, where, t, target):
        return  # a channel shuffle's first or last Reshape
    elif _unflatten(b, node, t, target):
        return  # a pooled vector back to its 1×1 map: Keras's squeeze-and-excitation
    elif norms.group_reshape(b, node, where, t, target):
        return  # nn.GroupNorm's first step
    elif target == [-1] and t.storage == channels.BATCH_FLAT:
        _alias(b, node, t)  # already in one axis
    elif target == [-1] and b.batch == 1:
        # dynamo's as_strided of a batch of one (ConvNeXt's LayerNorm2d permuting the pooled
        # map): everything in one axis, read back by a Gather (channels.gather_data); keyed
        # by the flat tensor itself, which an Identity's output shares
        flat = _Tensor(t.name, (size,), channels.BATCH_FLAT)
        b.batch_flat[flat] = t
        b.data[node.output[0]] = flat
    else:
        b.fail(where, f"Reshape of a {t.shape} tensor to {brief(target)} is not a flatten; only "
                      f"flattening reshapes are supported{_gate_hint(t, target)}")


def _to_one_by_one(t, target):
    """The storage of the 1×1 map that Reshape ``target`` makes of flat vector ``t``: "same"
    for N×1×1×C (Keras), "cl" for N×C×1×1, None for any other Reshape."""
    if len(t.shape) != 1:
        return None
    dims = [int(s) for s in target[1:]]
    return "same" if dims == [1, 1, t.shape[0]] else "cl" if dims == [t.shape[0], 1, 1] \
        else None


def _unflatten(b, node, t, target) -> bool:
    """A Reshape of a flattened 1×1×C map back to a 1×1 map (Keras's squeeze-and-excitation:
    GlobalAveragePooling2D, then Reshape((1, 1, C)) before the gate's 1×1 convolutions): the
    map the Flatten read, the same array; the Flatten is pruned when nothing else reads it."""
    storage = _to_one_by_one(t, target)
    k = b.producer.get(t.name)
    if storage is None or k is None or not isinstance(b.nodes[k].layer, Flatten):
        return False
    if target[0] not in (0, -1) and target[0] != b.batch:  # [7, C, 1, 1]: another batch
        return False
    source = next((b.data[a] for a in b.data.aliases(b.nodes[k].inputs[0])), None)
    if source is None or _engine_shape(source) != (1, 1, t.shape[0]):
        return False
    C = t.shape[0]
    b.data[node.output[0]] = _Tensor(source.name, (1, 1, C) if storage == "same" else (C, 1, 1),
                                     storage)
    return True


def _gate_hint(t, target) -> str:
    """What a vector turned into a 1×1 map other than a pooled map's own usually starts: a
    squeeze-and-excitation gate computed by dense layers, which the importer does not read."""
    if _to_one_by_one(t, target) is not None:
        return (" (a vector back to a 1×1 map usually starts a squeeze-and-excitation gate: "
                "the importer reads one whose vector is a global pool's output, as Keras's "
                "applications and PyTorch's exports write them, not one computed after it)")
    return ""


def _op_transpose(b, node, attrs, where, t, data_in):
    out = node.output[0]
    perm = [int(p) for p in attrs.get("perm", [])]
    if t.storage == "same" and len(t.shape) == 3 and perm == [0, 3, 1, 2]:
        b.relabelled_nhwc = True
        H, W, C = t.shape
        b.data[out] = _Tensor(t.name, (C, H, W), "cl")  # the same array, read as NCHW
    elif t.storage == "cl" and perm == [0, 2, 3, 1]:
        C, H, W = t.shape
        b.data[out] = _Tensor(t.name, (H, W, C), "same")
        b.nhwc.add(t.name)
    elif t.storage == "same" and len(t.shape) == 2 and perm == [0, 2, 1]:
        # an N×L×C sequence turned to N×C×L for Conv1d (``x.transpose(1, 2)``): one reshape
        # node to the C×1×L map the engine keeps sequences as
        L, C = t.shape
        b.add(node.name, SequenceToChannelsLast(channels_first=False), [t.name], out)
        b.data[out] = _Tensor(out, (C, 1, L), "cl", True)
    elif channels.transpose(b, node, where, t, perm):
        return  # the channel shuffle's Transpose
    elif repeat.transpose(b, node, where, t, perm):
        return  # between tf.repeat's Tile and Reshape
    else:
        b.fail(where, f"Transpose {brief(perm)} of data is supported only between NHWC and "
                      "NCHW (and an N×L×C sequence to N×C×L)")


def _two_tensors(data_in) -> bool:
    return sum(d is not None for d in data_in) >= 2


def _op_matmul(b, node, attrs, where, t, data_in):
    if _two_tensors(data_in):
        _op_product(b, node, attrs, where, t, data_in)
    W = b.weights(node.input[1], where, "MatMul's second operand")
    if W.ndim != 2:
        b.fail(where, f"MatMul with a {W.ndim}-d constant is not supported")
    W = np.asarray(W, dtype=np.float64)
    if t.storage == "same" and len(t.shape) == 3 and not t.seq:
        # an N×H×W×C map times C×D (ConvNeXt's nn.Linear after its permute): the same
        # product at every position, a 1×1 convolution of the map as the engine stores it
        H, Wd, C = t.shape
        if W.shape[0] != C:
            b.fail(where, f"weights take {W.shape[0]} inputs, the map has {C} channels")
        layer = PositionwiseDense(W, np.zeros(W.shape[1]))
        out = b.add(node.name, layer, [t.name], node.output[0])
        b.data[out] = _Tensor(out, (H, Wd, W.shape[1]), "same")
    else:
        _linear_from(b, node, where, t, W, np.zeros(W.shape[1]))
    b.bias_free.add(len(b.nodes) - 1)


def _op_layer_norm(b, node, attrs, where, t, data_in):
    """LayerNormalization over the last axis where the engine stores the tensor as ONNX shapes
    it (ConvNeXt's LayerNorm2d after its permute to N×H×W×C: over the channels; a flat
    tensor's features); a map stored channels-last under an N×C×H×W shape is refused."""
    axis = int(attrs.get("axis", -1))
    rank = len(t.shape) + 1
    if not -rank <= axis < rank:  # axis 7 of a rank-4 tensor was read as 3 (7 mod 4)
        b.fail(where, f"LayerNormalization's axis {axis} is outside the {rank} axes of its input")
    if axis % rank != rank - 1 or t.storage != "same":
        b.fail(where, f"LayerNormalization along axis {axis} of a {brief(list(t.shape))} "
                      f"tensor is supported only over the channels of a channels-last map "
                      "(after a Transpose to N×H×W×C) or over a flat tensor's features")
    C = t.shape[-1]
    scale = np.asarray(b.weights(node.input[1], where, "LayerNormalization's scale"),
                       dtype=np.float64)
    shift = np.asarray(b.weights(node.input[2], where, "LayerNormalization's bias"),
                       dtype=np.float64) if _optional_input(node, 2) else np.zeros(C)
    if not all(_per_channel(v.shape, C, rank) for v in (scale, shift)):
        # a 2×2 or 4×1 scale of a 4-channel map, which runtimes broadcast into another
        # shape or refuse, loaded as its 4 values in a row
        b.fail(where, f"LayerNormalization's scale and bias of shapes {brief(list(scale.shape))} "
                      f"and {brief(list(shift.shape))} must hold {C} values each, along the "
                      "last axis")
    eps = _finite(float(attrs.get("epsilon", 1e-5)), where, b, "epsilon")
    if not eps > 0:
        b.fail(where, f"LayerNormalization's epsilon {eps:g} must be positive")
    out = b.add(node.name, ChannelNorm(scale, shift, eps), [t.name], node.output[0])
    b.data[out] = _Tensor(out, t.shape, t.storage, t.seq)


def _per_channel(shape, C, rank) -> bool:
    """Whether a tensor of ``shape`` holds one value per channel along the last axis of a
    tensor of ``rank`` axes (broadcast to it unchanged: 1×…×1×C)."""
    return tuple(shape[-1:]) == (C,) and len(shape) <= rank and all(d == 1 for d in shape[:-1])


def _op_sum(b, node, attrs, where, t, data_in):
    """Add, Sum or Mean of tensors (a merge); an Add of a constant is the bias before it."""
    op = node.op_type
    if op == "Add" and not (len(data_in) >= 2 and all(d is not None for d in data_in)):
        _scale_shift(b, node, where, t)
        return
    if op == "Add" and elementwise.fuse(b, node, where, data_in):
        return  # x + 0.044715·x³ inside a tanh-approximated GELU: not a residual merge
    if len(data_in) != len([n for n in node.input if n]) or None in data_in:
        b.fail(where, f"{op} of data and constants is not supported")
    if len(data_in) == 1:  # a Sum or Mean of one tensor is that tensor
        _alias(b, node, t)
        return
    if len({d.storage for d in data_in}) > 1:
        data_in = [b.channels_last(d, where) for d in data_in]
    layer = Mean() if op == "Mean" else Add()
    shapes = {d.shape for d in data_in}
    if len(shapes) != 1:
        b.fail(where, f"{op} of tensors of different shapes {sorted(shapes)}")
    out = node.output[0]
    b.data[b.add(node.name, layer, [d.name for d in data_in], out)] = _Tensor(
        out, data_in[0].shape, data_in[0].storage, data_in[0].seq)


def _op_concat(b, node, attrs, where, t, data_in):
    if len(data_in) != len([n for n in node.input if n]) or None in data_in:
        b.fail(where, "Concat of data and constants is not supported")
    if len(data_in) == 1:  # a Concat of one tensor is that tensor
        _alias(b, node, t)
        return
    axis = int(attrs.get("axis", 1))
    if stack.concat(b, node, where, data_in, axis):
        return  # torch.stack([...], dim=-1) before zennit's Sum layer
    views = [_nhwc_map(b, d) for d in data_in]
    if any(v is not None for v in views):  # N×H×W×C maps (tf2onnx's, after a repeat)
        if None in views or axis % 4 != 3:
            b.fail(where, f"Concat along axis {axis} of N×H×W×C maps: only of such maps along "
                          "their channels (axis 3)")
        _op_concat(b, node, {"axis": 1}, where, views[0], views)
        _as_nhwc(b, node.output[0])
        return
    if axis % _rank(t) != 1:
        b.fail(where, f"Concat along axis {axis}: only along channels (axis 1)")
    if len(t.shape) >= 2:
        data_in = [b.channels_last(d, where) for d in data_in]
    shape = (sum(d.shape[0] for d in data_in),) + tuple(data_in[0].shape[1:])
    out = node.output[0]
    b.data[b.add(node.name, Concat(), [d.name for d in data_in], out)] = _Tensor(
        out, shape, data_in[0].storage if len(t.shape) >= 2 else "same", data_in[0].seq)


def _op_product(b, node, attrs, where, t, data_in):
    what = {"Sub": "difference (Keras's Subtract; a merge here only adds)",
            "Div": "quotient"}.get(node.op_type, "product")
    b.fail(where, f"{node.op_type} of two tensors is not supported: LRP here has no rule for a "
                  f"{what} of two signals; only sums, concatenations and linear layers, and a "
                  "Mul of a map by a gate (one value per channel, or a sigmoid's one-channel "
                  "map broadcast over the channels)")


def _self_gate(b, node, data_in):
    """For x · f(x) with f a Sigmoid or HardSigmoid read by this Mul only: the activation it
    is (SiLU, HardSwish as exported before opset 14), else None. A gate computed from another
    tensor (squeeze-and-excitation) stays a product of two signals."""
    if len(data_in) != 2:
        return None
    for x, gate in (data_in, data_in[::-1]):
        k = b.producer.get(gate.name)
        if k is None or b.nodes[k].inputs != (x.name,) or b.readers.get(gate.name, 0) != 1:
            continue
        layer = b.nodes[k].layer
        if isinstance(layer, Sigmoid):
            return x, Silu()
        if isinstance(layer, HardSigmoid) and not layer.swish:
            return x, HardSigmoid(layer.alpha, layer.beta, swish=True)
    return None


def _op_arithmetic(b, node, attrs, where, t, data_in):
    if _two_tensors(data_in):
        gated = _self_gate(b, node, data_in) if node.op_type == "Mul" else None
        if gated is not None:  # the gate's own node is left unread: pruned at the end
            _same_shape(b, node, *gated)
            return
        operands = elementwise.operands_of(b, node, where)
        if None not in operands and elementwise.fuse(b, node, where, operands):
            return  # e.g. GELU's x · (erf(x/√2) + 1): a function of x alone
        if node.op_type == "Mul" and _gate(b, node, data_in):
            return  # squeeze-and-excitation: a map times one value per channel
        _op_product(b, node, attrs, where, t, data_in)
    _scale_shift(b, node, where, t)


def _engine_shape(t):
    """A tensor's per-sample shape as the engine stores it (channels last)."""
    return t.shape[1:] + t.shape[:1] if t.storage == "cl" else t.shape


def _gate(b, node, data_in) -> bool:
    """A Mul of a map and a gate broadcast over it: one value per channel (the squeeze-and-
    excitation gate) or one value per position computed by a sigmoid (Attention U-Net's
    attention gate, broadcast over the channels): a :class:`Gate` node, map first; False for
    other products. On a 1×1 map both have one shape: the gate is the one computed from the
    other's global pool."""
    if len(data_in) != 2 or None in data_in or data_in[0].seq or data_in[1].seq:
        return False
    for x, s in (data_in, data_in[::-1]):
        xs, ss = _engine_shape(x), _engine_shape(s)
        gates = (Gate.fits(xs, ss)
                 or (Gate.one_by_one(xs, ss) and _pooled_from(b, s.name, x.name))
                 or (Gate.per_position(xs, ss) and _sigmoid_of(b, s.name)))
        if x.storage == s.storage and gates:
            out = node.output[0]
            b.data[b.add(node.name, Gate(), [x.name, s.name], out)] = _Tensor(
                out, x.shape, x.storage)
            return True
    return False


def _sigmoid_of(b, name) -> bool:
    """Whether engine tensor ``name`` is a Sigmoid's or HardSigmoid's output, upsampled or not
    (an attention gate's coefficients, between 0 and 1; Oktay et al.'s code computes them on
    a coarser grid and resizes them to the map's)."""
    k = b.producer.get(name)
    while k is not None and isinstance(b.nodes[k].layer, (NearestResize, InterpolatingResize)):
        k = b.producer.get(b.nodes[k].inputs[0])
    layer = None if k is None else b.nodes[k].layer
    return isinstance(layer, Sigmoid) or isinstance(layer, HardSigmoid) and not layer.swish


def _op_expand(b, node, attrs, where, t, data_in):
    """Expand of data (``x.expand_as(y)``) to a shape it broadcasts to: the tensor itself, which
    only a Mul may read (it broadcasts it alike; an attention gate's ``α.expand_as(x) * x``)."""
    if len(node.input) < 2 or data_in[0] is None:
        b.fail(where, "Expand of a constant to the shape of data is not supported")
    target = [int(v) for v in _ints(np.atleast_1d(b.const(node.input[1], where,
                                                          "Expand's shape")),
                                    where, b, "Expand's shape")]
    if len(target) != len(t.shape) + 1 or t.seq or t.storage not in ("cl", "same"):
        b.fail(where, f"Expand of a {len(t.shape) + 1}-dimensional tensor to "
                      f"{brief(target)} is not supported; only to the shape of a map it "
                      "broadcasts to, read by a Mul (an attention gate's expand_as)")
    try:
        shape = np.broadcast_shapes(t.shape, tuple(target[1:]))
    except ValueError:
        b.fail(where, f"Expand of a tensor of shape {brief(['N', *t.shape])} to "
                      f"{brief(target)}: the shapes do not broadcast")
    if not b.batch_fits(target[0], node.input[1]):
        b.fail(where, f"Expand of a tensor of shape {brief(['N', *t.shape])} to "
                      f"{brief(target)} copies samples; only the shape of a map, batch kept")
    _alias(b, node, t)
    if tuple(shape) != t.shape:
        b.broadcast_only[node.output[0]] = tuple(shape)


def _refuse_expanded_beyond(b, node, where, expanded) -> None:
    """A Mul reads an Expand of data as the tensor itself only where the other factor has the
    shape expanded to (``α.expand_as(x) * x``): Mul(e, e), or one by a tensor of fewer
    channels, came out of the unexpanded shape, where every runtime's has the expanded one."""
    want = b.broadcast_only[expanded]
    other = [b.data[n] for n in node.input if n != expanded]
    try:
        fits = bool(other) and np.broadcast_shapes(other[0].shape, want) == other[0].shape
    except ValueError:  # the shapes do not broadcast
        fits = False
    if not fits:
        b.fail(where, f"Mul of {short(expanded, 60)!r}, an Expand of data to "
                      f"{brief(['N', *want])}, by a tensor of another shape is not supported: "
                      "only by one of that shape (an attention gate's α.expand_as(x) * x)")


GATE_BRANCH_NODES = 64  # a squeeze-and-excitation branch is a handful of nodes


def _pooled_from(b, gate, source) -> bool:
    """Whether engine tensor ``gate`` is computed from a pool of ``source`` (a squeeze-and-
    excitation branch: pool, convolutions or dense layers, activations), looking back at most
    GATE_BRANCH_NODES nodes."""
    todo, seen = [gate], set()
    while todo and len(seen) < GATE_BRANCH_NODES:
        k = b.producer.get(todo.pop())
        if k is None or k in seen:
            continue
        seen.add(k)
        if isinstance(b.nodes[k].layer, (MeanPool, MaxPool)) and source in b.nodes[k].inputs:
            return True
        todo.extend(b.nodes[k].inputs)
    return False


def _op_activation_or_step(cls):
    """Tanh, Sigmoid: their own layer kind, or a step of the Elementwise node before them
    (Mish's tanh(softplus(x)))."""
    def handler(b, node, attrs, where, t, data_in):
        k = b.producer.get(t.name)
        if k is not None and isinstance(b.nodes[k].layer, Elementwise) and _sole_reader(b, t):
            elementwise.unary(b, node, attrs, where, t, data_in)
        else:
            _same_shape(b, node, t, cls())
    return handler


def _channel_values(b, c, t, where):
    """A constant that ONNX broadcasts over ``t`` as one value per channel (or one value):
    the channel vector, else a one-line error."""
    c = np.asarray(c, dtype=np.float64)
    channels = t.shape[0] if t.storage == "cl" else t.shape[-1]
    if c.size == 1:
        return np.full(channels, float(c.reshape(-1)[0]))
    shape = np.shape(c)
    while len(shape) > 1 and shape[0] == 1:  # ONNX broadcasting aligns the trailing axes
        shape = shape[1:]
    per_channel = (channels, 1) if t.seq else (channels, 1, 1) if t.storage == "cl" \
        else (channels,)
    if c.size != channels or tuple(shape) != per_channel[-len(shape):] \
            or len(shape) > len(per_channel):
        b.fail(where, f"a constant of shape {brief(list(np.shape(c)))} on a tensor of shape "
                      f"{brief(list(t.shape))} is neither one value nor one per channel "
                      f"({'×'.join(map(str, per_channel))})")
    return c.reshape(-1)


def _identity_constant(b, node, t) -> bool:
    """Whether ``node`` multiplies or divides data by exactly 1, or adds or subtracts exactly 0:
    dropped, as its gradient and its Affine are the identity. dynamo's export without its
    optimiser (``optimize=False``) writes ``nn.Softplus()`` as x · 1, Softplus, / 1, and a
    threshold that reads x · 1 too, which kept the activation from being read as one."""
    op = node.op_type
    data_first = node.input[0] in b.data
    if not data_first and op in ("Sub", "Div"):
        return False
    other = node.input[1] if data_first else node.input[0]
    c = b.consts.get(other)
    if c is None or np.size(c) != 1 or np.ndim(c) > len(t.shape) + 1:
        return False
    value = float(np.asarray(c, dtype=np.float64).reshape(-1)[0])
    return value == (1.0 if op in ("Mul", "Div") else 0.0)


def _scale_shift(b, node, where, t):
    """Mul, Div, Add or Sub of data and a constant of one value or one per channel: Keras's
    BatchNormalization as tf2onnx writes it (Mul, Add), a Rescaling layer. Folded into the
    Affine, Linear or Convolution before it when that is the data's only reader; else an
    Affine of its own, which relevance passes (as zennit's Pass on BatchNorm).

    In a PyTorch export such a node is arithmetic in ``forward`` (its exporters write a
    BatchNorm as BatchNormalization or into the weights), where zennit takes the gradient: a
    :class:`Scale`, folded only into another Scale or, as its bias, into a bias-free MatMul
    (a Linear on more than two axes); folding ``conv(x) * 0.2`` changed the relevance."""
    op = node.op_type
    if _identity_constant(b, node, t):
        _alias(b, node, t)
        return
    if elementwise.extend(b, node, where):  # a step of the element-wise activation before it
        return
    data_first = node.input[0] in b.data
    if not data_first and op in ("Sub", "Div"):
        b.fail(where, f"{op} of a constant and data (constant first) is not supported")
    other = node.input[1] if data_first else node.input[0]
    c = b.const(other, where, f"{op}'s constant")
    shape = np.shape(c)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    if t.storage == "same" and len(t.shape) == 3 and len(shape) == 3 and np.size(c) > 1:
        t = b.channels_last(t, where)  # C×1×1 on a C×H×W input (PyTorch): per channel
    elif _is_sequence(t) and t.storage == "same" and len(shape) == 2 and np.size(c) > 1:
        t = b.channels_last(t, where)  # C×1 on an N×C×L input
    v = _channel_values(b, c, t, where)
    if op == "Div" and np.any(v == 0):
        b.fail(where, "Div by a constant that holds 0")
    ones, zeros = np.ones_like(v), np.zeros_like(v)
    scale, shift = (v, zeros) if op == "Mul" else (1 / v, zeros) if op == "Div" \
        else (ones, v) if op == "Add" else (ones, -v)
    cls = Scale if b.pytorch else Affine
    k = b.producer.get(t.name)
    layer = None if k is None else b.nodes[k].layer
    if layer is not None and _sole_reader(b, t):
        if isinstance(layer, ChannelNorm) and np.size(v) in (1, layer.scale.size):
            # a norm's own scale and shift (nn.GroupNorm's, written after it): exact, and
            # its gradient is the Scale's
            layer.scale, layer.shift = layer.scale * scale, layer.shift * scale + shift
            layer.clear_cache()
            _alias(b, node, t)
            return
        if type(layer) is cls:
            layer.scale, layer.shift = layer.scale * scale, layer.shift * scale + shift
            layer.clear_cache()
            _alias(b, node, t)
            return
        bias = not b.pytorch or (k in b.bias_free and op in ("Add", "Sub"))
        if getattr(layer, "weighted", False) and layer.B.shape == v.shape and bias:
            layer.W, layer.B = layer.W * scale, layer.B * scale + shift  # outputs: last axis
            layer.clear_cache()
            b.bias_free.discard(k)
            _alias(b, node, t)
            return
    out = b.add(node.name, cls(scale, shift), [t.name], node.output[0])
    b.data[out] = _Tensor(out, t.shape, t.storage, t.seq)


OPERATORS = {
    "Conv": lambda b, node, attrs, where, t, data_in: _conv(b, node, attrs, where, t),
    "ConvTranspose": upsampling.conv_transpose,
    "LayerNormalization": _op_layer_norm,
    "InstanceNormalization": norms.instance_norm,
    "GroupNormalization": norms.group_norm,
    "Resize": upsampling.resize,
    "Upsample": upsampling.resize,
    "Relu": _op_activation(Rect),
    "Tanh": _op_activation_or_step(Tanh),
    "Softmax": _op_softmax,
    "LogSoftmax": _op_log_softmax,
    "Clip": _op_clip,
    "Max": _op_max_min,
    "Min": _op_max_min,
    "LeakyRelu": _op_leaky_relu,
    "Sigmoid": _op_activation_or_step(Sigmoid),
    **{op: elementwise.unary for op in elementwise.UNARY if op not in ("Tanh", "Sigmoid")},
    **{op: elementwise.binary for op in ("Pow", "Greater", "Less", "Where")},
    "Elu": _op_elu,
    "Selu": _op_elu,
    "HardSigmoid": _op_hard_sigmoid,
    "HardSwish": _op_hard_sigmoid,
    "PRelu": _op_prelu,
    "Identity": _op_alias,
    "Expand": _op_expand,
    "Dropout": _op_dropout,
    "Cast": _op_cast,
    "CastLike": _op_cast,
    "Pad": lambda b, node, attrs, where, t, data_in: _pad(b, node, attrs, where, t),
    "MaxPool": lambda b, node, attrs, where, t, data_in: _pool(b, node, attrs, where, t,
                                                               MaxPool),
    "AveragePool": lambda b, node, attrs, where, t, data_in: _pool(b, node, attrs, where, t,
                                                                   MeanPool),
    "GlobalAveragePool": lambda b, node, attrs, where, t, data_in: _global_mean(
        b, node.name, t, node.output[0], where),
    "GlobalMaxPool": lambda b, node, attrs, where, t, data_in: _global_max(
        b, node.name, t, node.output[0], where),
    "ReduceMean": _op_reduce,
    "ReduceMax": _op_reduce,
    "Flatten": _op_flatten,
    "Squeeze": _op_squeeze,
    "Unsqueeze": _op_unsqueeze,
    "Slice": channels.slice_data,
    "Gather": channels.gather_data,
    "Split": channels.split_data,
    "SplitToSequence": channels.split_to_sequence,
    "SequenceAt": lambda b, node, attrs, where, t, data_in: channels.sequence_at(b, node, where),
    "Reshape": _op_reshape,
    "Transpose": _op_transpose,
    "Gemm": lambda b, node, attrs, where, t, data_in: _gemm(b, node, attrs, where, t),
    "MatMul": _op_matmul,
    "Add": _op_sum,
    "Sum": _op_sum,
    "Mean": _op_sum,
    "Concat": _op_concat,
    "ReduceSum": stack.reduce_sum,
    "Tile": repeat.tile,
    "BatchNormalization": lambda b, node, attrs, where, t, data_in: _batchnorm(
        b, node, attrs, where, t),
    "Mul": _op_arithmetic,
    "Div": _op_arithmetic,
    "Sub": _op_arithmetic,
}
# operators real classifiers contain that are refused, and why (the error says it)
REFUSED = {
    "Mish": "this computes Mish, which zennit does not pass relevance through (it has no rule "
            "for it and takes the gradient there)",
    **{op: "it divides by the sample's own statistics (a quotient of two signals), for which "
           "LRP here has no rule; zennit has none either (it takes the gradient there)"
       for op in ("LRN",)},
    **{op: "recurrent layers multiply gates and states (products of two signals), for which "
           "LRP here has no rule"
       for op in ("LSTM", "GRU", "RNN")},
}
# operators that build no layer of their own: relabelled, dropped or evaluated at import
IMPORT_ONLY = {"Identity": "dropped", "Dropout": "dropped (inference)",
               **{op: "of data to a floating type: dropped (the engine computes in its own "
                      "dtype; a `model.double()` export casts to float32 around `Celu`)"
                  for op in ("Cast", "CastLike")},
               "Unsqueeze": "of data: a sequence's N×C×L to N×C×1×L, relabelled; Keras's "
                            "N×L×C input to N×1×L×C; along a new last axis, a summand of "
                            "zennit's `Sum` (see ReduceSum); of a map, before a Tile (see "
                            "Tile)",
               "Transpose": "of data: NHWC ↔ NCHW, relabelled; the channel shuffle's; an "
                            "N×L×C sequence to N×C×L",
               "Expand": "of data to a shape it broadcasts to, read only by a Mul of two "
                         "tensors (Oktay et al.'s attention gate, `α.expand_as(x) * x`): the "
                         "tensor itself, which the Mul broadcasts alike; other readers "
                         "refused"}
FOLDED = ("Constant", "Shape", "Gather", "Slice", "Concat", "ConstantOfShape", "Cast",
          "CastLike", "Expand",
          "Unsqueeze", "Squeeze", "Transpose", "Reshape", "Add", "Sub", "Mul", "Div", "Mod",
          "Neg", "Max", "Min", "Split", "Identity",
          "Dropout")  # evaluated at import when every input is a constant


# what the operator table adds to the layer kinds an operator builds
NOTES = {
    "Add": "of two tensors (residual; inside an element-wise activation, a step of it); "
           "of a constant (one or one per channel): folded into "
           "the Conv/Gemm/Affine before it, else an `Affine` (Keras's BatchNormalization); "
           "in a PyTorch export a `Scale` (see Mul), or a bias-free MatMul's bias",
    "Sum": "of tensors", "Mean": "of tensors",
    "Concat": "of tensors along channels (axis 3 of N×H×W×C maps); of summands stacked along "
              "a new last axis, for zennit's `Sum` (see ReduceSum)",
    "ReduceSum": "over the last axis of `torch.stack([a, b, ...], dim=-1)` (Unsqueeze, Concat), "
                 "keepdims 0: zennit's `Sum` layer, one merge of the summands (its Norm rule)",
    "BatchNormalization": "folded into the Conv/Gemm right before it; else an `Affine` "
                          "that passes relevance on (zennit's `Pass` for BatchNorm)",
    "Conv": "grouped, depthwise and dilated (computed on its taps over the input's phase "
            "sub-grids, see Model files); `pads` (asymmetric too) and `auto_pad` become a `Pad`",
    "ConvTranspose": "a `Spread` of the input (its strides), a `Pad` (k − 1 − pads, and "
                     "`output_padding`) and a `Convolution` (`GroupedConvolution`: any group) "
                     "of the filters flipped, in and out swapped; `pads`, `auto_pad`, "
                     "`output_shape`; not dilated. Flat's ones and zB's bounds only where "
                     "input pixels land, as zennit on a `ConvTranspose2d`",
    "Resize": "constant scales or sizes of H and W (of L for a sequence N×C×L); any "
              "`coordinate_transformation_mode` but `tf_crop_and_resize`; mode `nearest` "
              "(any `nearest_mode`): relevance back summed over each pixel's copies; modes "
              "`linear` and `cubic` (`cubic_coeff_a`, `exclude_outside`, `antialias`): "
              "relevance back through the transposed weights; both the gradient, as zennit "
              "takes it",
    "Upsample": "modes `nearest` and `linear` (opsets 7–9), as Resize with asymmetric "
                "coordinates",
    "Tile": "of a map unsqueezed along a new axis after its height or width, by k along "
            "it, then a Reshape merging the k copies into that axis (a Transpose between "
            "allowed): tf.repeat, Keras's nearest `UpSampling2D` as tf2onnx writes it; a "
            "nearest resize of that axis",
    "MaxPool": "`pads` and `ceil_mode`'s partial windows become a `Pad` of −10³⁰; dilated too; "
               "a window's equal maxima: relevance to the first (PyTorch's gradient, zennit)",
    "AveragePool": "`pads` and `ceil_mode`'s partial windows become a `Pad`; windows that "
                   "count fewer entries (`count_include_pad=0`, partial ones) a "
                   "`PartialMeanPool`",
    "ReduceMean": "over H and W (PyTorch's `dynamo=True` global pooling); over axes 1, 2 of "
                  "an N×H×W×C map (Keras's GlobalAveragePooling2D as tf2onnx writes it); "
                  "Keras's LayerNormalization and GroupNormalization as tf2onnx writes them "
                  "(the moments, then Sqrt, Reciprocal and x · inv + (−mean · inv + β), a "
                  "group norm between a Reshape to N×H×W×groups×(C/groups) and one back): "
                  "a `ChannelNorm` and a `GroupNorm`",
    "MatMul": "of flat data and a constant: a `Linear`; of an N×H×W×C map (ConvNeXt's "
              "`nn.Linear` after its permute): a `PositionwiseDense`, which the presets treat "
              "as the dense layer it is",
    "ReduceMax": "over H and W (`dynamo=True`'s `AdaptiveMaxPool2d(1)`, `x.amax((2, 3))`)",
    "Reshape": "to N×features (N: 0, −1 or the input's fixed batch); to the shape it has: "
               "dropped; with a Transpose [0, 2, 1, 3, 4] between, to N×g×(C/g)×H×W and back: "
               "a channel shuffle (ShuffleNet), one `ChannelPermute`; a pooled vector back "
               "to its N×1×1×C or N×C×1×1 map (Keras's squeeze-and-excitation): that map",
    "Slice": "of data: channels (axis 1), step 1 (`x.chunk(2, dim=1)`); a map's height and "
             "width, step 1 (`x[:, :, 1:, :-1]`, Keras's Cropping2D): a `Crop`; of an "
             "N×H×W×C map, on its own axes",
    "Split": "of data: along channels",
    "SplitToSequence": "of data along channels (`x.chunk` exported by `dynamo=True` without "
                       "its optimiser); each part taken by `SequenceAt`",
    "SequenceAt": "a part of a `SplitToSequence`",
    "Gather": "of data: consecutive channels (axis 1); one (`x[:, c]`) with the `Unsqueeze(1)` "
              "after it (GoogLeNet's and Inception-v3's `transform_input`)",
    "Squeeze": "of data: the 1×1 of a pooled map (Keras's GlobalAveragePooling2D), also one "
               "axis at a time (`x.squeeze(-1).squeeze(-1)`)",
    "Flatten": "axis 1; C, H, W order kept", "Gemm": "`transB`, `alpha`, `beta`",
    "InstanceNormalization": "of a map or sequence (`nn.InstanceNorm2d`/`1d`: a group per "
                             "channel); of a map reshaped to N×groups×−1 and back "
                             "(`nn.GroupNorm` as both PyTorch exporters write it, its scale "
                             "and shift after it folded in): a `GroupNorm`, which passes "
                             "relevance as its gradient (zennit has no rule there and takes it)",
    "GroupNormalization": "scale and bias per group (opsets 18–20) or per channel (21): a "
                          "`GroupNorm`, as InstanceNormalization",
    "LayerNormalization": "over the last axis of an N×H×W×C map (ConvNeXt's LayerNorm2d "
                          "after its permute: over the channels) or a flat tensor: a "
                          "`ChannelNorm`, which passes relevance as its gradient (zennit has "
                          "no rule there and takes it)",
    "Clip": "e.g. ReLU6; in a Keras export Add(x, a), Clip(0, m), Mul(1/m) (MobileNetV3's "
            "`ReLU(6.0)(x + 3.0) * (1.0 / 6.0)`) is one `HardSigmoid` (α = 1/m, β = a/m), as "
            "PyTorch's `nn.Hardsigmoid` exports",
    "Pad": "of height and width (of an N×H×W×C map too); constant, or `reflect`, `edge`, "
           "`wrap` (PyTorch's `padding_mode` `reflect`, `replicate`, `circular` as dynamo "
           "writes it; `nn.ReflectionPad2d`): a `MirrorPad`, whose border passes relevance "
           "back to the entries it copies (its gradient, as zennit's autograd)",
    "Max": "of data and constant values of one number each: a `Clip` from below "
           "(`dynamo=True`'s `x.clamp(min=0)`) at the largest; of two tensors refused",
    "Min": "of data and constant values of one number each: a `Clip` from above at the "
           "smallest; of two tensors refused",
    "Mul": "of data and a constant (one value or one per channel): folded into the "
           "Conv/Gemm/Affine before it, else an `Affine` (Keras's BatchNormalization, "
           "Rescaling); in a PyTorch export, arithmetic in `forward` (`(x − mean) / std`, "
           "`branch * 0.2`): a `Scale` that relevance passes as its gradient, as zennit's "
           "autograd does (never folded); x · Sigmoid(x) is a `Silu`, x · HardSigmoid(x) a "
           "HardSwish; a "
           "product of tensors computed from one tensor (GELU's x · Φ(x)) a step of an "
           "`Elementwise`; a map times one value per channel computed from it "
           "(squeeze-and-excitation: MobileNetV3, EfficientNet-B0, from PyTorch or Keras) a "
           "`Gate` (on a 1×1 map, where both have one shape, the one computed from the "
           "other's global pool is the gate); a map times a Sigmoid's or HardSigmoid's "
           "one-channel map, upsampled or not, broadcast over its channels (Attention "
           "U-Net's attention gate, from PyTorch or Keras) a `Gate`; a gate passes "
           "relevance as its gradient to both factors, as zennit's autograd does; other "
           "products of data refused (no LRP rule for a product of two signals)",
    "Div": "of data by a constant: as Mul", "Sub": "of data and a constant: as Add",
    **{op: "an element-wise activation, alone or as a step of one (GELU's Erf; dynamo's "
           "Softplus threshold: Greater, Where); relevance passes, as zennit's `Pass`"
       for op in ("Abs", "Celu", "Erf", "Exp", "Gelu", "Greater", "Less", "Log", "Neg", "Pow",
                  "Reciprocal", "Softplus", "Softsign", "Sqrt", "Where")},
    "Tanh": "after an `Elementwise` it reads alone: a step of it (Mish's, refused)",
    "Sigmoid": "after an `Elementwise` it reads alone: a step of it",
    "PRelu": "one slope or one per channel", "Selu": "an `Elu` scaled by γ",
    "LogSoftmax": "over a flat tensor's features or (opset 13 on) a map's channels; kept: "
                  "relevance goes back as its gradient, as zennit's autograd takes it",
    "Softmax": "over a flat tensor's features or (opset 13 on) a map's channels, per pixel; "
               "kept (outputs are probabilities): relevance goes back as its gradient, as "
               "zennit's autograd takes it (a toolbox chain's final SoftMax is dropped)",
    "HardSwish": "x · HardSigmoid(x) with α = 1/6, β = 1/2",
}


def supported_operators() -> list:
    """Every ONNX operator the importer reads, sorted (what ``unsupported`` lists)."""
    return sorted(set(OPERATORS) | set(FOLDED))


def operators_markdown() -> str:
    """The README's table of ONNX operators, made from the importer's table and the layer
    registry (a test keeps the README equal)."""
    from ..layers import LAYER_KINDS

    kinds: dict = {}
    for cls in LAYER_KINDS.values():
        for op in cls.onnx_ops:
            kinds.setdefault(op, []).append(f"`{cls.kind}`")
    rows = ["| ONNX operator | layer it builds | notes |", "|---|---|---|"]
    for op in supported_operators():
        notes = [text for text in (NOTES.get(op), IMPORT_ONLY.get(op)) if text]
        if op in FOLDED:
            notes.append("of constants: evaluated at import" if op in OPERATORS
                         else "shape arithmetic, evaluated at import")
        rows.append(f"| `{op}` | {', '.join(kinds.get(op, [])) or '—'} | {'; '.join(notes)} |")
    return "\n".join(rows)


def _input_count_problem(path, inputs) -> str:
    """Why a graph with other than one value-less input cannot be explained, naming them: a
    Keras export (``model.export``, tf2onnx's ``from_function``) of a model with a
    ``Normalization`` layer keeps its mean and variance as further inputs, and "has 3" alone
    did not say which; ``tf2onnx.convert.from_keras`` stores them (EfficientNetB0 loads)."""
    if not inputs:
        return (f"{path}: the graph has no input: every graph input has a stored value "
                "(initializer), so there is nothing to explain")
    named = ", ".join(f"'{short(v.name, 40)}' ({_declared_shape(v)})" for v in inputs[:4])
    more = f" and {len(inputs) - 4} more" if len(inputs) > 4 else ""
    return (f"{path}: the graph has {len(inputs)} inputs without stored values: {named}{more}; "
            "LRP explains a model of one input, so every other input needs its value in the "
            "file (as an initializer; Keras's model.export(format=\"onnx\") leaves a "
            "Normalization layer's mean and variance as inputs, as in EfficientNet: export with "
            "tf2onnx.convert.from_keras(model, input_signature=...), which stores them)")


def _pinned(path, sample, input_shape) -> list:
    """The input's per-sample sizes (0 where the file leaves one open), those left open taken
    from ``input_shape`` (the sidecar's "shape", in the input's own axis order), which must
    agree with every size the file fixes; the sizes as they were without it."""
    if input_shape is None or all(d > 0 for d in sample):
        return sample  # a fixed input: the sidecar's shape is checked against the model later
    ok = (isinstance(input_shape, list) and len(input_shape) == len(sample)
          and all(isinstance(g, int) and not isinstance(g, bool) and 0 < g <= MAX_SAMPLE_ELEMENTS
                  for g in input_shape))
    if not ok or any(d > 0 and d != g for d, g in zip(sample, input_shape, strict=True)):
        declared = "×".join(str(d) if d > 0 else "?" for d in sample)
        raise ModelFormatError(f"{path}: the input shape {short(repr(input_shape), 60)} of "
                               f"its sidecar {_sidecar_name(path)} does not fit the input's "
                               f"declared per-sample sizes {declared} "
                               f"({len(sample)} positive integers, in that order, equal where "
                               "the file fixes them)")
    return list(input_shape)


def _sidecar_name(path) -> str:
    from .sidecar import sidecar_path  # noqa: PLC0415

    return os.path.basename(sidecar_path(path))


def _shape_example(sample) -> str:
    """The sidecar "shape" that fixes ``sample``'s open sizes, 224 standing for each."""
    return "[" + ", ".join(str(d) if d > 0 else "224" for d in sample) + "]"


def _declared_shape(value) -> str:
    dims = value.type.tensor_type.shape.dim
    return "×".join(str(d.dim_value) if d.HasField("dim_value") else "?" for d in dims) \
        or "no shape"


def _refuse_undecodable_names(path, graph) -> None:
    """Refuse a name that is not UTF-8 text: protobuf hands such a string field over as bytes
    (an operator b'Avera\\xf5ePool' was refused as "malformed (TypeError: get_schema():
    incompatible function arguments …)" over two lines, and tensor names of bytes match no
    other name)."""
    def names(item):
        yield "name", item.name
        for field in ("op_type", "domain"):
            if hasattr(item, field):
                yield field, getattr(item, field)
        for field in ("input", "output"):
            if hasattr(item, field) and not isinstance(getattr(item, field), str):
                for name in getattr(item, field):
                    yield field, name

    for kind, items in (("node", graph.node), ("initializer", graph.initializer),
                        ("graph input", graph.input), ("graph output", graph.output)):
        for i, item in enumerate(items):
            for field, value in names(item):
                if not isinstance(value, str):
                    raise ModelFormatError(f"{path}: {kind} {i}: its {field} "
                                           f"{short(bytes(value), 40)} is not UTF-8 text, as "
                                           "ONNX requires; a damaged file?")


def _schema(b, node, onnx):
    """ONNX's declaration of the node's operator at the model's opset; None for an operator
    ONNX does not know there, which is left to its handler (which may read it from a later
    opset, or refuse it)."""
    try:
        return onnx.defs.get_schema(node.op_type, max_inclusive_version=b.opset, domain="")
    except onnx.defs.SchemaError:
        return None


def _check_arity(b, node, where, schema):
    """The operator's input and output counts as ONNX declares them at the model's opset: an
    Add of three tensors was read as a sum, a Conv's fourth input ignored, where every ONNX
    runtime refuses the file."""
    for what, count, low, high in (
            ("inputs", len(node.input), schema.min_input, schema.max_input),
            ("outputs", len(node.output), schema.min_output, schema.max_output)):
        if not low <= count <= high:
            need = f"{low}" if low == high else f"{low} to {high}"
            b.fail(where, f"{count} {what[:-1]}{'s' * (count != 1)}; {short(node.op_type, 40)} "
                          f"(opset {b.opset}) takes {need}")


_ATTRIBUTE_KINDS = {"INT": "a whole number", "INTS": "a list of whole numbers",
                    "FLOAT": "a number", "FLOATS": "a list of numbers", "STRING": "a string",
                    "STRINGS": "a list of strings", "TENSOR": "a tensor"}


# attributes ONNX reads as a switch, 0 or 1: a MaxPool's ceil_mode 7 was read as floor here
# and as ceil by onnxruntime, keepdims 2³¹ as kept here and as 0 there
SWITCHES = frozenset({"ceil_mode", "count_include_pad", "keepdims", "noop_with_empty_axes",
                      "transA", "transB", "allowzero", "antialias", "exclude_outside",
                      "select_last_index", "storage_order", "fmod", "exclusive", "reverse",
                      "upper", "detect_negative", "detect_positive"})


def _check_attribute_types(b, node, where, schema, onnx):
    """Each attribute of the type ONNX declares for it, as onnx.checker and every runtime
    require: strides of floats [1.5, 1.5] were read as int(1.5) = 1, a ConvTranspose of stride
    1 where the file asks for another operator; an attribute the operator does not declare is
    left to its handler."""
    types = onnx.AttributeProto.AttributeType
    for a in node.attribute:
        declared = schema.attributes.get(a.name)
        if declared is not None and a.type != int(declared.type.value):
            held = types.Name(a.type) if a.type in types.values() else f"type {a.type}"
            wanted = _ATTRIBUTE_KINDS.get(declared.type.name, declared.type.name)
            b.fail(where, f"attribute '{short(a.name, 40)}' must be {wanted}, not {held} "
                          f"({short(node.op_type, 40)}, opset {b.opset})")
        if declared is not None and a.name in SWITCHES and a.i not in (0, 1):
            b.fail(where, f"attribute '{a.name}' is {a.i}; {short(node.op_type, 40)} takes 0 "
                          "or 1 there (runtimes read another as either)")


def _node(b, node, where, onnx):
    moments = b.keras_norms.get(id(node))  # a placeholder of keras_norms.fuse
    if moments is not None:
        keras_norms.read(b, node, moments, where)
        return
    schema = _schema(b, node, onnx)
    if schema is not None:
        _check_arity(b, node, where, schema)
        _check_attribute_types(b, node, where, schema, onnx)
        b.types.check(node, schema, lambda text: b.fail(where, text))
    unread = next((n for n in node.input if n in b.uncomputed), None)
    if unread is not None:
        k, origin = b.uncomputed[unread]
        b.fail(where, f"reads '{short(unread)}', output {k + 1} of {origin}, which is not "
                      "supported: only that operator's first output is computed")
    attrs = _attrs(onnx, node, b, where)
    b.types.record(node, schema, attrs)
    if _fold(b, node, attrs, where, onnx):
        if any(n in b.batch_shaped for n in node.input):  # its 0s may stand for the batch
            b.batch_shaped.update(node.output)
        return
    op = node.op_type
    if op == "SequenceAt":
        channels.sequence_at(b, node, where)
        return
    data_in = [b.data.get(n) for n in node.input if n]
    t = next((d for d in data_in if d is not None), None)  # Mul(0.5, x): data second
    if t is None:
        if all(n in b.consts for n in node.input if n):  # shape arithmetic not among FOLDED
            b.fail(where, f"operator {short(op, 40)} on constants only: it is not among the "
                          "operators evaluated at import (shape arithmetic: "
                          f"{', '.join(FOLDED)})")
        b.fail(where, f"operator {short(op, 40)} on inputs that are neither data nor constants")
    grouped = next((d for d in data_in if d is not None and d.storage in norms.STORAGES), None)
    if grouped is not None:
        norms.refuse_other_reader(b, where, op, grouped)
    pending = next((d for d in data_in if d is not None and d.storage in channels.PENDING), None)
    if pending is not None and pending.storage == channels.BATCH_FLAT \
            and op not in ("Reshape", "Identity", "Gather"):
        b.fail(where, f"{op} of a batch flattened to one axis (a Reshape to [-1]) is not "
                      "supported; only a Gather reading it back in order (dynamo's as_strided)")
    if pending is not None and op not in ("Transpose", "Reshape", "Unsqueeze", "Identity") \
            and not (pending.storage == channels.BATCH_FLAT and op == "Gather"):
        b.fail(where, f"{op} of the {brief(list(pending.shape))} tensor between a channel "
                      "shuffle's Reshape and Transpose is not supported; only the shuffle itself")
    stacked = next((d for d in data_in if d is not None and d.storage == stack.STACKED), None)
    if stacked is not None and op not in ("Concat", "ReduceSum", "Tile"):
        stack.refuse_other_use(b, where, op, stacked)
    repeating = next((d for d in data_in if d is not None and d.storage == repeat.REPEATING),
                     None)
    if repeating is not None and op not in repeat.ACCEPTS:
        repeat.refuse_other_use(b, where, op, repeating)
    expanded = next((n for n in node.input if n in b.broadcast_only), None)
    if expanded is not None and not (op == "Mul" and _two_tensors(data_in)):
        b.fail(where, f"{op} of {short(expanded, 60)!r}, an Expand of data, is not supported: "
                      "only a Mul of two tensors may read one (it broadcasts it alike)")
    if expanded is not None:
        _refuse_expanded_beyond(b, node, where, expanded)
    handler = OPERATORS.get(op)
    if handler is not None:
        axis_check.check(b, node, attrs, where)  # axis 5 of a 4-D map was read as 1
    if handler is None and op in REFUSED:
        b.fail(where, f"operator {op} is not supported: {REFUSED[op]}")
    if handler is None:
        b.fail(where, f"operator {short(op, 40)} is not supported (supported: "
                      f"{', '.join(supported_operators())})")
    handler(b, node, attrs, where, t, data_in)


# zennit 0.5.1's composites attach rules to modules (``layer_map_base``): every module of its
# ``Activation`` type gets Pass, of its ``AvgPool`` type Norm. The same operation called in a
# model's ``forward`` (``F.relu``, ``torch.sigmoid``, ``F.adaptive_avg_pool2d``, ``x.mean``) has
# no module to hook, and zennit's autograd takes its gradient there.
ZENNIT_PASSED = frozenset("torch.nn.modules.activation." + n for n in (
    "ELU", "Hardshrink", "Hardsigmoid", "Hardtanh", "Hardswish", "LeakyReLU", "LogSigmoid",
    "PReLU", "ReLU", "ReLU6", "RReLU", "SELU", "CELU", "GELU", "Sigmoid", "SiLU", "Softplus",
    "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold"))
ZENNIT_NORMED = frozenset("torch.nn.modules.pooling." + n for n in (
    "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d"))
NAME_SCOPES = "pkg.torch.onnx.name_scopes"
STACK_TRACE = "pkg.torch.onnx.stack_trace"
# where PyTorch's own activation and pooling modules run: a module of another class whose
# operator is written there inherits one's forward (``class MyReLU(nn.ReLU)``), and zennit's
# isinstance hooks it as it hooks its base (dynamo's metadata names only the subclass)
TORCH_MODULE_FILES = {False: "torch/nn/modules/activation.py",
                      True: "torch/nn/modules/pooling.py"}
# what the TorchScript exporter writes in the scope of an average-pooling module
POOLING_MODULE_OPS = frozenset({"AveragePool", "GlobalAveragePool", "ReduceMean", "Pad",
                                "Constant"})


def _literal(text):
    """The Python literal an exporter's metadata writes (a list of strings), never evaluated
    as code; None where it is no literal: '{[]: 1}' parses, and building the dict raised
    TypeError, an internal error of every command reading the file."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _innermost_module(node):
    """The class of the innermost module a ``dynamo=True`` export records for ``node``
    (``pkg.torch.onnx.class_hierarchy``: the modules from the model down, then the aten
    operator), '' for a call in the model's own ``forward``; None where it records none."""
    for prop in node.metadata_props:
        if prop.key == CLASS_HIERARCHY and len(prop.value) <= 100_000:
            chain = _literal(prop.value)
            if not (isinstance(chain, list) and chain and all(isinstance(c, str)
                                                             for c in chain)):
                return None
            return chain[-2] if len(chain) >= 3 else ""
    return None


def _written_in(node) -> str:
    """The file of the innermost frame of the stack trace a ``dynamo=True`` export records
    for ``node`` (``pkg.torch.onnx.stack_trace``, paths with ``/``), '' where it records none."""
    for prop in node.metadata_props:
        if prop.key == STACK_TRACE and len(prop.value) <= 1_000_000:
            start = prop.value.rfind('File "')
            end = prop.value.find('"', start + 6)
            return prop.value[start + 6:end].replace("\\", "/") if 0 <= start < end else ""
    return ""


def _module_of(node) -> str:
    """Where a ``dynamo=True`` export's node sits, for messages: `` in module 'features.1.block.1'
    (SqueezeExcitation)`` from its ``pkg.torch.onnx.name_scopes`` (its names, ``node_mul``, say
    nothing of it); '' for other files and for calls in the model's own ``forward``."""
    for prop in node.metadata_props:
        if prop.key == NAME_SCOPES and len(prop.value) <= 10_000:
            scopes = _literal(prop.value)
            if not (isinstance(scopes, list) and len(scopes) >= 3
                    and isinstance(scopes[-2], str) and scopes[-2]):
                return ""
            cls = _innermost_module(node)
            cls = f" ({short(cls.rsplit('.', 1)[-1], 60)})" if cls else ""
            return f" in module '{short(scopes[-2], 100)}'{cls}"
    return ""


def _scope(name):
    """The module path of a TorchScript export's node name: ``/layer1/layer1.0/Relu`` →
    ('layer1', 'layer1.0'); () for a call in the model's own ``forward`` (``/Relu``)."""
    return tuple(name.split("/")[1:-1])


def mark_functional_calls(graph_nodes, nodes, pytorch) -> list:
    """Mark the activations and average pools that a PyTorch export shows were called in a
    ``forward`` rather than as modules (``layers.mark_functional``: zennit's gradient there).
    A ``dynamo=True`` export names each node's module classes (``_innermost_module``); a
    TorchScript export names its module path, and a call is functional where that path is the
    model itself (``/GlobalAveragePool``: torchvision's MobileNetV2, ShuffleNetV2, MNASNet and
    DenseNet pool so) or a module holding submodules (``/layer1/layer1.0/Relu`` beside
    ``/layer1/layer1.0/conv1/Conv``); a leaf module's path (``/avgpool/GlobalAveragePool``) is
    a module, unless a pool shares it with other operators (a custom module that pools in its
    forward and flattens: no pooling module writes more). A custom activation module
    (``x * torch.sigmoid(x)`` in a leaf module's forward) writes what ``nn.SiLU`` writes and
    stays a module (zennit's gradient there only a dynamo export shows). Other files (no
    such names) are left as modules. Returns the marked nodes' names."""
    by_name = {n.name: n for n in graph_nodes}
    dynamo = any(p.key == CLASS_HIERARCHY for n in graph_nodes for p in n.metadata_props)
    containers, ops = set(), {}
    if pytorch and not dynamo:
        for n in graph_nodes:
            if n.name.startswith("/"):
                scope = _scope(n.name)
                containers.update(scope[:k] for k in range(len(scope)))
                ops.setdefault(scope, set()).add(n.op_type)
    marked = []
    for node in nodes:
        layer, source = node.layer, by_name.get(node.name)
        pool = getattr(layer, "norm_role", False)
        if source is None or not (pool or layer.role == "pass"):
            continue
        if dynamo:
            module = _innermost_module(source)
            functional = module is not None and module not in (
                ZENNIT_NORMED if pool else ZENNIT_PASSED) \
                and not _written_in(source).endswith(TORCH_MODULE_FILES[bool(pool)])
        else:  # a pooling module writes its pool alone (and a Pad): a leaf module writing
            # more (``F.adaptive_avg_pool2d(x, 1).flatten(1)``) is no pooling module
            scope = _scope(source.name)
            functional = pytorch and source.name.startswith("/") and (
                scope in containers or not scope
                or pool and not ops.get(scope, set()) <= POOLING_MODULE_OPS)
        if functional and mark_functional(layer):
            marked.append(node.name)
    return marked


WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})


def record_module_paths(graph_nodes, nodes) -> None:
    """Give each layer of a ``dynamo=True`` export the path of the PyTorch module it comes
    from (``layer.module_path``, which per-layer rule keys match as the TorchScript export's
    node names give it: 'layer1.0.conv1', 'layer1.*'): its nodes are named by operator
    (``node_Conv_293``, ``n0``), which says nothing of the model. A weighted operator's
    module is its weight's ('layer1.0.conv1.weight': its ``name_scopes`` name the BatchNorm
    folded into it), any other's its innermost scope. Names that are no dotted path of
    Python names (a crafted file's) are left out; a file without the metadata (a TorchScript
    export, whose node names hold the path: :func:`lrpcore.graph.module_path`) gets none."""
    if not any(p.key == NAME_SCOPES for n in graph_nodes for p in n.metadata_props):
        return
    by_name = {n.name: n for n in graph_nodes}
    for node in nodes:
        source = by_name.get(node.name)
        if source is None:
            continue
        path = None
        if source.op_type in WEIGHTED_OPS and len(source.input) > 1 \
                and source.input[1].endswith(".weight"):
            path = source.input[1].removesuffix(".weight")
        else:
            for prop in source.metadata_props:
                if prop.key == NAME_SCOPES and len(prop.value) <= 10_000:
                    scopes = _literal(prop.value)
                    if isinstance(scopes, list) and len(scopes) >= 3 \
                            and isinstance(scopes[-2], str):
                        path = scopes[-2]
        if path and len(path) <= MAX_MODULE_PATH and MODULE_PATH.fullmatch(path):
            node.layer.module_path = path


def _prune(nodes, output):
    """Drop nodes whose results nothing reads (e.g. a Shape branch that was folded)."""
    needed, keep = {output}, []
    for node in reversed(nodes):
        if node.output in needed:
            keep.append(node)
            needed.update(node.inputs)
    return list(reversed(keep))


def read_onnx_graph(path, proto=None, input_shape=None) -> GraphModel:
    """Read any supported ONNX graph as a :class:`~lrpcore.graph.GraphModel`; sizes its input
    leaves open are taken from ``input_shape`` (a sidecar's "shape", :func:`_pinned`)."""
    path = os.fspath(path)
    onnx, _ = _onnx()
    if proto is None:
        proto = load_proto(path)
    if len(proto.graph.node) <= MAX_NODES:  # modules as local functions: their operators
        proto = inline_functions(onnx, proto, path, MAX_NODES)
    graph = proto.graph
    if not graph.node:
        raise ModelFormatError(f"{path}: the ONNX graph has no nodes")
    if len(graph.node) > MAX_NODES:
        raise ModelFormatError(f"{path}: {len(graph.node)} nodes; more than {MAX_NODES} is not "
                               "a model this program reads")
    _refuse_undecodable_names(path, graph)
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                default=None)
    if opset is None:  # exporters write it last: a file cut there loaded with opset 13 guessed
        raise ModelFormatError(f"{path}: the model names no ONNX opset (opset_import), which "
                               "every exporter writes; a truncated or damaged file?")
    if opset < 1:  # no operator is defined before opset 1: its version checks read nothing
        raise ModelFormatError(f"{path}: opset {opset}; ONNX opsets start at 1 (a damaged "
                               "file?)")
    b = _Builder(path, opset)
    b.pytorch = proto.producer_name == "pytorch"
    external = ExternalData(path)  # dynamo=True keeps the weights in model.onnx.data
    if graph.sparse_initializer:  # a node reading one was refused as reading a constant that
        # is none ("Gemm's weights must be a constant")
        sparse = graph.sparse_initializer[0]
        raise ModelFormatError(f"{path}: initializer '{short(sparse.values.name)}' is stored "
                               "sparse (sparse_initializer), which is not supported; save the "
                               "model with dense initializers, as exporters write them")
    b.consts.update({t.name: _tensor(onnx, t, f"{path}: initializer", external)
                     for t in graph.initializer})
    for t in graph.initializer:
        b.types.declare(t.name, t.data_type)
    inputs = [v for v in graph.input if v.name not in b.consts]
    if len(inputs) != 1:
        raise ModelFormatError(_input_count_problem(path, inputs))
    inp = inputs[0]
    elem = inp.type.tensor_type.elem_type
    if elem and not is_number_type(elem):  # a string or bool input was explained as numbers
        raise ModelFormatError(f"{path}: input '{short(inp.name)}' holds {type_name(elem)} "
                               "values; a model this program explains takes numbers")
    dims = list(inp.type.tensor_type.shape.dim)
    sample = [d.dim_value if d.HasField("dim_value") else 0 for d in dims[1:]]
    declared = sample
    sample = _pinned(path, sample, input_shape)
    if len(sample) not in (1, 2, 3) or any(d <= 0 for d in sample):
        # dynamic_axes={"input": {2: "H", 3: "W"}} (dynamo: dynamic_shapes) leaves sizes open,
        # which the layers' shapes, fixed at load, cannot follow: say how to export instead
        open_ = len(sample) in (1, 2, 3) and any(d.HasField("dim_param") for d in dims[1:])
        hint = ("; its sizes beyond the batch are left open (dynamic_axes or dynamic_shapes on "
                "them): export it with a fixed input size, dynamic on the batch axis only, or "
                f"give the size in its sidecar {_sidecar_name(path)}: {{\"input\": "
                f"{{\"shape\": {_shape_example(sample)}}}}}" if open_ else "")
        raise ModelFormatError(f"{path}: input '{short(inp.name)}' must have a fixed shape "
                               "(N, features), (N, C, L), (N, C, H, W) or (N, H, W, C); got "
                               f"{brief([short(d.dim_param, 20) or d.dim_value for d in dims])}"
                               f"{hint}")
    if math.prod(sample) > MAX_SAMPLE_ELEMENTS:  # Python ints: np.prod wraps around at 2⁶⁴
        whose = (f"with the shape its sidecar {_sidecar_name(path)} gives, has"
                 if sample != declared else "declares")
        raise ModelFormatError(f"{path}: input '{short(inp.name)}' {whose} "
                               f"{math.prod(sample):,} values per sample (more than "
                               f"{MAX_SAMPLE_ELEMENTS:,})")
    if sample == declared:
        return _read_nodes(path, proto, b, inp, dims, sample, onnx)
    try:
        return _read_nodes(path, proto, b, inp, dims, sample, onnx)
    except ModelFormatError as exc:  # a refusal the sidecar's sizes may cause: it names the
        # model alone ("node 0 'conv': input 2×2 is smaller than the 3×3 window"), and the
        # 2×2 is written in the sidecar only
        raise ModelFormatError(f"{exc} (the input's sizes {brief(sample)} are those its "
                               f"sidecar {_sidecar_name(path)} gives)") from None


def _refuse(text):
    """A node's refusal; the node loop names the file and the node."""
    raise ModelFormatError(text)


def _refuse_unwritten(path, where, graph_nodes, i, written) -> None:
    """Refuse node ``i`` reading a tensor no earlier node, initializer or the input writes:
    ONNX requires nodes in topological order, so it is a cycle or a damaged file (it was
    refused as "Add's constant must be a constant", naming no tensor)."""
    node = graph_nodes[i]
    missing = next((n for n in node.input if n and n not in written), None)
    if missing is None:
        return
    writer = next((k for k in range(i, len(graph_nodes))
                   if missing in graph_nodes[k].output), None)
    if writer == i:
        why = "which it writes itself: a cycle"
    elif writer is not None:
        later = graph_nodes[writer].name or f"{graph_nodes[writer].op_type}_{writer}"
        why = (f"which node {writer} '{short(later)}' writes only later: a "
               "cycle, or nodes out of the order ONNX requires (each after the nodes it reads)")
    else:
        why = "which no node, initializer or input writes (a damaged file?)"
    raise ModelFormatError(f"{path}: {where}: reads '{short(missing)}', {why}")


def _read_nodes(path, proto, b, inp, dims, sample, onnx) -> GraphModel:
    """The model of the graph's nodes, read into ``b`` for an input of per-sample sizes
    ``sample``."""
    graph, opset = proto.graph, b.opset
    graph_nodes = list(graph.node)
    b.output_name = graph.output[0].name if graph.output else None
    if not b.pytorch:  # Keras's ReLU6(x + 3) / 6: one HardSigmoid, as PyTorch's
        graph_nodes = hard_sigmoid.fuse(onnx, graph_nodes, b.consts,
                                        [o.name for o in graph.output], opset)
        # Keras's LayerNormalization and GroupNormalization: one placeholder node each
        graph_nodes, b.keras_norms = keras_norms.fuse(onnx, graph_nodes, b.consts,
                                                      [o.name for o in graph.output], opset)
    for node in graph_nodes:  # CastLike's second input gives only its type: no reader
        for n in node.input[:1] if node.op_type == "CastLike" else node.input:
            b.readers[n] = b.readers.get(n, 0) + 1
    first = next((n for n in graph_nodes if inp.name in n.input), None)
    # a 'perm' of another type (a float, a string) is the Transpose's to refuse, named
    perm = _attrs(onnx, first).get("perm") if first is not None else None
    nhwc = (len(sample) == 3 and isinstance(perm, list) and first.op_type == "Transpose"
            and perm == [0, 3, 1, 2])
    b.data[inp.name] = _Tensor(inp.name, sample, "same")
    if nhwc:
        b.nhwc.add(inp.name)
    b.types.declare(inp.name, inp.type.tensor_type.elem_type)
    if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0:
        b.batch = int(dims[0].dim_value)
    written = {inp.name} | set(b.consts)  # what the nodes so far may read
    for i, node in enumerate(graph_nodes):
        name = node.name or f"{node.op_type}_{i}"
        if not node.name:
            node.name = name
        where = f"node {i} '{short(name)}' ({short(node.op_type, 40)}){_module_of(node)}"
        _refuse_unwritten(path, where, graph_nodes, i, written)
        written.update(node.output)
        if node.domain not in ("", "ai.onnx"):
            raise ModelFormatError(f"{path}: {where}: operator '{short(node.domain, 40)}."
                                   f"{short(node.op_type, 40)}' "
                                   "is not supported")
        for out in node.output:  # a node's output named like an initializer: later nodes
            b.consts.pop(out, None)  # read the output (dynamo, optimize=False: 'mean')
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # checked below, not printed
                _node(b, node, where, onnx)
            schema = _schema(b, node, onnx)
            if schema is not None:  # integers where floats belong, once the operator's own
                # reader had its say (onnx_types)
                b.types.check(node, schema, _refuse, floating_only=False)
        except ModelFormatError as exc:
            if str(exc).startswith(path):
                raise
            text = str(exc).removeprefix(f"{where}: ")  # a tensor's own error names the node
            raise ModelFormatError(f"{path}: {where}: {error_line(text, 400)}") from None
        except LRPError as exc:  # a layer refusing its parameters (ShapeError, RuleError)
            raise ModelFormatError(f"{path}: {where}: {error_line(exc, 400)}") from None
        except (ValueError, ArithmeticError, IndexError, KeyError, TypeError) as exc:
            # a hostile file reaching a check no branch foresaw: still one line naming it
            raise ModelFormatError(f"{path}: {where}: malformed ({type(exc).__name__}: "
                                   f"{str(exc)[:200]})") from None
        for k, extra in enumerate(node.output[1:], 1):
            if extra and extra not in b.data and extra not in b.consts:
                b.uncomputed[extra] = (k, where)
    if not graph.output:
        raise ModelFormatError(f"{path}: the ONNX graph declares no output")
    unwritten = next((o.name for o in graph.output[1:] if o.name not in written), None)
    if unwritten is not None:  # a second output no node writes was ignored (the first one's
        # own check follows): every runtime refuses the file
        raise ModelFormatError(f"{path}: the graph output '{short(unwritten)}' is written by no "
                               "node, initializer or input (a damaged file?)")
    out_name = graph.output[0].name
    if out_name not in b.data:
        raise ModelFormatError(f"{path}: the graph output '{short(out_name)}' is not computed from "
                               "the input")
    final = b.data[out_name]
    if final.storage == channels.BATCH_FLAT:  # x.reshape(-1) last, batch of one: the features
        # in ONNX's order (read as the map it was, the outputs were its channels-last values)
        _flatten(b, f"{out_name}/flatten", b.batch_flat[final], out_name)
        final = b.data[out_name]
    if final.storage in norms.STORAGES:
        raise ModelFormatError(f"{path}: the graph output '{short(out_name)}' is a map "
                               "reshaped for a group normalisation; only the normalised map, "
                               "reshaped back, is supported")
    if final.storage == stack.STACKED:
        raise ModelFormatError(f"{path}: the graph output '{short(out_name)}' is a stack of "
                               "tensors (Unsqueeze along a new last axis, as torch.stack writes "
                               "it); only its sum is supported")
    if final.storage == repeat.REPEATING:
        raise ModelFormatError(f"{path}: the graph output '{short(out_name)}' is a map with "
                               "a new axis of copies (Unsqueeze and Tile, as tf.repeat writes "
                               "it); only the map they are merged back into is supported")
    if out_name in b.broadcast_only:
        raise ModelFormatError(f"{path}: the graph output '{short(out_name)}' is an Expand of "
                               "data; only a Mul reading one is supported")
    if final.name != out_name:  # an alias (Identity, folded bias) of a node's output
        out_name = final.name
    nodes = _prune(b.nodes, out_name)
    if not nodes:
        raise ModelFormatError(f"{path}: the ONNX graph holds no layers")
    mark_functional_calls(graph_nodes, nodes, b.pytorch)
    record_module_paths(graph_nodes, nodes)
    overflowed = next((n for n in nodes if not all(
        np.all(np.isfinite(a)) for a in (n.layer.native_params() or ()))), None)
    if overflowed is not None:  # a chain of Mul by 1e30 folded into a MatMul gave it inf
        # weights: loaded, shown by 'lrp info', converted into a file no reader opens
        raise ModelFormatError(f"{path}: node '{short(overflowed.name)}': its parameters, with "
                               "the constants folded into them (Mul, Div, BatchNormalization), "
                               "are not finite")
    outputs = {n.output for n in nodes}
    empty = next((n for n in nodes if n.output in b.data and 0 in b.data[n.output].shape), None)
    if empty is not None:  # e.g. a Gemm of 0 units: explaining it ended in an internal error
        raise ModelFormatError(f"{path}: node '{short(empty.name)}' outputs an empty tensor "
                               f"(shape {brief(list(b.data[empty.output].shape))})")
    values = sum(math.prod(t.shape) for name, t in b.data.items() if name in outputs)
    if values > MAX_ACTIVATION_VALUES:  # a 1-KB graph of doubling Concats asked for 100 GB
        raise ModelFormatError(f"{path}: its layers' outputs hold {values:,} values per sample, "
                               f"more than {MAX_ACTIVATION_VALUES:,}; not a network this "
                               "program can explain")
    if len(sample) == 3:
        # NHWC: a Keras export, whose input reaches a Transpose to NCHW (maybe after a
        # Rescaling's Mul and Add) and is never converted to channels-last by the importer
        nhwc = nhwc or (b.relabelled_nhwc and inp.name not in b._cl)
        if nhwc:
            layout, raw = "NHWC", tuple(sample)
        else:
            layout, raw = "NCHW", (sample[1], sample[2], sample[0])
    else:
        layout, raw = "flat", tuple(sample)
    spec = onnx_input_spec(sample, raw, layout)
    # a crafted producer name may be megabytes: `lrp info` printed it whole, convert stored it
    meta = {"provenance": {"imported_from": "onnx",
                           "producer": short(proto.producer_name, 200) or None,
                           "opset": int(opset)}}
    if final.storage == "cl":  # declared N×K×H×W (N×K×L), computed channels last
        meta["output_layout"] = "NCL" if final.seq else "NCHW"
    try:
        model = GraphModel(nodes, inp.name, out_name, spec, meta, source=path)
        model.shapes()  # a Concat of 6×6 and 8×8 maps loaded, and explaining blamed the input
    except LRPError as exc:  # e.g. two nodes writing one tensor: the message lacks the file
        raise ModelFormatError(f"{path}: {error_line(exc, 400)}") from None
    return model
