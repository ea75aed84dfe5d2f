"""The LRP Toolbox's plain-text model format (shared with its MATLAB version).

One block per layer: a header line (``Linear m n``, ``Convolution h w d n s0 s1``,
``SumPool h w s0 s1``, ``MaxPool h w s0 s1``, ``Rect``, ``Tanh``, ``SoftMax``, ``Flatten``),
then for weighted layers the weights and the biases. The current toolbox writes all weights
on one line; a legacy writer put one weight row per line. Both are read by collecting number
tokens line by line until the expected count is reached.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from ..errors import ModelFormatError
from ..fileio import read_bytes
from ..layers import Convolution, Flatten, Linear, MaxPool, Rect, SoftMax, SumPool, Tanh
from ..model import Sequential
from .layer_check import check_layer_chain

_PLAIN = {"Rect": Rect, "Tanh": Tanh, "SoftMax": SoftMax, "Flatten": Flatten}
_MAX_ELEMENTS = 1 << 31
MAX_LAYERS = 1000  # far above real networks; keeps shape inference on hostile files fast


class _Lines:
    """Non-empty lines with their 1-based numbers, for error messages."""

    def __init__(self, text, path):
        self.path = path
        # split on "\n" only, so that line numbers match what editors show
        self.items = [(n, line.strip()) for n, line in enumerate(text.split("\n"), 1)
                      if line.strip()]
        self.tokens_left = len(text.split())
        self.pos = 0

    def done(self):
        return self.pos >= len(self.items)

    def next(self, what):
        if self.done():
            last = self.items[-1][0] if self.items else None
            raise self.error(last, f"file ends after this line where {what} was expected "
                             "(truncated?)")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def error(self, lineno, problem):
        where = f"{self.path}, line {lineno}" if lineno else f"{self.path}"
        return ModelFormatError(f"{where}: {problem}")

    def numbers(self, count, what):
        """Read ``count`` numbers, spread over one or more lines."""
        values = []
        if count > self.tokens_left:  # fail fast on headers claiming huge sizes
            lineno = self.items[self.pos - 1][0] if self.pos else None
            raise self.error(lineno, f"{what}: expected {count} numbers, but only "
                             f"{self.tokens_left} words are left in the file (truncated or "
                             "wrong sizes?)")
        while len(values) < count:
            lineno, line = self.next(what)
            tokens = line.split()
            self.tokens_left -= len(tokens)
            if tokens[0] in _KNOWN:
                raise self.error(lineno, f"{what}: expected {count} numbers, found {len(values)} "
                                 f"before the next layer '{tokens[0]}'")
            try:
                row = [float(_unwrap(t)) for t in tokens]
            except ValueError:
                bad = next(t for t in tokens if not _is_float(_unwrap(t)))
                raise self.error(lineno, f"{what}: {bad!r} is not a number") from None
            if not all(math.isfinite(v) for v in row):  # name the line, also in the legacy form
                bad = next(t for t, v in zip(tokens, row, strict=True) if not math.isfinite(v))
                raise self.error(lineno, f"{what} contain NaN or infinite values ({bad!r})")
            values.extend(row)
            if len(values) > count:
                raise self.error(lineno, f"{what}: expected {count} numbers, found "
                                 f"{len(values)} by the end of this line")
        return np.array(values, dtype=np.float64)


_NUMPY_SCALAR = re.compile(r"np\.float(?:16|32|64)\(([^()]*)\)\Z")


def _unwrap(token: str) -> str:
    """The number inside ``np.float64(0.066)``: how the toolbox's own writer, run on numpy ≥ 2
    (scalar repr changed), writes numbers. Only that exact form is read; nothing is evaluated."""
    m = _NUMPY_SCALAR.match(token)
    return m.group(1) if m else token


def _is_float(t):
    try:
        float(t)
        return True
    except ValueError:
        return False


def _read_linear(lines, lineno, tokens):
    m, n = _ints(lines, lineno, tokens, 2, "Linear")
    W = lines.numbers(m * n, f"weights of Linear {m} {n}").reshape(m, n)
    B = lines.numbers(n, f"biases of Linear {m} {n}")
    return Linear(W, B)


def _read_convolution(lines, lineno, tokens):
    h, w, d, n, s0, s1 = _ints(lines, lineno, tokens, 6, "Convolution")
    W = lines.numbers(h * w * d * n, f"filters of Convolution (line {lineno})")
    B = lines.numbers(n, f"biases of Convolution (line {lineno})")
    return Convolution(W.reshape(h, w, d, n), B, (s0, s1))


def _pool_reader(cls):
    def read(lines, lineno, tokens):
        h, w, s0, s1 = _ints(lines, lineno, tokens, 4, cls.kind)
        return cls((h, w), (s0, s1))

    return read


def _write_linear(layer):
    return [f"Linear {layer.m} {layer.n}", _fmt(layer.W), _fmt(layer.B)]


def _write_convolution(layer):
    h, w, d, n = layer.W.shape
    return [f"Convolution {h} {w} {d} {n} {layer.stride[0]} {layer.stride[1]}",
            _fmt(layer.W), _fmt(layer.B)]


def _write_pool(layer):
    return [f"{layer.kind} {layer.pool[0]} {layer.pool[1]} {layer.stride[0]} "
            f"{layer.stride[1]}"]


# the toolbox text format, by its layer names: the lines after the name, read and written
_READERS = {"Linear": _read_linear, "Convolution": _read_convolution,
            "SumPool": _pool_reader(SumPool), "MaxPool": _pool_reader(MaxPool)}
_WRITERS = {Linear: _write_linear, Convolution: _write_convolution, SumPool: _write_pool,
            MaxPool: _write_pool, **{cls: (lambda layer: [layer.kind]) for cls in
                                     _PLAIN.values()}}
_KNOWN = {*_READERS, *_PLAIN}


def _ints(lines, lineno, tokens, count, kind):
    if len(tokens) != count + 1:
        raise lines.error(lineno, f"'{kind}' needs {count} whole numbers, got "
                          f"{' '.join(tokens[1:]) or 'none'}")
    try:
        vals = [int(t) for t in tokens[1:]]
    except ValueError:
        raise lines.error(lineno, f"'{kind}' sizes must be whole numbers, got "
                          f"{' '.join(tokens[1:])}") from None
    if any(v <= 0 for v in vals):
        raise lines.error(lineno, f"'{kind}' sizes must be positive, got {vals}")
    if math.prod(vals) > _MAX_ELEMENTS:
        raise lines.error(lineno, f"'{kind}' sizes {vals} are implausibly large")
    return vals


def parse_toolbox_text(text: str, path: str = "<text>") -> list:
    """Parse the text of a toolbox model file into a list of layers.

    Errors (ModelFormatError) name ``path`` and the line; layers that cannot fit together
    (e.g. Linear 3→4 then Linear 5→2) are refused too.
    """
    lines = _Lines(text, path)
    layers, linenos = [], []
    while not lines.done():
        lineno, line = lines.next("a layer")
        tokens = line.split()
        lines.tokens_left -= len(tokens)
        if len(layers) >= MAX_LAYERS:
            raise lines.error(lineno, f"more than {MAX_LAYERS} layers; not a model this "
                              "program can use")
        kind = tokens[0]
        linenos.append(lineno)
        if kind in _PLAIN:
            if len(tokens) != 1:
                raise lines.error(lineno, f"'{kind}' takes no parameters, got {line!r}")
            layers.append(_PLAIN[kind]())
        elif kind in _READERS:
            layers.append(_READERS[kind](lines, lineno, tokens))
        else:
            raise lines.error(lineno, f"unknown layer type {kind[:40]!r} (known: "
                              f"{', '.join(sorted(_KNOWN))})")
    if not layers:
        raise lines.error(None, "no layers found (empty file?)")
    check_layer_chain(layers, lambda i: f"{path}, line {linenos[i]}")
    return layers


def read_toolbox_txt(path) -> Sequential:
    """Read a toolbox ``.txt`` model; errors name the file and line."""
    path = os.fspath(path)
    raw = read_bytes(path, ModelFormatError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ModelFormatError(f"{path}, line {line}: not a text model file (byte {exc.start} "
                               "is not UTF-8 text)") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ModelFormatError(f"{path}, line {line}: not a text model file (contains NUL "
                               "bytes)")
    return Sequential(parse_toolbox_text(text, path), source=path)


def _fmt(a) -> str:
    # repr of a Python float is the shortest string that round-trips, as the toolbox writes it
    return " ".join(repr(float(v)) for v in np.asarray(a, dtype=np.float64).ravel())


def format_toolbox_text(model) -> str:
    """The toolbox's text form of a model (round-trips bit-exactly through the reader)."""
    out = []
    for layer in model.layers:
        write = _WRITERS.get(type(layer))  # exact classes: a MeanPool is no SumPool here
        if write is None:
            raise ModelFormatError(f"layer type {layer.kind} has no toolbox text form")
        out += write(layer)
    return "\n".join(out) + "\n"


def write_toolbox_txt(model, path, dtype=None, overwrite=True) -> None:
    """Write a model in the toolbox's text form (atomically; ``dtype`` rounds parameters)."""
    from ..fileio import atomic_write_text

    if dtype is not None:
        model = _with_dtype(model, dtype)
    atomic_write_text(path, format_toolbox_text(model), overwrite=overwrite)


def _with_dtype(model, dtype):
    import copy

    out = copy.copy(model)
    out.layers = []
    for layer in model.layers:
        if getattr(layer, "weighted", False):
            layer = copy.copy(layer)
            layer._device_cache = {}
            layer.W = np.asarray(layer.W, dtype=dtype)
            layer.B = np.asarray(layer.B, dtype=dtype)
        out.layers.append(layer)
    return out
