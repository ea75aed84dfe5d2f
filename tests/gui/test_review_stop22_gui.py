"""The stop-22 new-user review in the window: options that asked for a view the data cannot
give."""

from __future__ import annotations

from argparse import Namespace

import numpy as np


def test_misclassified_on_data_without_labels_is_refused(make_window, tmp_path):
    """``--misclassified`` with an unlabelled dataset hid every sample behind a checked box
    that was disabled (no labels), so the grid stayed empty ("0 of 12 samples") and the user
    could not clear the filter; it is refused like any other option the view cannot take."""
    from lrpgui.app import _apply_options

    path = tmp_path / "digits.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8))
    window = make_window(dataset=path)
    assert window.state.labels is None
    options = Namespace(rule=None, colormap=None, sample=None, dtype=None, misclassified=True)
    problems = _apply_options(window, options)
    assert len(problems) == 1 and "--misclassified" in problems[0]
    assert "digits.npy has no labels" in problems[0]
    assert not window.state.misclassified_only
    assert window.grid.model.rowCount() == 6
