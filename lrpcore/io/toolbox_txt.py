"""The LRP Toolbox's plain-text model format (shared with its MATLAB version).

One block per layer: a header line (``Linear m n``, ``Convolution h w d n s0 s1``,
``SumPool h w s0 s1``, ``MaxPool h w s0 s1``, ``Rect``, ``Tanh``, ``SoftMax``, ``Flatten``),
then for weighted layers the weights and the biases. The current toolbox writes all weights
on one line; a legacy writer put one weight row per line. Both are read by collecting number
tokens line by line until the expected count is reached.
"""

from __future__ import annotations

import array
import math
import os
import re

import numpy as np

from ..errors import ModelFormatError
from ..fileio import read_bytes
from ..layers import Convolution, Flatten, Linear, MaxPool, Rect, SoftMax, SumPool, Tanh
from ..model import Sequential
from ..text import is_digits
from .layer_check import check_layer_chain

_PLAIN = {"Rect": Rect, "Tanh": Tanh, "SoftMax": SoftMax, "Flatten": Flatten}
_MAX_ELEMENTS = 1 << 31
MAX_LAYERS = 1000  # far above real networks; keeps shape inference on hostile files fast


class _Lines:
    """Non-empty lines with their 1-based numbers, for error messages, read one at a time:
    a 60 MB file of 30 million one-word lines held 3.9 GB as a list of lines and tokens."""

    def __init__(self, text, path):
        self.path, self.text = path, text
        self.at, self.lineno = 0, 0  # where the next line starts, and its number - 1
        self.last = None  # number of the last non-empty line handed out
        self.ahead = self._read()
        # each word takes a character and a separator: an upper bound, counted without
        # splitting the whole file
        self.tokens_left = (len(text) + 1) // 2

    def _read(self):
        """The next non-empty (number, stripped line), or None at the end of the text."""
        text = self.text
        while self.at <= len(text):
            stop = text.find("\n", self.at)  # "\n" only: line numbers as editors show them
            stop = len(text) if stop < 0 else stop
            line = text[self.at:stop].strip()
            self.at, self.lineno = stop + 1, self.lineno + 1
            if line:
                return self.lineno, line
        return None

    def done(self):
        return self.ahead is None

    def next(self, what):
        if self.done():
            raise self.error(self.last, f"file ends after this line where {what} was expected "
                             "(truncated?)")
        item, self.ahead = self.ahead, self._read()
        self.last = item[0]
        return item

    def error(self, lineno, problem):
        where = f"{self.path}, line {lineno}" if lineno else f"{self.path}"
        return ModelFormatError(f"{where}: {problem}")

    def numbers(self, count, what):
        """Read ``count`` numbers, spread over one or more lines."""
        values = array.array("d")  # 8 bytes a number (a list of floats took 32)
        if count > self.tokens_left:  # fail fast on headers claiming huge sizes
            raise self.error(self.last, f"{what}: expected {count} numbers, but at most "
                             f"{self.tokens_left} words are left in the file (truncated or "
                             "wrong sizes?)")
        while len(values) < count:
            lineno, line = self.next(what)
            # at most one word more than needed: a line of 30 million words is refused
            # without holding them all
            tokens = line.split(None, count - len(values))
            self.tokens_left -= len(tokens)
            if tokens[0] in _KNOWN:
                raise self.error(lineno, f"{what}: expected {count} numbers, found {len(values)} "
                                 f"before the next layer '{tokens[0]}'")
            if len(values) + len(tokens) > count:
                raise self.error(lineno, f"{what}: expected {count} numbers, found more by the "
                                 "end of this line")
            if not line.isascii() or "_" in line:  # float() reads "1_000" and "١" too
                odd = next((t for t in tokens if not _is_float(_unwrap(t))), None)
                if odd is not None:
                    raise self.error(lineno, f"{what}: {odd[:60]!r} is not a number")
            try:
                row = [float(_unwrap(t)) for t in tokens]
            except ValueError:
                bad = next(t for t in tokens if not _is_float(_unwrap(t)))
                raise self.error(lineno, f"{what}: {bad[:60]!r} is not a number") from None
            if not all(math.isfinite(v) for v in row):  # name the line, also in the legacy form
                bad = next(t for t, v in zip(tokens, row, strict=True) if not math.isfinite(v))
                raise self.error(lineno, f"{what} contain NaN or infinite values ({bad[:60]!r})")
            values.extend(row)
        return np.frombuffer(values, dtype=np.float64).copy()


