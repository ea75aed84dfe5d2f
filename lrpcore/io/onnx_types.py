"""ONNX element types followed through a graph, checked as ONNX's checker and every runtime
check them.

The engine computes every tensor in its own dtype, so the importer drops the types a file
declares. A file whose float16 weights feed a float32 Conv was read and explained, where
``onnx.checker`` and onnxruntime refuse it ("W has inconsistent type tensor(float16)"): no
exporter writes such a file (a float16 export declares a float16 input, or casts its float32
input first), so it is a damaged or hand-edited model, and its heatmaps would be of a model no
runtime runs. Each operator's schema binds its inputs to type parameters (Conv's X, W and B are
all ``T``); inputs bound to one parameter must be of one type, and an input of a fixed type
(Resize's scales: float) must be of that type. Floating types are compared before the
operator is read; an integer where a float belongs (quantised weights, indices written as
floats) after it, so that the operator's own reader, which says what it is, refuses it first
(an integer constant added to float32 data was read as floats). Types not known (an operator
the schema does not describe, a placeholder of a fused Keras norm) are not checked.
"""

from __future__ import annotations

from ..text import short
from .onnx_import import _onnx


def type_name(code: int) -> str:
    """A readable ONNX element type: ``float32`` for FLOAT, ``float64`` for DOUBLE."""
    onnx, _ = _onnx()
    names = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64"}
    if code in names:
        return names[code]
    try:
        return onnx.TensorProto.DataType.Name(code).lower()
    except ValueError:
        return f"ONNX type {code}"


def _literal(type_str: str):
    """The element type of a fixed type string (``tensor(float)``), or None."""
    if not (type_str.startswith("tensor(") and type_str.endswith(")")):
        return None
    inner = type_str[len("tensor("):-1]
    onnx, _ = _onnx()
    try:
        return onnx.TensorProto.DataType.Value(inner.upper())
    except ValueError:
        return None


def is_floating(code) -> bool:
    """Whether ONNX element type ``code`` is a floating one (FLOAT, FLOAT16, DOUBLE, BFLOAT16)."""
    return type_name(code) in FLOATING


FLOATING = ("float16", "float32", "float64", "bfloat16")
INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def is_number_type(code) -> bool:
    """Whether ONNX element type ``code`` holds real numbers (no strings, bools, complex)."""
    return is_floating(code) or type_name(code) in INTEGERS


def _bound(schema, k):
    """The formal parameter of a node's input (or output) ``k``: a variadic last parameter
    takes every later one."""
    onnx, _ = _onnx()
    params = schema.inputs
    if k < len(params):
        return params[k]
    last = params[-1] if params else None
    if last is not None and last.option == onnx.defs.OpSchema.FormalParameterOption.Variadic:
        return last
    return None


class ElementTypes:
    """The element type of each tensor of a graph as far as the file declares it."""

    def __init__(self):
        self.of: dict[str, int] = {}

    def declare(self, name, code) -> None:
        if name and code:
            self.of[name] = int(code)

    def check(self, node, schema, fail, floating_only=True) -> None:
        """Refuse (``fail(text)``) a node whose inputs bound to one type parameter differ in
        type, or an input of a fixed type given another; ``floating_only``: only where every
        type compared is a floating one."""
        onnx, _ = _onnx()
        seen: dict[str, tuple[str, int]] = {}
        for k, name in enumerate(node.input):
            code = self.of.get(name) if name else None
            known = code is not None and (is_floating(code) or not floating_only)
            param = _bound(schema, k) if known else None
            if param is None:
                continue
            if param.option == onnx.defs.OpSchema.FormalParameterOption.Variadic \
                    and not param.is_homogeneous:
                continue
            fixed = _literal(param.type_str)
            if fixed is not None:
                if code != fixed and (is_floating(fixed) or not floating_only):
                    role = "" if name == param.name else f" ({param.name})"
                    fail(f"its input '{short(name)}'{role} is {type_name(code)}; "
                         f"{short(node.op_type, 40)} takes {type_name(fixed)} there, as ONNX "
                         "defines it (every runtime refuses this file)")
                continue
            first = seen.setdefault(param.type_str, (name, code))
            if first[1] != code and (not floating_only or is_floating(first[1])):
                fail(f"its inputs '{short(first[0])}' ({type_name(first[1])}) and "
                     f"'{short(name)}' ({type_name(code)}) must be of one type, as ONNX "
                     f"defines {short(node.op_type, 40)} (every runtime refuses this file): "
                     "export the whole model in one precision, or cast between them")

    def record(self, node, schema, attrs) -> None:
        """The types of the node's outputs, where its schema or its attributes give them."""
        op = node.op_type
        bound = {}
        for k, name in enumerate(node.input):
            param = _bound(schema, k) if schema is not None else None
            if name in self.of and param is not None:
                bound.setdefault(param.type_str, self.of[name])
        for k, out in enumerate(node.output):
            self.of.pop(out, None)
            code = None
            if op == "Cast" and k == 0:
                code = attrs.get("to")
            elif op == "CastLike" and k == 0 and len(node.input) > 1:
                code = self.of.get(node.input[1])
            elif op == "Constant" and k == 0:
                code = _constant_type(attrs)
            elif schema is not None and k < len(schema.outputs):
                type_str = schema.outputs[k].type_str
                code = _literal(type_str) or bound.get(type_str)
            if isinstance(code, int):
                self.declare(out, code)


def _constant_type(attrs):
    onnx, _ = _onnx()
    value = attrs.get("value")
    if isinstance(value, onnx.TensorProto):
        return value.data_type
    if "value_float" in attrs or "value_floats" in attrs:
        return onnx.TensorProto.FLOAT
    if "value_int" in attrs or "value_ints" in attrs:
        return onnx.TensorProto.INT64
    return None
