"""Pixel-flipping, the sweep and the sanity check follow one class per sample: for target
"output" (all outputs) they follow the predicted class, and now say so; they switched without
a word, and the curves were labelled "the explained class" only."""

from __future__ import annotations

from pathlib import Path

from .insight_helpers import open_tool, predicted_class, rerun
from .test_insight_pixelflip import configure

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_pixel_flipping_names_the_class_it_follows(make_window, qtbot):
    window = make_window()
    panel = open_tool(qtbot, window, "pixelflip")
    configure(panel, ["epsilon:0.01"], steps=4)
    rerun(qtbot, panel, panel.refresh)
    title = panel.plot.getPlotItem().titleLabel.text
    cls = predicted_class(window)
    assert f"output of class {cls}" in title and "all outputs" not in title
    window.state.target = "output"
    rerun(qtbot, panel, panel.refresh)
    title = panel.plot.getPlotItem().titleLabel.text
    assert f"output of class {cls}" in title and "predicted class" in title
    assert panel.outcome.target == cls


def test_the_sweep_says_it_follows_the_predicted_class(make_window, toy_files, qtbot):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    window.state.target = "output"
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("epsilon")
    panel.params_edit.setText("epsilon=0.01,0.1")
    panel.n_spin.setValue(4)
    panel.steps.setValue(4)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.refresh()
    assert "The sweep follows each sample's predicted class" in window.state.status
