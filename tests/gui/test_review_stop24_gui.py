"""Stop 24's acceptance review of the explorer: defects found by using it as a new user."""

from __future__ import annotations

import shutil

import numpy as np


def test_a_refusal_leaves_the_status_bar_when_a_file_opens(make_window, toy_files, tmp_path,
                                                           dialogs_shown):
    """A dataset the model cannot take is refused in the status bar; the digits opened next
    were shown under "Dataset does not fit the model: …" for 8 s, as if refused too."""
    window = make_window()
    colour = tmp_path / "photos.npy"
    np.save(colour, np.zeros((3, 16, 16, 3), dtype=np.uint8))
    assert window.open_dataset(str(colour)) is False
    assert "photos.npy" in window.state.status and "photos.npy" in dialogs_shown[-1][1]
    assert "does not fit" in window.statusBar().currentMessage()  # shortened in the middle

    digits = tmp_path / "more_images.npy"
    shutil.copy(toy_files[1], digits)
    assert window.open_dataset(str(digits)) is True
    assert "photos.npy" not in window.state.status
    assert "does not fit" not in window.statusBar().currentMessage()


def test_a_status_set_by_the_open_itself_stays(make_window, toy_files, tmp_path):
    """Only the refusal goes: what opening the file says (here: no labels, so the true
    class target became the predicted class) is kept."""
    window = make_window()
    window.state.target = "true"
    window.open_dataset(str(tmp_path / "missing.npy"))  # refused: no such file
    unlabelled = tmp_path / "drawings.npy"
    np.save(unlabelled, np.load(toy_files[1])[:5])
    assert window.open_dataset(str(unlabelled)) is True
    assert "drawings.npy has no labels" in window.state.status


def test_compare_draws_each_rule_once_when_the_main_rule_is_one_of_its_rows(make_window,
                                                                            qtbot):
    """Compare's first row follows the main rule; choosing a rule that another row already
    showed (EpsilonGammaBox on a photograph model) drew it twice and dropped the rule shown
    before. The two rows now trade places."""
    from .insight_helpers import open_tool

    window = make_window()
    view = open_tool(qtbot, window, "compare")
    before = view.rules()
    assert len(set(before)) == len(before) >= 3
    window.state.rule = before[2]
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    after = view.rules()
    assert after[0] == before[2] and len(set(after)) == len(after)
    assert sorted(after) == sorted(before)  # the rule shown before is still compared


def test_sanity_maps_are_drawn_at_one_size(make_window, toy_files, qtbot):
    """The sanity window drew the original maps, under the narrowest title, at about half
    the width of the randomised maps beside them (the grid shared its width by the titles)."""
    from pathlib import Path

    from PySide6.QtCore import Qt

    model = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"
    window = make_window(model=model, dataset=toy_files[1])
    panel = window.insight.show("sanity", (1000, 640))
    panel.rule_edit.setText("epsilon:0.01")
    panel.n_spin.setValue(4)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    grid = panel.maps.ci

    def widths():
        grid.layout.activate()
        return [grid.getItem(1, k).geometry().width() for k in range(len(panel.steps))]

    qtbot.waitUntil(lambda: min(widths()) > 0, timeout=10000)
    assert len(widths()) == 5 and max(widths()) - min(widths()) <= 1, widths()


def test_sanity_maps_scroll_without_widening_the_tool(make_window, toy_files, qtbot):
    """A sanity check's maps (one column per randomisation step: eleven for the MNIST ResNet)
    made the whole tool as wide as their grid: the verdict was cut and the Run button lay
    beyond the dock's edge. The grid now scrolls on its own; the tool keeps its width."""
    from pathlib import Path

    from PySide6.QtCore import Qt

    model = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"
    window = make_window(model=model, dataset=toy_files[1])
    panel = window.insight.show("sanity", (1000, 640))
    before = panel.minimumSizeHint().width()
    panel.rule_edit.setText("epsilon:0.01")
    panel.n_spin.setValue(4)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    grid = panel.maps.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
    assert grid > before  # five titled columns need more than the controls do
    qtbot.waitUntil(lambda: panel.maps.minimumWidth() >= grid, timeout=10000)  # kept whole
    assert panel.minimumSizeHint().width() == before


def test_the_summary_of_a_model_without_class_names_says_where_names_come_from(tmp_path):
    """An ONNX ImageNet classifier's summary listed "classes: 0, 1, 2, … 99, … (1,000
    classes)": a hundred numbers and no hint. Like `lrp info`, it names the output count and
    the sidecar that would name them; named classes are still listed."""
    import lrpcore
    from lrpgui.widgets.model_summary import summary_html

    from .conftest import toy_model

    model = toy_model()
    path = tmp_path / "net.npz"
    lrpcore.save_model(model, path)
    text = summary_html(lrpcore.load_model(path), str(path))
    assert "classes: 10 outputs, unnamed" in text and "net.json" in text
    assert "0, 1, 2" not in text
    named = lrpcore.load_model("mnist-lenet5")
    assert "classes: 0, 1, 2, 3" in summary_html(named, "mnist-lenet5.npz")
