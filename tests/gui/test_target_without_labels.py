"""Data without labels has no true class: the target leaves "true class" for "predicted
class" and the window says so (status bar, target selector's tooltip); it used to switch
without a word, and the heatmap then answered another question than the one asked."""

from __future__ import annotations

import numpy as np


def test_true_class_becomes_predicted_and_the_user_is_told(make_window, toy_files, qtbot,
                                                          tmp_path):
    window = make_window()
    selector = window.rules.target_selector
    window.state.target = "true"
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert "no labels" not in selector.toolTip()
    unlabelled = tmp_path / "drawings.npy"
    np.save(unlabelled, np.load(toy_files[1])[:5])
    assert window.open_dataset(str(unlabelled))
    s = window.state
    assert s.target == "pred" and selector.currentData() == "pred"
    told = "true class → predicted class: drawings.npy has no labels"
    assert told in s.status
    assert told in window.statusBar().currentMessage()
    assert "drawings.npy has no labels" in selector.toolTip()  # while it is open
    assert selector.findData("true") < 0
    assert window.open_dataset(str(toy_files[1]))  # labelled again: "true class" is back
    assert selector.findData("true") >= 0 and "no labels" not in selector.toolTip()


def test_a_class_the_new_model_lacks_becomes_predicted_and_the_user_is_told(make_window,
                                                                           tmp_path):
    import lrpcore
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec

    window = make_window()
    window.state.target = "7"
    rng = np.random.default_rng(0)
    five = lrpcore.Sequential([Flatten(), Linear(rng.normal(0, 0.05, (784, 5)), np.zeros(5))],
                              InputSpec(shape=(28, 28, 1), raw_shape=(28, 28, 1)))
    path = tmp_path / "five-classes.npz"
    lrpcore.save_model(five, path)
    window.close_dataset()  # its labels name classes 5 to 9
    assert window.open_model(str(path))
    assert window.state.target == "pred"
    assert "class 7 → predicted class: five-classes.npz has 5 classes" in window.state.status
