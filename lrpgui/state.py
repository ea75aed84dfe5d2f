"""AppState: the single source of truth of the explorer (no Qt).

Widgets write user choices here and re-draw from the events; the controller reads a frozen
copy of the relevant fields to build a request and writes results back. Validation happens at
assignment, so an invalid rule or index never reaches the worker.
"""

from __future__ import annotations

import numpy as np

from lrpcore.errors import RuleError, ShapeError
from lrpcore.map_targets import check_region, parse_region
from lrpcore.presets import preset_or_none
from lrpcore.render.colormaps import DEFAULT_COLORMAP, get_colormap
from lrpcore.render.overlay import overlay_opacity as _opacity
from lrpcore.rules import parse_rule
from lrpcore.targets import (  # noqa: F401 (TARGET_WORDS re-exported)
    TARGET_WORDS,
    model_map_shape,
    target_spec,
)
from lrpcore.text import is_digits, printable_line

from .evented import EventedModel, Field

DTYPES = ("float64", "float32")
BACKENDS = ("numpy", "cupy")


def _optional_str(value, _obj):
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a string or None, got {type(value).__name__}")
    return value


def _str(value, _obj):
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _status_line(value, _obj):
    """The status bar shows file names: no escapes, bidi overrides or line breaks of them."""
    return printable_line(_str(value, _obj))


def _bool(value, _obj):
    return bool(value)


def _sample_index(value, obj):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"sample index must be an integer, got {value!r}")
    value = int(value)
    n = len(obj.dataset) if obj.dataset is not None else None
    if value < 0 or (n is not None and value >= n):
        raise ShapeError(f"sample {value} does not exist"
                         + (f": the dataset has samples 0..{n - 1}" if n else ""))
    return value


def _rule(value, _obj):
    value = _str(value, _obj).strip()
    if preset_or_none(value) is not None:
        return preset_or_none(value).name
    return parse_rule(value).spec()


def _colormap(value, _obj):
    """A colormap the renderer knows, by its registered name (unknown names fail here, not
    in every later redraw)."""
    return get_colormap(_str(value, _obj)).name


def _layer_rules(value, _obj):
    """{layer index or node name/glob: rule spec}, as ``--layer-rule`` takes them (a digit
    string is an index); which layers a name or glob addresses is resolved per model."""
    out = {}
    for key, spec in dict(value or {}).items():
        if isinstance(key, str) and is_digits(key.strip()):
            key = int(key)
        elif isinstance(key, str):
            key = key.strip()
            if not key:
                raise RuleError("a per-layer rule needs a layer index or a node name")
        elif isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise RuleError(f"layer {key!r} is neither an index nor a node name")
        if preset_or_none(spec) is not None:
            raise RuleError(f"layer {key}: a preset ({spec}) cannot be assigned to one layer")
        out[key if isinstance(key, str) else int(key)] = parse_rule(spec).spec()
    return out


def checked_layer_rules(value) -> dict:
    """Per-layer rules as ``state.layer_rules`` takes them (keys and specs normalised), or a
    RuleError: for rules checked before they are set (remembered ones)."""
    return _layer_rules(value, None)


def _target(value, obj):
    """Stored as text ("pred", "3"): lrpcore.targets parses it, as for the command line; a
    class name of the open model ("Egyptian cat") is stored as its index."""
    model = getattr(obj, "model", None)
    return target_spec(value, class_names=lambda: getattr(model, "class_names", None))


