"""Named network architectures (the LRP Toolbox's MNIST models) and a layer mini-syntax.

Mini-syntax (``--layers``): comma-separated tokens, applied in order.

==================  =======================================================================
``linear:N``        dense layer with N outputs (inputs: whatever the previous layer gives);
                    ``dense:N`` is the same
``conv:HxWxN[/S]``  valid convolution with N filters of H×W (depth from the input), stride S;
                    ``conv:HxWxN@D`` (or ``/S@D``) dilated: taps D pixels apart (atrous)
``sumpool:P[/S]``   sum pooling P×P (or ``PxQ``), stride S (default: the pool size), scaled
                    by 1/sqrt(P·Q) as in the toolbox
``maxpool:P[/S]``   max pooling, same arguments
``pad:P``           P pixels of zeros around the image (e.g. before a "same" convolution)
``rect`` ``relu``   rectifier
``tanh``            hyperbolic tangent
``flatten``         H×W×D → H·W·D
``softmax``         output SoftMax (only last; training fuses it into the loss)
==================  =======================================================================

Example: ``conv:5x5x10,rect,sumpool:2,conv:5x5x25,rect,sumpool:2,flatten,linear:10``.
A stack whose first weighted layer is a convolution takes the raw 28×28×1 image padded by
``pad`` pixels of −1 (toolbox convention); a dense stack takes the flat image.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..graph_dilated import MAX_DILATION, DilatedConvolution
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
from ..text import is_digits, short

_LENET = ("conv:5x5x10,rect,{pool}:2,conv:5x5x25,rect,{pool}:2,conv:4x4x100,rect,{pool}:2,"
          "conv:1x1x10,flatten")


@dataclass(frozen=True)
class Architecture:
    layers: str
    description: str


ARCHITECTURES = {
    "long-rect": Architecture(
        "linear:1296,rect,linear:1296,rect,linear:1296,rect,linear:10,softmax",
        "the toolbox's long-rect: 784-1296-1296-1296-10, ReLU, SoftMax output (11 MB float32)"),
    "long-tanh": Architecture(
        "linear:1296,tanh,linear:1296,tanh,linear:1296,tanh,linear:10,softmax",
        "the toolbox's long-tanh: 784-1296-1296-1296-10, tanh, SoftMax output"),
    "short-rect": Architecture(
        "linear:300,rect,linear:100,rect,linear:10,softmax",
        "a small dense net 784-300-100-10 (LeCun's LeNet-300-100 sizes), ReLU, SoftMax output"),
    "short-tanh": Architecture(
        "linear:300,tanh,linear:100,tanh,linear:10,softmax",
        "a small dense net 784-300-100-10, tanh, SoftMax output"),
    "lenet5": Architecture(
        _LENET.format(pool="sumpool"),
        "the toolbox's LeNet-5: convolutions 5×5×1×10, 5×5×10×25, 4×4×25×100, 1×1×100×10 with "
        "ReLU and 2×2 sum pooling, on 32×32×1 padded input, raw scores out"),
    "maxnet": Architecture(
        _LENET.format(pool="maxpool"),
        "LeNet-5 with 2×2 max pooling instead of sum pooling"),
}

# ASCII digits, matched whole (fullmatch): \d took any script's, which int() reads as numbers
_PAIR = re.compile(r"([0-9]+)(?:x([0-9]+))?(?:/([0-9]+))?")
_CONV = re.compile(r"([0-9]+)x([0-9]+)x([0-9]+)(?:/([0-9]+))?(?:@([0-9]+))?")


@dataclass(frozen=True)
class LayerToken:
    """One parsed token of the mini-syntax: kind and integer arguments."""

    kind: str
    args: tuple = ()
    text: str = ""


class _TokenError(ValueError):
    """What is wrong with one token (the caller adds its position)."""


@dataclass(frozen=True)
class TokenKind:
    """One word of the mini-syntax: how its argument parses and how its layer is built.

    ``parse(arg)`` gives the integer arguments (raising _TokenError); ``build(args, shape,
    next_kind, rng, dtype)`` the freshly initialised layer for an input of ``shape``."""

    parse: object
    build: object
    # "flat" or "image": what the model takes when this is the first such token (None: no say)
    model_input: str | None = None


TOKEN_KINDS: dict[str, TokenKind] = {}
ALIASES = {"relu": "rect", "dense": "linear"}


def _no_argument(name):
    def parse(arg):
        if arg:
            raise _TokenError(f"{name} takes no argument")
        return ()
    return parse


def _positive(usage):
    def parse(arg):
        if not is_digits(arg) or int(arg) < 1:
            raise _TokenError(usage)
        return (int(arg),)
    return parse


def _numbers(pattern, arg):
    """The match of ``pattern`` with all of ``arg`` when int() reads each of its numbers
    (thousands of digits raised ValueError, an internal error), else None."""
    m = pattern.fullmatch(arg)
    return m if m and all(is_digits(g) for g in m.groups() if g) else None


def _parse_conv(arg):
    m = _numbers(_CONV, arg)
    if not m or min(int(g) for g in m.groups() if g) < 1:
        raise _TokenError("expected conv:HxWxN, conv:HxWxN/S or conv:HxWxN/S@D (positive "
                          "integers; @D: dilation)")
    h, w, n, s, dilation = m.groups()
    if dilation and int(dilation) > MAX_DILATION:
        raise _TokenError(f"dilation {dilation} is more than {MAX_DILATION}")
    plain = int(h), int(w), int(n), int(s or 1)
    return (*plain, int(dilation)) if dilation else plain  # (h, w, n, s) as before @D


def _parse_pool(name):
    def parse(arg):
        m = _numbers(_PAIR, arg)
        if not m or min(int(g) for g in m.groups() if g) < 1:
            raise _TokenError(f"expected {name}:P, {name}:PxQ or {name}:P/S")
        p, q, s = m.groups()
        return int(p), int(q or p), int(s) if s else None
    return parse


def _initial(rng, std, size, dtype) -> np.ndarray:
    """Fresh weights of ``size`` (zeros for ``std`` None); with ``rng`` None a read-only zero
    view that takes no memory (:func:`model_plan` sizes a model before anything is
    allocated)."""
    if rng is None:
        return np.broadcast_to(np.zeros((), dtype), size)
    if std is None:
        return np.zeros(size, dtype)
    return rng.normal(0, std, size).astype(dtype)


def _build_linear(args, shape, nxt, rng, dtype):
    if len(shape) != 1:
        raise _TokenError(f"linear needs flat input, gets {shape}; add flatten")
    m, n = shape[0], args[0]
    return Linear(_initial(rng, _init_std(m, nxt), (m, n), dtype), _initial(rng, None, n, dtype))


def _build_conv(args, shape, nxt, rng, dtype):
    if len(shape) != 3:
        raise _TokenError(f"conv needs H×W×D input, gets {shape}")
    h, w, n, s = args[:4]
    dilation = args[4] if len(args) > 4 else 1
    d = shape[2]
    W, B = _initial(rng, _init_std(h * w * d, nxt), (h, w, d, n), dtype), \
        _initial(rng, None, n, dtype)
    if dilation > 1:
        return DilatedConvolution(W, B, (s, s), (dilation, dilation))
    return Convolution(W, B, (s, s))


def _build_pool(cls):
    def build(args, shape, nxt, rng, dtype):
        p, q, s = args
        return cls((p, q), (s, s) if s else (p, q))
    return build


def _plain(cls):
    return lambda args, shape, nxt, rng, dtype: cls()


TOKEN_KINDS.update({
    "linear": TokenKind(_positive("expected linear:N with N ≥ 1 outputs"), _build_linear,
                        model_input="flat"),
    "conv": TokenKind(_parse_conv, _build_conv, model_input="image"),
    "sumpool": TokenKind(_parse_pool("sumpool"), _build_pool(SumPool)),
    "maxpool": TokenKind(_parse_pool("maxpool"), _build_pool(MaxPool)),
    "pad": TokenKind(_positive("expected pad:P with P ≥ 1 pixels"),
                     lambda args, shape, nxt, rng, dtype: Pad((args[0],) * 4, 0.0),
                     model_input="image"),
    **{name: TokenKind(_no_argument(name), _plain(cls))
       for name, cls in (("rect", Rect), ("tanh", Tanh), ("flatten", Flatten),
                         ("softmax", SoftMax))},
})


MAX_TRAIN_PARAMETERS = 50_000_000  # 1 GB and more while training (weights, gradients, Adam)
MAX_BATCH_VALUES = 1 << 27  # activations of one minibatch kept for backprop (512 MB float32)


def _bad(i, tok, why):
    return ShapeError(f"--layers token {i + 1} {short(tok)!r}: {why}")


def parse_layers(text: str) -> list[LayerToken]:
    """Parse the mini-syntax into tokens; errors name the token and its position."""
    if not isinstance(text, str) or not text.strip():
        raise ShapeError("--layers is empty; example: conv:5x5x10,rect,sumpool:2,flatten,"
                         "linear:10")
    tokens = []
    parts = [p.strip().lower() for p in text.split(",")]
    for i, tok in enumerate(parts):
        name, _, arg = tok.partition(":")
        name = ALIASES.get(name, name)
        kind = TOKEN_KINDS.get(name)
        if kind is None:
            raise _bad(i, tok, f"unknown layer; known: {', '.join(TOKEN_KINDS)}")
        try:
            tokens.append(LayerToken(name, kind.parse(arg), tok))
        except _TokenError as exc:
            raise _bad(i, tok, str(exc)) from None
    if any(t.kind == "softmax" for t in tokens[:-1]):
        raise ShapeError("--layers: softmax may only be the last layer")
    return tokens


def _init_std(fan_in: int, next_kind: str | None) -> float:
    # He initialisation before a rectifier, LeCun's 1/fan_in otherwise (tanh, outputs).
    return float(np.sqrt((2.0 if next_kind == "rect" else 1.0) / fan_in))


def _check_size(tokens, pad) -> None:
    """Refuse before training what no model file could hold: more layers than the readers
    take, or more padding than the Pad bound (20,000 ReLUs trained for 19 s at 4 GB before
    the save refused them; --pad 99999 ran out of memory after a minute)."""
    from ..io.layer_check import MAX_PADDING  # noqa: PLC0415
    from ..io.toolbox_txt import MAX_LAYERS  # noqa: PLC0415

    if len(tokens) > MAX_LAYERS:
        raise ShapeError(f"--layers has {len(tokens)} layers; a model holds at most "
                         f"{MAX_LAYERS}")
    added = 2 * int(pad) + sum(2 * t.args[0] for t in tokens if t.kind == "pad")
    if added > MAX_PADDING:
        raise ShapeError(f"--pad and pad layers add {added} pixels to the height and width; "
                         f"at most {MAX_PADDING}")


def _tokens(layers) -> list:
    if isinstance(layers, str):
        text = ARCHITECTURES[layers].layers if layers in ARCHITECTURES else layers
        return parse_layers(text)
    return list(layers)


def model_plan(layers: str | list, raw_shape=(28, 28, 1), pad: int = 2) -> tuple[int, int]:
    """(parameters, activation values per sample) of the model :func:`build_model` makes,
    worked out from the shapes alone: nothing of the model's size is allocated."""
    tokens = _tokens(layers)
    _check_size(tokens, pad)
    model = _assemble(tokens, None, raw_shape, pad, np.float32)
    params = sum(math.prod(ly.W.shape) + math.prod(ly.B.shape)
                 for ly in model.layers if ly.weighted)
    shape = tuple(model.input_spec.shape)
    values = math.prod(shape)
    for layer in model.layers:
        shape = layer.output_shape(shape)
        values += math.prod(shape)
    return params, values


