"""Element-wise activations that exporters write as several operators (GELU as Div, Erf, Add,
Mul, Mul; Softsign as Abs, Add, Div; Mish as Softplus, Tanh, Mul; Softplus with its threshold
as Greater and Where) or as one operator this engine has no kind for (Gelu, Softplus, Celu,
Mish, Softsign).

zennit's composites pass relevance through every activation module (its ``Activation`` type
includes GELU, Softplus, Softsign, Mish's parts, CELU, Tanh, LogSigmoid), so the importer folds
such a group of operators, all computed from one tensor, into one :class:`Elementwise` node
with the role ``pass``. The node keeps the operators as a small program (the forward pass, its
derivative for gradients, the native format) instead of one class per composite activation:
exporters differ in how they split each one.

A program is a list of steps ``[op, operand, ...]``; an operand is ``"x"`` (the node's input),
the index of an earlier step, or a number. The last step is the output.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ShapeError
from .layers import Activation, register_layer

MAX_STEPS = 64


def _erf(x, xp):
    if xp is np:
        from scipy.special import erf

        return erf(x)
    from cupyx.scipy.special import erf  # pragma: no cover - GPU only

    return erf(x)


def _sigmoid(x, xp):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


def _softplus(x, xp):
    return xp.logaddexp(0, x)


def _celu(a, alpha, xp):
    return xp.maximum(a, 0) + xp.minimum(0, alpha * xp.expm1(xp.minimum(a, 0) / alpha))


# op: (arity, value(args, xp), derivative(args, dargs, value, xp)); args are arrays or numbers
OPS = {
    "add": (2, lambda a, xp: a[0] + a[1], lambda a, d, v, xp: d[0] + d[1]),
    "sub": (2, lambda a, xp: a[0] - a[1], lambda a, d, v, xp: d[0] - d[1]),
    "mul": (2, lambda a, xp: a[0] * a[1], lambda a, d, v, xp: d[0] * a[1] + a[0] * d[1]),
    "div": (2, lambda a, xp: a[0] / a[1],
            lambda a, d, v, xp: (d[0] - v * d[1]) / a[1]),
    "pow": (2, lambda a, xp: a[0] ** a[1],  # exponent: a number
            lambda a, d, v, xp: a[1] * a[0] ** (a[1] - 1) * d[0]),
    "gt": (2, lambda a, xp: (a[0] > a[1]) * 1.0, lambda a, d, v, xp: 0 * v),
    "lt": (2, lambda a, xp: (a[0] < a[1]) * 1.0, lambda a, d, v, xp: 0 * v),
    "where": (3, lambda a, xp: xp.where(a[0] != 0, a[1], a[2]),
              lambda a, d, v, xp: xp.where(a[0] != 0, d[1], d[2])),
    "neg": (1, lambda a, xp: -a[0], lambda a, d, v, xp: -d[0]),
    "abs": (1, lambda a, xp: xp.abs(a[0]), lambda a, d, v, xp: xp.sign(a[0]) * d[0]),
    "exp": (1, lambda a, xp: xp.exp(a[0]), lambda a, d, v, xp: v * d[0]),
    "log": (1, lambda a, xp: xp.log(a[0]), lambda a, d, v, xp: d[0] / a[0]),
    "sqrt": (1, lambda a, xp: xp.sqrt(a[0]), lambda a, d, v, xp: d[0] / (2 * v)),
    "reciprocal": (1, lambda a, xp: 1 / a[0], lambda a, d, v, xp: -d[0] * v * v),
    "erf": (1, lambda a, xp: _erf(a[0], xp),
            lambda a, d, v, xp: 2 / math.sqrt(math.pi) * xp.exp(-a[0] * a[0]) * d[0]),
    "tanh": (1, lambda a, xp: xp.tanh(a[0]), lambda a, d, v, xp: (1 - v * v) * d[0]),
    "sigmoid": (1, lambda a, xp: _sigmoid(a[0], xp), lambda a, d, v, xp: v * (1 - v) * d[0]),
    "relu": (1, lambda a, xp: xp.maximum(a[0], 0), lambda a, d, v, xp: (a[0] > 0) * d[0]),
    "softplus": (1, lambda a, xp: _softplus(a[0], xp),
                 lambda a, d, v, xp: _sigmoid(a[0], xp) * d[0]),
    "celu": (2, lambda a, xp: _celu(a[0], a[1], xp),  # α: a number
             lambda a, d, v, xp: xp.where(a[0] > 0, 1, xp.exp(xp.minimum(a[0], 0) / a[1]))
             * d[0]),
}


# operators defined on part of the reals: what they take (a NaN or ±inf from finite operands
# is blamed on its input, not on input values too large)
DOMAINS = {
    "log": "positive numbers",
    "sqrt": "numbers ≥ 0",
    "pow": "numbers ≥ 0 for a fractional exponent, nonzero ones for a negative exponent",
    "div": "a nonzero divisor",
    "reciprocal": "nonzero numbers",
}


def _refs(step):
    return [o for o in step[1:] if isinstance(o, int) or o == "x"]


def check_program(program) -> list:
    """The program as lists of (op, operands), checked: known ops, their arity, operands that
    are the input, an earlier step or a finite number. Raises ShapeError otherwise."""
    if not isinstance(program, (list, tuple)) or not 1 <= len(program) <= MAX_STEPS:
        raise ShapeError(f"an element-wise program needs 1…{MAX_STEPS} steps")
    out = []
    for k, step in enumerate(program):
        if not isinstance(step, (list, tuple)) or not step or not isinstance(step[0], str) \
                or step[0] not in OPS:
            raise ShapeError(f"element-wise step {k}: unknown operation {str(step)[:40]}")
        op, operands = step[0], list(step[1:])
        if len(operands) != OPS[op][0]:
            raise ShapeError(f"element-wise step {k}: {op} takes {OPS[op][0]} operands")
        clean = []
        for o in operands:
            if o == "x":
                clean.append("x")
            elif isinstance(o, bool):
                raise ShapeError(f"element-wise step {k}: operand {o!r}")
            elif isinstance(o, int) and 0 <= o < k:
                clean.append(int(o))
            elif isinstance(o, float) and math.isfinite(o):
                clean.append(float(o))
            else:
                raise ShapeError(f"element-wise step {k}: operand {str(o)[:20]} is neither x, "
                                 "an earlier step nor a finite number")
        if not any(isinstance(o, int) or o == "x" for o in clean):
            raise ShapeError(f"element-wise step {k}: {op} of numbers only")
        if op in ("pow", "celu") and not isinstance(clean[1], float):
            raise ShapeError(f"element-wise step {k}: {op}'s second operand must be a number")
        if op == "celu" and clean[1] == 0:  # ONNX's formula divides by it: NaN, not a ReLU
            raise ShapeError(f"element-wise step {k}: celu's alpha must not be 0")
        out.append([op, *clean])
    return out


def run_program(program, x, xp, derivative=False):
    """The program's value at ``x`` (and, with ``derivative``, d value / dx)."""
    values, slopes = [], []
    for step in program:
        op, operands = step[0], step[1:]
        args = [x if o == "x" else values[o] if isinstance(o, int) else o for o in operands]
        with np.errstate(all="ignore"):
            v = OPS[op][1](args, xp)
            values.append(v)
            if derivative:
                d = [1.0 if o == "x" else slopes[o] if isinstance(o, int) else 0.0
                     for o in operands]
                slopes.append(OPS[op][2](args, d, v, xp))
    return (values[-1], slopes[-1]) if derivative else values[-1]