def _region(value, obj):
    """A box of a segmentation model's output map as (y0, y1, x0, x1), from the four numbers
    or "y0:y1,x0:x1" as ``--region`` takes it; None or "" for the whole map. Checked against
    the open model's map (a model without one has no region)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = parse_region(value.strip())
        except ShapeError as exc:  # said after the option's name by the launch option
            raise ShapeError(str(exc).replace("--region ", "region ", 1)) from None
    model = getattr(obj, "model", None)
    shape = None if model is None else model_map_shape(model)
    if shape is None:
        raise ShapeError("a region selects pixels of a segmentation model's output map; "
                         + ("no model is open" if model is None else
                            "the open model's output is no map"))
    return check_region(value, shape)


def _choice(options):
    def check(value, _obj):
        if value not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return value
    return check


def _optional_array(value, _obj):
    if value is None:
        return None
    return np.asarray(value)


def _optional_int(value, _obj):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"expected an integer or None, got {value!r}")
    return int(value)


def _optional_subset(value, _obj):
    """Dataset indices as a sorted tuple (comparable, so setting the same subset is no
    change), or None."""
    if value is None:
        return None
    return tuple(sorted({int(i) for i in value}))


def _optional_float(value, _obj):
    return None if value is None else float(value)


class AppState(EventedModel):
    """Everything the window shows and every choice the user made.

    Tests read results here: ``relevance`` (the displayed map, in the model's input layout,
    exactly what ``lrpcore.explain`` returns for the sample), ``sample_index``, ``scores`` and
    ``explanation`` (the ExplainResult on display, with the request it answers and the model
    input it was drawn beside). ``relevance`` and ``scores`` are None while the
    explanation of the current settings is being computed (the views keep showing
    ``explanation`` meanwhile); a failed explanation puts the previous ones back.
    """

    # what is open
    model_path = Field(None, _optional_str, "file of the open model")
    model = Field(None, None, "the open lrpcore.model.Sequential")
    dataset_name = Field(None, _optional_str, "name or path of the open dataset")
    dataset = Field(None, None, "the open dataset (len, images(), labels, sample_shape)")
    # the selection and the explanation settings
    sample_index = Field(0, _sample_index, "index of the explained sample in the dataset")
    rule = Field("epsilon:0.01", _rule, "rule spec or preset name")
    layer_rules = Field(dict, _layer_rules,
                        "per-layer overrides {layer index or node name/glob: rule spec}")
    target = Field("pred", _target, "pred, true, output or a class index as text (a class "
                   "name is stored as its index)")
    region = Field(None, _region, "a segmentation model's box of its output map the target's "
                   "pixels are explained in, (y0, y1, x0, x1) as --region; None: the whole map")
    dtype = Field("float64", _choice(DTYPES))
    backend = Field("numpy", _choice(BACKENDS))
    # display
    colormap = Field(DEFAULT_COLORMAP, _colormap)
    outline = Field(True, _bool)
    channels = Field("sum", _choice(("sum", "max-abs", "red", "green", "blue")),
                     "how a colour image's relevance becomes one map (lrpcore.render.overlay)")
    overlay_opacity = Field(0.6, lambda v, _o: _opacity(v),
                            "opacity of the heatmap over the greyscale photograph")
    # filters of the sample grid
    filter_true = Field(None, _optional_int)
    filter_pred = Field(None, _optional_int)
    misclassified_only = Field(False, _bool)
    filter_subset = Field(None, _optional_subset, "only these dataset indices (e.g. the "
                          "points selected in the SpRAy window), or None")
    sample_hidden = Field(False, _bool, "the explained sample is hidden by the grid's filters "
                          "(it stays on display; the grid selects it again once it shows it)")
    # results (written by the controller)
    # ``relevance`` is what the heatmap view shows and every export writes: one sample in the
    # model's input layout (e.g. 32×32×1 for the padded LeNet-5, 784 for a dense network),
    # i.e. ``lrpcore.explain(model, raw[None], ...)[0]``, the array ``lrp explain`` writes
    # (a C×H×W model's as the image the views draw, H×W×C; Export .npy writes C×H×W).
    relevance = Field(None, _optional_array,
                      "displayed relevance, model input layout (as lrpcore.explain returns)")
    scores = Field(None, _optional_array, "model outputs of the explained sample")
    explanation = Field(None, None, "the ExplainResult on display")
    diagnosis = Field(None, None, "conservation diagnosis of the explanation on display "
                      "(lrpcore.insight.diagnose); None until it is checked, after the heatmap")
    predictions = Field(None, _optional_array, "predicted class per dataset sample (-1 unknown)")
    predicted = Field(None, None, "the batch of samples predicted last while the dataset is "
                      "predicted (lrpgui.services.Predicted; written into predictions in "
                      "place): views update those samples only")
    accuracy = Field(None, _optional_float, "accuracy of the model on the dataset")
    status = Field("", _status_line, "one-line message for the status bar")

    @property
    def labels(self):
        return None if self.dataset is None else getattr(self.dataset, "labels", None)

    def label_of(self, index: int) -> int | None:
        labels = self.labels
        return None if labels is None else int(labels[index])
