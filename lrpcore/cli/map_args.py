"""--target and --region of the commands that explain a segmentation model's pixels (lrp
explain, lrp concepts, lrp spray), and the refusal of those that follow one score per sample
(lrp evaluate, lrp sweep, lrp sanity): one place, so that each reads a target on a map as
:mod:`lrpcore.map_targets` defines it and refuses the same things in the same words."""

from __future__ import annotations

import os

from ..errors import ModelFormatError, ShapeError
from ..map_targets import (  # noqa: F401 (region_field re-exported for the commands)
    REGION_COUNTING,
    check_region,
    parse_region,
    refuse_true_target,
    region_field,
)
from ..targets import model_map_shape, one_class_per_sample
from .common import no_labels, parse_target

MAP_TARGET_HELP = ("; on a segmentation model: the pixels of that class (pred: the class at "
                   "the most pixels, output: the whole map; true is refused)")


def add_region_argument(p) -> None:
    p.add_argument("--region", metavar="Y0:Y1,X0:X1",
                   help="a segmentation model's output map only: explain the target's pixels "
                   f"in rows Y0:Y1 and columns X0:X1 of the map ({REGION_COUNTING}; pred: "
                   "the class at the most pixels there)")


def read_target(args, model, has_labels, data, words=("pred", "true", "output"),
                target=None):
    """(target, region) of ``args`` read against ``model``: ``--target`` parsed (``target``
    given instead: that text), ``--region`` checked against the output map. ``true`` is
    refused on a map (a label per sample says nothing about its pixels) before it is refused
    without labels (``has_labels`` false; ``data`` the samples' file)."""
    target = parse_target(args.target if target is None else target, words, model=model)
    region = region_of(args, model)
    if target == "true" and model_map_shape(model):  # before "needs --labels": none fit
        refuse_true_target()
    if target == "true" and not has_labels:
        raise no_labels(data, model=model)
    return target, region


def region_of(args, model):
    """--region as (y0, y1, x0, x1), checked against the model's output map when its shape is
    known from the model (else with the first batch); None without the option."""
    if getattr(args, "region", None) is None:
        return None
    region = parse_region(args.region)
    try:
        shape = model.shapes()[-1]
    except ShapeError:
        return region
    check_region(region, shape)
    return region


# the commands that follow one class score per sample, by what their refusal of a map calls
# that use of the score
PER_SCORE_TOOLS = {"evaluate": "pixel-flipping", "sweep": "a sweep (pixel-flipping)",
                   "sanity": "the sanity check"}


def load_scoring_model(path, command=None):
    """The model of a command of :data:`PER_SCORE_TOOLS` (``command``; None: a library call),
    a segmentation model refused naming the file and saying why."""
    from ..io.models import load_classifier  # noqa: PLC0415

    if command not in PER_SCORE_TOOLS:
        return load_classifier(path)
    model = load_classifier(path, maps=True)
    refuse_map_model(model, path, PER_SCORE_TOOLS[command])
    return model


def refuse_map_model(model, path, what) -> None:
    """A command that follows one class score per sample (``what``: "pixel-flipping") says
    so, naming the model file, when ``model``'s output is a map."""
    try:
        one_class_per_sample("pred", what, model=model)
    except ShapeError as exc:
        raise ModelFormatError(f"{os.fspath(path)}: {exc}") from None
