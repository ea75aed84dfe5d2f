"""A sequential model: the toolbox's ``Sequential`` with metadata of this project."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .backend import get_backend, get_dtype
from .conventions import TOOLBOX
from .errors import ShapeError
from .sample_layout import samples_text
from .spec import InputSpec, infer_input_spec

MAX_ACTIVATION_VALUES = 1 << 30  # all layer outputs of one sample (EfficientNet-Lite0: 18 M)


# how a model file's accuracy figure is introduced (lrp info, the explorer's model summary): a
# figure recorded when the model was made, not one measured on the data open
RECORDED_ACCURACY = "recorded accuracy"


def format_accuracy(acc) -> str:
    """A model file's recorded accuracy as text: a fraction, or a record such as
    ``{"top1": 0.9834, "correct": 9834, "n": 10000, "dataset": "…"}``."""
    if isinstance(acc, (int, float)) and not isinstance(acc, bool):
        return f"{100.0 * acc:.2f} %"
    if isinstance(acc, dict) and isinstance(acc.get("top1"), (int, float)):
        text = f"{100.0 * acc['top1']:.2f} %"
        if "correct" in acc and "n" in acc:
            text += f" ({acc['correct']}/{acc['n']})"
        if acc.get("dataset"):
            text += f" on {acc['dataset']}"
        return text
    return str(acc)


def device_input(x, backend=None, dtype=None):
    """(backend, ``x`` as its array) for ``Model.forward``, chains and graphs alike: without
    ``dtype`` a float32 batch stays float32 (anything else runs in the default float64)."""
    be = get_backend(backend)
    if dtype is None and getattr(x, "dtype", None) == np.float32:
        dtype = "float32"
    return be, be.xp.asarray(x, dtype=get_dtype(dtype))


def layer_table(described, shapes, params, names, min_width, name_head) -> list[str]:
    """``lrp info``'s table of layers (chains and graphs alike): a head and one row per layer
    (index, description, output shape or '?', parameters, name), the description column as
    wide as its longest entry (at least ``min_width``) so that a long one ("Depthwise
    convolution 3×3×1152×1152 groups 1152 stride 1,1") does not push its row out of line."""
    width = max([min_width, *map(len, described)])
    rows = []
    for i, (text, shape, count, name) in enumerate(zip(described, shapes, params, names,
                                                       strict=True)):
        out = "×".join(map(str, shape)) if shape else "?"
        rows.append(f"{i:>3}  {text:<{width}} → {out:<12} {count:>10,}  {name}")
    return [f"{'#':>3}  {'layer':<{width}}   {'output':<12} {'params':>10}  {name_head}", *rows]


def chain_layer_names(layers) -> list[str]:
    """The name of each layer of a chain: its kind in lower case numbered among its kind
    (``convolution0``, ``rect1``, ``sumpool0``, ...). A chain file names no layers; these
    are what ``lrp info`` shows and what ``--layer-rule``, ``lrp concepts --layer`` and
    condition keys take, as they take a graph's node names."""
    seen: dict[str, int] = {}
    names = []
    for layer in layers:
        kind = layer.kind.lower()
        names.append(f"{kind}{seen.get(kind, 0)}")
        seen[kind] = seen.get(kind, 0) + 1
    return names


@dataclass
class Sequential:
    """Layers applied in order, plus what the model expects and where it came from.

    ``input_spec`` describes the input (see :mod:`lrpcore.spec`); ``meta`` holds class names,
    provenance, accuracy and anything else a file carried.
    """

    layers: list
    input_spec: InputSpec | None = None
    meta: dict = field(default_factory=dict)
    source: str | None = None
    # the toolbox's numerics, and its epsilon:0.01 in float64 to start from (a graph model
    # carries its own; lrpcore.conventions)
    convention = TOOLBOX

    def __post_init__(self):
        self.layers = list(self.layers)
        if self.input_spec is None:
            self.input_spec = infer_input_spec(self.layers)

    # -- structure ---------------------------------------------------------------------------
    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def ends_with_softmax(self) -> bool:
        return bool(self.layers) and getattr(self.layers[-1], "output_activation", False)

    def sequence_layout(self) -> str | None:
        """"C×L" or "L×C" where the model takes 1-D sequences (its first layer reads them),
        else None."""
        return getattr(self.layers[0], "sequence_layout", None) if self.layers else None

    def input_layout(self) -> str:
        """The layout the layers take an image input in: a chain computes in the engine's
        H×W×C (a spec saying otherwise would scramble every image)."""
        return "NHWC"

    def analysis_layers(self) -> list:
        """The layers LRP explains: a trailing SoftMax is dropped, as the toolbox's
        ``drop_softmax_output_layer`` does."""
        return self.layers[:-1] if self.ends_with_softmax() else list(self.layers)

    def drop_softmax_output_layer(self) -> Sequential:
        return Sequential(self.analysis_layers(), self.input_spec, dict(self.meta), self.source)

    def param_count(self) -> int:
        return sum(layer.param_count() for layer in self.layers)

    def shapes(self, in_shape=None) -> list:
        """Per-sample output shape of every layer (raises ShapeError where it does not fit)."""
        if in_shape is None:
            if self.input_spec is None:
                raise ShapeError("the model's input shape is unknown")
            in_shape = self.input_spec.shape
        shapes, shape = [], tuple(in_shape)
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ShapeError as exc:
                raise ShapeError(f"layer {i} ({layer.describe()}): {exc}") from None
            shapes.append(shape)
        return shapes

    @property
    def n_classes(self) -> int | None:
        """The outputs per sample; of a map output (a segmentation model, channels last),
        its classes per pixel (what targets, class names and labels index)."""
        try:
            shape = self.shapes()[-1]
        except ShapeError:
            return None
        return int(shape[-1]) if len(shape) > 1 else int(np.prod(shape))

    @property
    def class_names(self) -> list:
        """The metadata's names, else the outputs numbered "0", "1", ... A new list each
        time (callers may change it); the numbered names are built once per output count
        (100,000 of them took ~7 ms on every access, and the explorer asks per redraw),
        so new names in ``meta`` or an output of another size take effect at once."""
        names = self.meta.get("class_names")
        if names:
            return list(names)
        n = self.n_classes or 0
        numbered = self.__dict__.get("_numbered_names")
        if numbered is None or len(numbered) != n:
            numbered = self.__dict__["_numbered_names"] = [str(i) for i in range(n)]
        return list(numbered)

    def check_input(self, x) -> None:
        """Raise ShapeError (one sentence) when a batch does not fit the model.

        An input shape guessed from the layers (a toolbox file records none) is only the
        smallest square one: any other shape the layers take is the model's input too.
        """
        x_shape = tuple(x.shape[1:])
        spec = self.input_spec
        if spec is not None and x_shape != tuple(spec.shape) and not (
                spec.source == "inferred" and self._takes(x_shape)):
            want = "×".join(map(str, self.input_spec.shape))
            # described as every command sees a file's samples (lrp explain --raw said "784"
            # and lrp spray --raw "28×28×1" of one N×784 .npy)
            raise ShapeError(f"input {samples_text(x_shape)} do not fit the model, "
                             f"which takes {want}")
        values = sum(math.prod(s) for s in self.shapes(x_shape))
        if values > MAX_ACTIVATION_VALUES:  # a model file stating no input shape is bounded
            # here: a 1.5-MB one resizing 2×2 to 65,536² asked for 32 GiB (MemoryError)
            raise ShapeError(f"for input samples of shape {'×'.join(map(str, x_shape))} the "
                             f"layers' outputs hold {values:,} values per sample, more than "
                             f"{MAX_ACTIVATION_VALUES:,}; not a network this program can "
                             "explain")

    def _takes(self, in_shape) -> bool:
        try:
            self.shapes(in_shape)
        except ShapeError:
            return False
        return True

    # -- computation -------------------------------------------------------------------------
    def forward(self, x, backend=None, dtype=None, layers=None):
        """Run the layers on a batch; returns the output on the same backend."""
        be, a = device_input(x, backend, dtype)
        for layer in (layers if layers is not None else self.layers):
            a = layer.forward(a, be.xp)
        return a

    def summary(self) -> str:
        try:
            shapes = self.shapes()
        except ShapeError:
            shapes = [None] * len(self.layers)
        table = layer_table([layer.describe() for layer in self.layers], shapes,
                            [layer.param_count() for layer in self.layers],
                            chain_layer_names(self.layers), 36, "name")
        total = f"total parameters: {self.param_count():,}"
        spec = (f"input: {self.input_spec.describe(self.sequence_layout())}"
                if self.input_spec else "input: unknown")
        return "\n".join([*table, total, spec])