_NUMPY_SCALAR = re.compile(r"np\.float(?:16|32|64)\(([^()]*)\)\Z")


def _unwrap(token: str) -> str:
    """The number inside ``np.float64(0.066)``: how the toolbox's own writer, run on numpy ≥ 2
    (scalar repr changed), writes numbers. Only that exact form is read; nothing is evaluated."""
    m = _NUMPY_SCALAR.match(token)
    return m.group(1) if m else token


def _is_float(t):
    if not t.isascii() or "_" in t:
        return False
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
# what 'lrp convert --help' and the refusal below say the text format holds
TXT_KINDS = ("Linear", "Convolution", "SumPool", "MaxPool", *_PLAIN)


def _ints(lines, lineno, tokens, count, kind):
    if len(tokens) != count + 1:
        raise lines.error(lineno, f"'{kind}' needs {count} whole numbers, got "
                          f"{' '.join(tokens[1:])[:60] or 'none'}")
    # int() also reads "1_0" and other scripts' digits ("١٠"): a size must look like one
    if not all(is_digits(t.removeprefix("-")) for t in tokens[1:]):
        raise lines.error(lineno, f"'{kind}' sizes must be whole numbers, got "
                          f"{' '.join(tokens[1:])[:60]}")
    vals = [int(t) for t in tokens[1:]]
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
        tokens = line.split(None, 8)  # a layer line holds at most 7 words; never split more
        lines.tokens_left -= len(tokens)
        if len(layers) >= MAX_LAYERS:
            raise lines.error(lineno, f"more than {MAX_LAYERS} layers; not a model this "
                              "program can use")
        kind = tokens[0]
        linenos.append(lineno)
        if kind in _PLAIN:
            if len(tokens) != 1:
                raise lines.error(lineno, f"'{kind}' takes no parameters, got {line[:60]!r}")
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


def starts_like_toolbox_text(head: bytes) -> bool:
    """Whether the first bytes of a file begin as a toolbox text model: a first non-empty
    line whose first word is a layer (what :func:`parse_toolbox_text` reads first)."""
    for line in head.decode("utf-8", "replace").split("\n"):
        words = line.split(None, 1)
        if words:
            return words[0] in _KNOWN
    return False


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


def check_txt_writable(model, where=None) -> None:
    """Refuse a model the toolbox's text format cannot hold, naming its first layer that has
    no form there; ``where`` (the file to write) starts the message. ``lrp convert`` asks
    before it checks the output's folder and sidecar, which were refused first."""
    names = getattr(model, "node_names", None)
    for k, layer in enumerate(model.layers):
        if type(layer) not in _WRITERS:  # exact classes: a MeanPool is no SumPool here
            node = f" (node {names[k]!r})" if names else ""
            raise ModelFormatError(
                f"{where or 'toolbox text'}: the LRP Toolbox's text format has no form for "
                f"layer {k}, {layer.kind}{node}: it holds a chain of "
                f"{', '.join(TXT_KINDS)} only; write .npz, the native format, which holds "
                "every model this program reads")


def format_toolbox_text(model, where=None) -> str:
    """The toolbox's text form of a model (round-trips bit-exactly through the reader).
    ``where`` (the file to write) starts the refusal of a layer the format cannot hold."""
    check_txt_writable(model, where)
    return "\n".join(line for layer in model.layers
                     for line in _WRITERS[type(layer)](layer)) + "\n"


def write_toolbox_txt(model, path, dtype=None, overwrite=True) -> None:
    """Write a model in the toolbox's text form (atomically; ``dtype`` rounds parameters)."""
    from ..fileio import atomic_write_text

    if dtype is not None:
        model = _with_dtype(model, dtype)
    atomic_write_text(path, format_toolbox_text(model, os.fspath(path)), overwrite=overwrite)


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