def build_model(layers: str | list, rng: np.random.Generator, raw_shape=(28, 28, 1),
                pad: int = 2, dtype=np.float64) -> Sequential:
    """Build a freshly initialised model from an architecture name, a spec string or tokens.

    Convolutional stacks get the toolbox input convention (x/127.5 − 1, padded by ``pad``
    pixels of −1); dense stacks take the flattened image. More than MAX_TRAIN_PARAMETERS
    parameters are refused before any is allocated (``linear:3000000`` on MNIST: 2.4 G).
    """
    tokens = _tokens(layers)
    params, _values = model_plan(tokens, raw_shape, pad)
    if params > MAX_TRAIN_PARAMETERS:
        raise ShapeError(f"--layers makes a model of {params:,} parameters; lrp train builds "
                         f"at most {MAX_TRAIN_PARAMETERS:,} (each takes 20 bytes or more while "
                         "training)")
    return _assemble(tokens, rng, raw_shape, pad, dtype)


def _assemble(tokens, rng, raw_shape, pad, dtype) -> Sequential:
    """The model of ``tokens``; with ``rng`` None its weights are zero views (model_plan)."""
    model_input = next((TOKEN_KINDS[t.kind].model_input for t in tokens
                        if TOKEN_KINDS[t.kind].model_input), None)
    if model_input is None:
        raise ShapeError("--layers has no linear or conv layer to train")
    raw_shape = tuple(int(v) for v in raw_shape)
    if model_input == "image":
        if len(raw_shape) != 3:
            raise ShapeError(f"convolutions need H×W×C images; the data are {raw_shape}")
        H, W, C = raw_shape
        spec = InputSpec(shape=(H + 2 * pad, W + 2 * pad, C), raw_shape=raw_shape,
                         layout="NHWC", pad=int(pad), source="lrp train")
    else:
        spec = InputSpec(shape=(int(np.prod(raw_shape)),), raw_shape=raw_shape, layout="flat",
                         source="lrp train")
    shape = spec.shape
    built = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1].kind if i + 1 < len(tokens) else None
        try:
            layer = TOKEN_KINDS[tok.kind].build(tok.args, shape, nxt, rng, dtype)
            shape = layer.output_shape(shape)
        except (_TokenError, ShapeError) as exc:
            raise _bad(i, tok.text, str(exc)) from None
        built.append(layer)
    return Sequential(built, spec, {})
