"""ONNX local functions, inlined: ``torch.onnx.export(..., export_modules_as_functions=True)``.

The TorchScript exporter then writes each module as a function whose domain and name are its
class (``torch.nn.modules.activation.ReLU``, ``mymodels.BasicBlock``, ``BasicBlock.1`` for a
second variant), and the graph as one call of the model's function. The graph importer reads
operators, so the calls are inlined first (``onnx.inliner``); each operator keeps, as the
``dynamo=True`` exporter records it, the class of the module it was written in
(``pkg.torch.onnx.class_hierarchy``): an activation or pool written by a module zennit hooks is
a module's, one written in a block's ``forward`` (``F.relu``) is a functional call
(:func:`~lrpcore.io.onnx_graph.mark_functional_calls`). Function names would say no more than
this, so the inlined operators are named as the inliner names them.
"""

from __future__ import annotations

import re

from ..errors import ModelFormatError
from ..text import short

CLASS_HIERARCHY = "pkg.torch.onnx.class_hierarchy"
VARIANT = re.compile(r"[.]\d+$")  # BasicBlock.1: a second function of one class


def _inlined_size(proto, limit, path) -> int:
    """The number of operators inlining writes, refused beyond ``limit`` (a few functions
    calling each other twice over describe 2⁴⁰ operators in a kilobyte) or on a cycle."""
    functions = {(f.domain, f.name): f for f in proto.functions}
    sizes, open_ = {}, set()

    def size(key):
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ModelFormatError(f"{path}: local function '{short(key[0], 60)}."
                                   f"{short(key[1], 60)}' calls itself")
        open_.add(key)
        total = 0
        for node in functions[key].node:
            callee = (node.domain, node.op_type)
            total += size(callee) if callee in functions else 1
            if total > limit:
                break
        open_.discard(key)
        sizes[key] = total
        return total

    total = 0
    for node in proto.graph.node:
        callee = (node.domain, node.op_type)
        total += size(callee) if callee in functions else 1
        if total > limit:
            raise ModelFormatError(f"{path}: its local functions inline to more than {limit:,} "
                                   "operators; not a network this program reads")
    return total


def module_class(function) -> str:
    """The PyTorch class a TorchScript export's function stands for: its domain and name, a
    variant's ``.1`` suffix dropped."""
    return f"{function.domain}.{re.sub(VARIANT, '', function.name)}"


def inline_functions(onnx, proto, path, limit):
    """``proto`` with its local functions inlined, each operator marked with the class of the
    module whose function wrote it; ``proto`` itself where it has none."""
    if not proto.functions:
        return proto
    _inlined_size(proto, limit, path)
    try:
        from onnx import inliner
    except ImportError:
        raise ModelFormatError(f"{path}: the model is written as local functions (PyTorch's "
                               "export_modules_as_functions); reading them needs onnx 1.16 "
                               "or later (pip install -U onnx)") from None
    for function in proto.functions:
        cls = module_class(function)
        for node in function.node:
            for prop in list(node.metadata_props):
                if prop.key == CLASS_HIERARCHY:
                    node.metadata_props.remove(prop)
            node.metadata_props.add(key=CLASS_HIERARCHY,
                                    value=repr(["", cls, node.op_type]))
    try:
        return inliner.inline_local_functions(proto)
    except Exception as exc:  # noqa: BLE001 - onnx's C++ inliner raises various types
        raise ModelFormatError(f"{path}: its local functions cannot be inlined "
                               f"({type(exc).__name__}: {short(str(exc), 200)})") from None
