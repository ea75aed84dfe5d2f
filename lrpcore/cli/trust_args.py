"""What ``lrp sweep`` and ``lrp sanity`` share: MODEL and DATA arguments (a file or a bundled
or built-in name), N samples spread over DATA, and ``--csv``/``--plot`` that take an optional
path."""

from __future__ import annotations

import os
import sys

from ..errors import ShapeError
from ..fileio import atomic_write_text
from ..targets import CLASS_NAME_HELP
from .common import (
    MODEL_HELP,
    SCORING_FLOAT32,
    add_backend_argument,
    add_dtype_argument,
    add_layer_rule_argument,
    add_progress_arguments,
    add_raw_argument,
    labels_help,
    samples_help,
)


def add_model_data(p, n_default) -> None:
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("data", help=samples_help())
    add_raw_argument(p, "DATA")
    add_layer_rule_argument(p)
    p.add_argument("--labels", metavar="FILE", default=None,
                   help=labels_help("DATA", "for --target true"))
    p.add_argument("--n", type=int, default=n_default,
                   help="use N samples spread evenly over DATA (datasets are often sorted by "
                   f"class; default {n_default})")
    p.add_argument("--target", default="pred",
                   help="pred (default), true, a class index or a class "
                   f"name ({CLASS_NAME_HELP})")
    add_backend_argument(p)
    add_dtype_argument(p, "float32", SCORING_FLOAT32)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_progress_arguments(p)


def model_path(text: str) -> str:
    """A model file, the file of a bundled model named without its extension, or a model
    named as ``load_model`` takes it (``efficientnet-lite0``, built from its checkpoint: it
    was refused here, while ``lrp evaluate`` took it)."""
    if os.path.isfile(text):
        return text
    from ..bundled import MODEL_EXTENSIONS, MODELS_DIR  # noqa: PLC0415
    from ..io.models import NAMED_MODEL_FILES, no_such_model  # noqa: PLC0415

    if text in NAMED_MODEL_FILES:
        return text
    for ext in MODEL_EXTENSIONS:
        candidate = MODELS_DIR / f"{text}{ext}"
        if os.path.isfile(candidate):
            return str(candidate)
    if os.path.exists(text):  # a folder, not named as a bundled model: loading says so
        return text
    raise no_such_model(text)


def read_files(args) -> list:
    """The files MODEL and DATA name (a model's sidecar included), for ``check_outputs_free``:
    ``--csv data.npy --overwrite`` replaced the samples being ranked with the ranking."""
    from .common import model_files  # noqa: PLC0415

    return [*model_files(args.model), args.data, getattr(args, "labels", None)]


def load_inputs(args, n_default, model=None):
    """(model, samples, labels or None) of ``--n`` samples spread evenly over DATA
    (``model``: already opened, else ``args.model`` is); the samples are raw images, or
    with ``--raw`` arrays in the model's own layout; the labels DATA's or ``--labels``'."""
    import numpy as np  # noqa: PLC0415

    from .. import open_dataset  # noqa: PLC0415
    from ..insight.tasks import spread_indices  # noqa: PLC0415
    from .common import (  # noqa: PLC0415
        check_samples_fit,
        load_labels,
        warn_if_preprocessed,
        warn_unreadable,
    )
    from .map_args import load_scoring_model  # noqa: PLC0415

    if model is None:
        model = load_scoring_model(model_path(args.model), getattr(args, "command", None))
    ds = open_dataset(args.data, model=model)  # photographs fitted to the model
    warn_unreadable(getattr(args, "command", None), args.data, ds)  # None: called as a library
    n = n_default if args.n is None else args.n
    if n < 1:
        raise ShapeError(f"--n must be ≥ 1, got {n}")
    idx = spread_indices(len(ds), n)
    x = ds.images(idx)
    raw = bool(getattr(args, "raw", False))
    check_samples_fit(args.data, model, x, raw=raw)
    if not raw and getattr(args, "command", None):  # as lrp explain warns
        warn_if_preprocessed(args.command, args.data, x, model, getattr(args, "dtype", None))
    labels = ds.labels
    if getattr(args, "labels", None):
        labels = load_labels(args.labels, len(ds), model.n_classes)
    labels = None if labels is None else np.asarray(labels)[idx]
    return model, x, labels


def target_of(args, labels, model=None):
    from .common import parse_target  # noqa: PLC0415

    target = parse_target(args.target, words=("pred", "true"), model=model)
    if target == "true" and labels is None:
        from .common import no_labels  # noqa: PLC0415

        raise no_labels(args.data, model=model)
    return target


def write_csv(path, text, overwrite) -> str:
    """CSV to ``path``, or to stdout when ``path`` is '-' (``--csv`` without a path)."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return "stdout"
    atomic_write_text(path, text, overwrite=overwrite)
    return path