def describe_step(k, step) -> str:
    def name(o):
        return "x" if o == "x" else f"t{o}" if isinstance(o, int) else f"{o:g}"
    return f"t{k}={step[0]}({', '.join(name(o) for o in step[1:])})"


def describe_program(program) -> str:
    return "; ".join(describe_step(k, s) for k, s in enumerate(program))


def domain_problem(program, x, xp) -> str | None:
    """The first step of :data:`DOMAINS` that makes NaN or ±inf of finite operands, as words
    (None: no such step)."""
    values = []
    with np.errstate(all="ignore"):
        for k, step in enumerate(program):
            args = [x if o == "x" else values[o] if isinstance(o, int) else o
                    for o in step[1:]]
            v = OPS[step[0]][1](args, xp)
            values.append(v)
            if step[0] in DOMAINS and all(bool(xp.all(xp.isfinite(xp.asarray(a))))
                                          for a in args) \
                    and not bool(xp.all(xp.isfinite(v))):
                return (f"the input of {step[0]} (step {describe_step(k, step)}) was out "
                        f"of its domain: {step[0]} takes {DOMAINS[step[0]]}")
    return None


@register_layer
class Elementwise(Activation):
    """An element-wise function given as a program of ONNX's element-wise operators (GELU,
    Softplus, Softsign, Mish, CELU, LogSigmoid, ...); relevance passes through unchanged, as
    zennit passes it through activation modules."""

    kind = "Elementwise"
    onnx_ops = ("Erf", "Abs", "Exp", "Log", "Sqrt", "Neg", "Reciprocal", "Pow", "Softplus",
                "Softsign", "Celu", "Gelu", "Greater", "Less", "Where",
                "Add", "Sub", "Mul", "Div", "Tanh", "Sigmoid")  # as steps of one

    def __init__(self, program, name=None):
        super().__init__()
        self.program = check_program(program)
        self.name = None if name is None else str(name)[:40]
        with np.errstate(all="ignore"):
            at_zero = run_program(self.program, np.zeros(1), np)
        self.pass_through = bool(np.all(at_zero == 0))  # a zero border stays zero through it

    def forward(self, x, xp):
        out = run_program(self.program, x, xp)
        if np.ndim(out) == 0 or out.shape != x.shape:  # e.g. a program that ignores x
            out = xp.broadcast_to(out, x.shape)
        return xp.asarray(out, dtype=x.dtype)

    def gradient(self, x, y, g, xp, dtype):
        _, slope = run_program(self.program, x, xp, derivative=True)
        return g * slope

    def domain_problem(self, x, xp):
        return domain_problem(self.program, x, xp)

    def native_fields(self):
        fields = {"program": [list(s) for s in self.program]}
        if self.name:
            fields["name"] = self.name
        return fields

    @classmethod
    def from_native(cls, f):
        name = f.spec.get("name")
        return cls(f.spec.get("program"), name if isinstance(name, str) else None)

    def describe(self):
        return f"{self.name or 'Elementwise'} ({describe_program(self.program)})"
