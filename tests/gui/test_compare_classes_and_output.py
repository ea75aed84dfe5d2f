"""Compare chooses its contrast classes by name as the target box does (a model's names, typed
names completing; numbers alone meant nothing for 1000 ImageNet classes), and target "output"
shows the map the main view draws for it: the whole output's relevance, not ten classes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

import lrpcore

from .conftest import toy_model
from .insight_helpers import open_tool, rerun

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def named_model(tmp_path, extra=0):
    """The toy net with named classes (``extra`` more outputs: a box long enough to type)."""
    from lrpcore.layers import Linear

    model = toy_model()
    names = NAMES + [f"extra {k}" for k in range(extra)]
    if extra:
        last = model.layers[-1]
        rng = np.random.default_rng(1)
        model.layers[-1] = Linear(np.concatenate([last.W, rng.normal(0, .05, (576, extra))], 1),
                                  np.concatenate([last.B, np.zeros(extra)]))
    model.meta["class_names"] = names
    path = tmp_path / "named.npz"
    lrpcore.save_model(model, path)
    return path


def test_contrast_classes_are_chosen_by_name(make_window, qtbot, tmp_path):
    window = make_window(model=named_model(tmp_path, extra=20))
    view = open_tool(qtbot, window, "compare")
    a, b = view.class_a, view.class_b
    assert a.objectName() == "compareClassA" and b.objectName() == "compareClassB"
    assert a.count() == 30 and a.itemText(7) == "7 seven" and a.itemText(29) == "29 extra 19"
    rerun(qtbot, view, lambda: view.set_mode("contrast", pair=("seven", 2)))
    comp = view.result.comparison
    assert view.pair() == (7, 2) and comp.contrast == (7, 2)
    assert comp.rows[0].titles[-1] == "seven vs two"
    # typing part of a name into the box and pressing Enter chooses that class
    assert b.isEditable()
    b.setFocus()
    b.lineEdit().setText("extra 13")

    def typed():
        qtbot.keyClick(b.lineEdit(), Qt.Key.Key_Return)

    rerun(qtbot, view, typed)
    assert view.pair() == (7, 23) and view.result.comparison.contrast == (7, 23)


def test_the_output_target_shows_the_whole_output_as_the_main_view(make_window, qtbot):
    window = make_window()
    window.state.target = "output"
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules(["epsilon:0.01", "gradxinput"]))
    comp = view.result.comparison
    assert [row.titles for row in comp.rows] == [("all outputs",)] * 2
    assert all(row.maps.shape[0] == 1 for row in comp.rows)
    # the first row is the main view's heatmap (same rule, target "output")
    assert window.state.rule == "epsilon:0.01"
    np.testing.assert_allclose(comp.rows[0].maps[0], window.state.relevance, rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(view.cell_maps[(0, 0)], window.state.relevance.sum(axis=-1),
                               rtol=1e-10, atol=1e-13)
    model, s = window.state.model, window.state
    raw = s.dataset.images(np.array([s.sample_index]))
    x = model.input_spec.preprocess(raw)
    fwd = lrpcore.Explainer(model).forward(x, raw=True)
    from lrpcore.insight.baselines import attribute

    np.testing.assert_allclose(comp.rows[1].maps[0], attribute(fwd, "gradxinput", "output")[0],
                               rtol=1e-10, atol=1e-13)
    assert view._titles[0].text == "every map explains all outputs"
