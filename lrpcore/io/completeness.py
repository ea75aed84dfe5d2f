"""Signs that a model file was cut short where its format cannot tell.

The LRP Toolbox's text format has no end marker and no layer count: a ``.txt`` cut exactly at a
line end (a copy stopped by a full disk, a truncated download) parses as a complete, smaller
model. Nothing in the file itself can tell; what can is a last layer that cannot give a
classifier's scores (a Rect, a pooling layer) and, when the samples come from a dataset whose
task fixes its classes (MNIST's ten digits), an output count that differs from them. A sidecar's
``class_names`` already refuses a model of another output count (``lrpcore.io.sidecar``). These
are hints, said as warnings: a model may end in a Tanh on purpose.
"""

from __future__ import annotations

from ..layers import SoftMax
from ..model import Sequential

CUT_SHORT = ("was the file cut short? A toolbox .txt cut at a line end loads as a smaller "
             "model (its format has no end marker)")


def ending_hint(model) -> str | None:
    """Why ``model`` (a chain) does not end like a classifier, or None: its scores come from a
    Linear or Convolution layer, a SoftMax and layout changes may follow."""
    if not isinstance(model, Sequential) or getattr(model, "is_graph", False) \
            or not model.layers:
        return None  # a graph declares its outputs (an ONNX MNIST net ends in LogSoftmax)
    layers = list(model.layers)
    k = len(layers) - 1
    while k > 0 and (isinstance(layers[k], SoftMax) or layers[k].role == "reshape"):
        k -= 1
    last = layers[k]
    if last.weighted:
        return None
    return (f"the model ends with {last.describe()} (layer {k}), where a classifier's scores "
            f"come from a Linear or Convolution layer: {CUT_SHORT}")


def class_count_hint(model, dataset) -> str | None:
    """Why ``model``'s outputs do not fit ``dataset``'s task, or None: a dataset that names
    every class of its task (``Dataset.all_classes``, MNIST's digits) against a model with
    another number of outputs."""
    names = getattr(dataset, "class_names", None)
    n = getattr(model, "n_classes", None)
    if not getattr(dataset, "all_classes", False) or not names or not n or n == len(names):
        return None
    # only a chain can be a toolbox .txt cut short; a graph declares its outputs (an ONNX
    # Keras net of 5 classes was asked whether it was a cut .txt)
    cut = "" if getattr(model, "is_graph", False) else f", or {CUT_SHORT}"
    return (f"the model has {n} outputs while the samples of {dataset.name} belong to "
            f"{len(names)} classes: a model of another task{cut}")
