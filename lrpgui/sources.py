"""How the explorer opens datasets: through :func:`lrpcore.open_dataset`, labels included.

Everything else about where models and datasets come from (bundled models, default model and
dataset, downloads) lives in :mod:`lrpcore.bundled` and :mod:`lrpcore.io.download`; the
window calls those directly. Nothing here depends on ``/work/shared``.
"""

from __future__ import annotations

import os

import numpy as np

import lrpcore


def open_dataset(spec) -> lrpcore.Dataset:
    """Open a dataset file, folder or built-in name; :func:`lrpcore.open_dataset` finds the
    labels stored beside an image file under the toolbox's naming.

    Raises :class:`lrpcore.DatasetError` (naming the file) when it cannot be read.
    """
    return lrpcore.open_dataset(os.fspath(spec))


def check_labels_fit(model, dataset) -> None:
    """Raise :class:`lrpcore.ShapeError` when the dataset's labels name classes the model does
    not output (labels of another task): the true-class target, the outlined score and the
    accuracy would all be wrong. Datasets without labels fit any model."""
    labels = getattr(dataset, "labels", None)
    k = model.n_classes
    if labels is None or k is None or len(labels) == 0:
        return
    top = int(np.max(labels))
    if top >= k:
        raise lrpcore.ShapeError(
            f"the labels of {dataset.name} go up to {top}, but the model has {k} outputs "
            f"(classes 0..{k - 1})")
