"""The axes an operator names (Concat's axis, Unsqueeze's axes, a Slice's axes input …)
checked against the rank of its data, as ONNX defines them: −r … r−1, each axis once.

The operators' readers take an axis modulo the rank (Python's ``%``), so Concat along axis 5
of a 4-D map was read as along axis 1 and an Unsqueeze at axis 7 as one at axis 2: a file
that onnx.checker and every runtime refuse was loaded and explained. An axis is checked here,
once, before the operator's reader sees it; a reader still says which of the valid axes it
supports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import brief, short


@dataclass(frozen=True)
class AxesOf:
    """Where an operator keeps its axes: an attribute (``attribute``), or from some opset on an
    input (``input``, its index); ``added``: numbered among its output's axes (Unsqueeze's
    new axes), not its input's."""

    attribute: str | None = "axes"
    input: int | None = None
    added: bool = False


REDUCTIONS = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
AXES = {
    "Concat": AxesOf("axis"),
    "Gather": AxesOf("axis"),
    "Split": AxesOf("axis"),
    "Squeeze": AxesOf("axes", 1),
    "Unsqueeze": AxesOf("axes", 1, added=True),
    "Slice": AxesOf(None, 3),
    "Pad": AxesOf(None, 3),
    **{op: AxesOf("axes", 1) for op in REDUCTIONS},
}


def _data_rank(t):
    """The ONNX rank of engine tensor ``t`` where its storage tells it, else None."""
    from .onnx_graph import _rank  # noqa: PLC0415
    from .onnx_repeat import REPEATING  # noqa: PLC0415
    from .onnx_stack import STACKED  # noqa: PLC0415

    if t.storage in ("cl", "same", REPEATING):
        return _rank(t)
    if t.storage == "picked":  # x[:, c], N×H×W, kept as the one-channel map it came from
        return _rank(t) - 1
    return _rank(t) + 1 if t.storage == STACKED else None  # the stacking axis is the last


def _given(b, node, attrs, where, spec):
    """The axes as the file gives them (a list of ints), or None when it gives none or they
    are not a constant (the operator's reader refuses that in its own words)."""
    if spec.attribute is not None and spec.attribute in attrs:
        value = attrs[spec.attribute]
    elif spec.input is not None and len(node.input) > spec.input \
            and node.input[spec.input] in b.consts:
        value = b.indices(node.input[spec.input], where, f"{node.op_type}'s axes")
    else:
        return None
    return [int(a) for a in np.atleast_1d(np.asarray(value)).ravel()]


def _rank_of(b, node):
    """The ONNX rank of the tensor whose axes ``node`` names (its first input; Concat's
    inputs are of one rank), data or a constant (shape arithmetic), or None if not known."""
    names = [n for n in node.input if n] if node.op_type == "Concat" else node.input[:1]
    for name in names:
        if name in b.data:
            return _data_rank(b.data[name])
        if name in b.consts:  # the fold concatenates scalars as 1-D (TorchScript's shapes)
            return max(np.ndim(b.consts[name]), node.op_type == "Concat")
    return None


def check(b, node, attrs, where) -> None:
    """Refuse an axis of ``node`` outside its input's rank, or one named twice; a Transpose's
    perm that is no order of its input's axes."""
    if node.op_type == "Transpose" and "perm" in attrs:
        _check_perm(b, node, attrs, where)
    spec = AXES.get(node.op_type)
    if spec is None:
        return
    rank = _rank_of(b, node)
    axes = None if rank is None else _given(b, node, attrs, where, spec)
    if not axes:
        return
    op = short(node.op_type, 40)
    if spec.added:
        rank += len(axes)
    of = f"its {rank}-dimensional {'output' if spec.added else 'input'}"
    for a in axes:
        if not -rank <= a < rank:
            b.fail(where, f"{op}'s axis {a} is not an axis of {of} (-{rank} … {rank - 1}, "
                          "as ONNX numbers them; every runtime refuses this file)")
    named = [a % rank for a in axes]
    if len(set(named)) != len(named):
        b.fail(where, f"{op}'s axes {brief(axes)} name one axis of {of} twice (every runtime "
                      "refuses this file)")


def _check_perm(b, node, attrs, where) -> None:
    """A Transpose's perm names each axis of its input once (a repeat's Transpose [0, 1, 1,
    3, 4] was refused as one that 'must keep the batch axis first')."""
    rank = _rank_of(b, node)
    perm = [int(p) for p in np.atleast_1d(attrs["perm"])]
    if rank is not None and sorted(perm) != list(range(rank)):
        b.fail(where, f"Transpose's perm {brief(perm)} is not an order of the axes of its "
                      f"{rank}-dimensional input (each of 0 … {rank - 1} once; every runtime "
                      "refuses this file)")
