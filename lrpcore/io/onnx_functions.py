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
MAX_DEPTH = 64  # functions calling functions (a real export: the module tree's depth, ~10)


def _inlined_size(proto, limit, path) -> int:
    """The number of operators inlining writes, refused beyond ``limit`` (a few functions
    calling each other twice over describe 2⁴⁰ operators in a kilobyte), on a cycle or beyond
    ``MAX_DEPTH`` nested calls (the inliner recurses). Iterative: 3,000 functions each calling
    the next ended in a RecursionError."""
    functions = {(f.domain, f.name): f for f in proto.functions}

    def callees(key):
        return [(n.domain, n.op_type) for n in functions[key].node
                if (n.domain, n.op_type) in functions]

    sizes, depths, open_ = {}, {}, set()  # open_: entered, callees not all sized yet
    for root in functions:
        stack = [root]
        while stack:
            key = stack[-1]
            if key in sizes:
                stack.pop()
                continue
            waiting = [c for c in callees(key) if c not in sizes]
            if key not in open_:
                open_.add(key)
                cycle = next((c for c in waiting if c in open_), None)
                if cycle is not None:
                    raise ModelFormatError(f"{path}: local function '{short(cycle[0], 60)}."
                                           f"{short(cycle[1], 60)}' calls itself")
                stack.extend(waiting)
                continue
            open_.discard(key)
            stack.pop()
            total = 0
            for node in functions[key].node:
                callee = (node.domain, node.op_type)
                total = min(total + sizes.get(callee, 1), limit + 1)
            sizes[key] = total
            depths[key] = 1 + max((depths[c] for c in callees(key)), default=0)
            if depths[key] > MAX_DEPTH:
                raise ModelFormatError(f"{path}: its local functions call each other more "
                                       f"than {MAX_DEPTH} levels deep")
    total = sum(sizes.get((n.domain, n.op_type), 1) for n in proto.graph.node)
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
