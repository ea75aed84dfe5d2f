"""First impressions: variety from the first tile, real held-out mistakes offline, and a
clear sentence instead of Qt's abort when X11 libraries are missing."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import bundled
from lrpcore.io.datasets import bundled_test_set, mixed_order
from lrpgui.display_check import display_problem, missing_x11_packages, uses_x11


def test_mixed_order_takes_the_classes_in_turn():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    order = mixed_order(labels)
    assert list(labels[order]) == [0, 1, 2, 0, 1, 2, 0, 2, 2]
    assert sorted(order) == list(range(labels.size))
    assert list(mixed_order(None, 3)) == [0, 1, 2]


def test_the_grid_opens_on_every_class_and_can_be_sorted(make_window):
    window = make_window()
    grid, labels = window.grid, window.state.labels
    first = grid.model.dataset_indices()[:10]
    assert len(set(labels[first])) == len(set(labels.tolist()) & set(range(10)))
    assert window.findChild(type(grid.order_box), "gridOrder").toolTip()
    grid.order_box.setCurrentIndex(grid.order_box.findData("class"))
    rows = grid.model.dataset_indices()
    assert np.all(np.diff(labels[rows]) >= 0)  # sorted by true class
    grid.order_box.setCurrentIndex(grid.order_box.findData("dataset"))
    assert np.array_equal(grid.model.dataset_indices(), np.arange(len(labels)))
    # the sample on display stays selected whatever the order
    row = grid.model.row_of(window.state.sample_index)
    assert grid.view.currentIndex().row() == row


def test_held_out_digits_ship_with_the_package_and_show_real_mistakes(qtbot):
    assert bundled_test_set() is not None
    ds = lrpcore.open_dataset("mnist-test")
    assert len(ds) == 10000 and "bundled" in ds.source and ds.labels[0] == 7
    assert bundled.default_dataset() == "mnist-test"
    from lrpgui import MainWindow

    window = MainWindow(model=str(bundled.default_model_path()))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.opening, timeout=20000)  # read on a worker
    assert window.state.dataset_name == "mnist-test"
    window.state.misclassified_only = True
    with qtbot.waitSignal(window.predictions_done, timeout=60000):
        pass
    rows = window.grid.model.dataset_indices()
    # the stored held-out accuracy of the bundled LeNet-5: 9834/10000 (models/README.md)
    assert rows.size == 10000 - 9834
    assert np.all(window.state.predictions[rows] != window.state.labels[rows])
    window.close()


@pytest.mark.parametrize("env,platform,expected", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({}, "darwin", False),
])
def test_x11_is_checked_only_where_qt_uses_it(env, platform, expected):
    assert uses_x11(env, platform) is expected


def test_missing_x11_libraries_are_named_in_one_sentence():
    missing = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    text = display_problem({"DISPLAY": ":0"}, "linux", loads=lambda so: so not in missing)
    assert "libxcb-icccm4" in text and "libxcb-keysyms1" in text and "apt-get" in text
    assert "\n" not in text
    assert missing_x11_packages(lambda so: True) == []
    assert display_problem({"DISPLAY": ":0"}, "linux", loads=lambda so: True) is None
    no_display = display_problem({}, "linux", loads=lambda so: True)
    assert "DISPLAY" in no_display and "offscreen" in no_display


def test_the_app_exits_with_the_sentence_instead_of_qt_abort(monkeypatch, capsys):
    from lrpgui import app

    monkeypatch.setattr("lrpgui.display_check.display_problem",
                        lambda: "the X11 libraries Qt needs are missing (libxcb-icccm4)")
    assert app.main([]) == 1
    assert "libxcb-icccm4" in capsys.readouterr().err
