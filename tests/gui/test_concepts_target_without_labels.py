"""Concepts refuses target "true class" on data without labels, as ``lrp concepts --target
true`` does and as the main view does: the panel explained the predicted class instead,
without a word (target "true" reached it from a script; the selector offers no true class
for such data), so its channels answered another question than the one asked."""

from __future__ import annotations

import numpy as np


def test_concepts_says_true_class_needs_labels(make_window, toy_files, qtbot, tmp_path):
    window = make_window()
    unlabelled = tmp_path / "drawings.npy"
    np.save(unlabelled, np.load(toy_files[1])[:5])
    assert window.open_dataset(str(unlabelled))
    qtbot.waitUntil(lambda: not window.controller.pending("explain"), timeout=20000)
    panel = window.insight.show("concepts")
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)  # target pred: fine
    assert panel.last_error is None
    window.state.target = "true"  # a script's choice: there is no true class here
    panel.result = None
    with qtbot.waitSignal(panel.failed, timeout=20000):
        panel.refresh()
    said = "target true class needs a dataset that has labels: drawings.npy has no labels"
    assert panel.last_error is not None and said in panel.last_error
    assert not window.controller.pending(panel.key) and panel.result is None
    panel.clear_error()
    assert panel.find_references() == 0 and said in panel.last_error
