"""The plots' axes: the pixel-flipping plot's x axis says what is flipped ("pixels flipped",
"2×2 patches flipped"; it said "units flipped" whatever the patch); every plot's axes are in
dark text (pyqtgraph's grey, (150, 150, 150), on white was faint) and unscaled."""

from __future__ import annotations

from PySide6.QtGui import QColor

from .insight_helpers import open_tool, rerun


def test_flip_axes_name_the_unit_and_read_plainly(make_window, qtbot):
    window = make_window()
    panel = open_tool(qtbot, window, "pixelflip")
    panel.live.setChecked(False)
    panel.methods_edit.setText("epsilon:0.01")
    panel.random.setChecked(False)
    panel.steps.setValue(5)
    rerun(qtbot, panel, panel.refresh)
    bottom, left = panel.plot.getAxis("bottom"), panel.plot.getAxis("left")
    assert panel.outcome.results[0].unit == 1
    assert bottom.labelText == "pixels flipped"
    panel.patch.setValue(2)
    rerun(qtbot, panel, panel.refresh)
    assert panel.outcome.results[0].unit == 2
    assert bottom.labelText == "2×2 patches flipped"
    assert left.labelText == "output of the explained class"
    panel.plot.setYRange(0, 0.002, padding=0)  # scaled, it read "2 (x0.001)"
    for axis in (bottom, left):
        assert "(x" not in axis.labelString()
        assert QColor(axis.textPen().color()).lightness() < 100


def test_every_plot_of_the_window_titles_its_axes_in_dark_text(make_window, qtbot):
    """The class scores, the tools' plots and the colour bar's numbers alike."""
    window = make_window()
    plots = [window.scores]
    for name in ("pixelflip", "conservation"):
        plots.append(window.insight[name].plot)
    plots.append(window.insight["spray"].eigen_plot)
    for plot in plots:
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.labelText and not axis.autoSIPrefix
            assert QColor(axis.textPen().color()).lightness() < 100, (plot, side)
    assert QColor(window.views.colorbar.axis.textPen().color()).lightness() < 100
