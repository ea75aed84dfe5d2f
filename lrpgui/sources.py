"""How the explorer opens datasets: :func:`lrpcore.open_dataset` plus the toolbox file layout.

Everything else about where models and datasets come from (bundled models, default model and
dataset, downloads) lives in :mod:`lrpcore.bundled` and :mod:`lrpcore.io.download`; the
window calls those directly. Nothing here depends on ``/work/shared``.
"""

from __future__ import annotations

import os
from pathlib import Path

import lrpcore

# name parts of an image file → of its label file (``mnist_test_images.npy`` →
# ``mnist_test_labels.npy``, the LRP Toolbox's layout)
LABEL_NAME_PAIRS = (("images", "labels"), ("x", "y"), ("data", "labels"))


def sibling_labels(path: Path) -> Path | None:
    """The label file that sits beside an image file under the toolbox's naming, if any."""
    name = path.name
    for images, labels in LABEL_NAME_PAIRS:
        if images in name:
            candidate = path.with_name(name.replace(images, labels))
            if candidate != path and candidate.is_file():
                return candidate
    return None


def open_dataset(spec) -> lrpcore.Dataset:
    """Open a dataset file, folder or built-in name, with labels found beside the file.

    Raises :class:`lrpcore.DatasetError` (naming the file) when it cannot be read.
    """
    text = os.fspath(spec)
    path = Path(text)
    labels = sibling_labels(path) if path.suffix and path.is_file() else None
    if labels is not None:
        return lrpcore.open_dataset(text, labels=str(labels))
    return lrpcore.open_dataset(text)
