"""A toolbox .txt cut at a line end loads as a smaller model: the explorer says so when it
opens one (the status bar, and a ⚠ line in the model summary), as 'lrp info' does."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore.io.toolbox_txt import write_toolbox_txt
from lrpcore.layers import Linear, Rect


def test_a_model_cut_after_a_rect_is_flagged(make_window, qtbot, tmp_path, toy_files):
    rng = np.random.default_rng(0)
    full = lrpcore.Sequential([Linear(rng.normal(0, 0.05, (784, 20)), np.zeros(20)), Rect(),
                               Linear(rng.normal(0, 0.2, (20, 10)), np.zeros(10))])
    write_toolbox_txt(full, tmp_path / "full.txt")
    text = (tmp_path / "full.txt").read_text()
    cut = tmp_path / "cut.txt"
    cut.write_text(text[:text.rindex("Linear")])  # the last layer lost at a line end
    statuses = []
    window = make_window(model=tmp_path / "full.txt", dataset=toy_files[1])
    window.state.events.status.connect(statuses.append)
    assert "⚠" not in window.browser.summary.toPlainText()
    assert window.open_model(str(cut))
    assert any("cut short" in s for s in statuses), statuses
    assert "⚠" in window.browser.summary.toPlainText()
    assert "cut short" in window.browser.summary.toPlainText()
