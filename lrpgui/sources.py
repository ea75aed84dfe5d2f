"""How the explorer opens datasets: through :func:`lrpcore.open_dataset`, labels included.

Everything else about where models and datasets come from (bundled models, default model and
dataset, downloads) lives in :mod:`lrpcore.bundled` and :mod:`lrpcore.io.download`; the
window calls those directly. Nothing here depends on ``/work/shared``.
"""

from __future__ import annotations

import os

import lrpcore


def open_dataset(spec) -> lrpcore.Dataset:
    """Open a dataset file, folder or built-in name; :func:`lrpcore.open_dataset` finds the
    labels stored beside an image file under the toolbox's naming.

    Raises :class:`lrpcore.DatasetError` (naming the file) when it cannot be read.
    """
    return lrpcore.open_dataset(os.fspath(spec))
