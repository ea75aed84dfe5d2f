"""Polish of stop 24: small defects reviewers found in the explorer."""

from __future__ import annotations

from pathlib import Path

from tests.gui.test_builtin_dataset_names import choose, local_mnist_test  # noqa: F401
from tests.gui.test_startup_off_gui_thread import (  # noqa: F401
    held_files,
    held_load,
    window_reading_its_model,
)

MODELS = Path(__file__).resolve().parents[2] / "models"


# -- the built-in "mnist-test" beside a folder of that name -----------------------------------
# The explorer opens the built-in dataset for its name; its export sidecars, its reference
# cache key and its SpRAy window's "made on" check named the working folder's folder instead.

def _builtin_window(make_window, qtbot, folder):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=folder)
    choose(qtbot, window, "mnist-test")
    assert window.state.dataset_name == "mnist-test" and len(window.state.dataset) == 10000
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.request.dataset_name == "mnist-test",
                    timeout=20000)
    return window


def test_sidecars_of_the_built_in_name_the_built_in(make_window, qtbot, local_mnist_test):  # noqa: F811
    window = _builtin_window(make_window, qtbot, local_mnist_test)
    assert window.session.export_info()["dataset"] == "mnist-test"
    result = window.state.explanation
    assert window.session.result_info(result)["dataset"] == "mnist-test"
    window.close()


def test_references_of_the_built_in_are_keyed_by_its_name(make_window, qtbot, monkeypatch,
                                                          local_mnist_test):  # noqa: F811
    from lrpcore import relmax
    from lrpcore.errors import RuleError

    keys = []

    def caught(*args, dataset_id=None, **kwargs):
        keys.append(dataset_id)
        raise RuleError("stopped by the test")

    monkeypatch.setattr(relmax, "references", caught)
    window = _builtin_window(make_window, qtbot, local_mnist_test)
    panel = window.insight.show("concepts")
    # Find references searches the channels the panel shows: once it ranks them
    qtbot.waitUntil(lambda: panel.layer() is not None and panel.result is not None
                    and panel.result.layer == panel.layer(), timeout=60000)
    assert panel.find_references()
    qtbot.waitUntil(lambda: bool(keys), timeout=60000)
    assert len(keys) == 1 and keys[0].split("|")[:2] == ["mnist-test", "10000"]
    window.close()


def test_spray_results_are_checked_against_the_built_in(make_window, qtbot, tmp_path,
                                                         local_mnist_test):  # noqa: F811
    from tests.gui.test_spray_result_dataset import _result

    window = _builtin_window(make_window, qtbot, local_mnist_test)
    panel = window.insight.show("spray")
    folders, builtins = tmp_path / "folder.npz", tmp_path / "builtin.npz"
    _result({"dataset": str(local_mnist_test)}).save(folders)
    _result({"dataset": "mnist-test"}).save(builtins)
    assert panel.open(str(folders)) is None  # made on the folder, not on the open built-in
    assert str(local_mnist_test) in panel.last_error
    assert panel.open(str(builtins)) is not None
    window.close()


# -- the pixel-flipping tool ------------------------------------------------------------------
def test_the_pixel_flipping_curves_are_named_beside_the_plot(make_window, qtbot):
    # the legend was drawn in the plot's top right corner, over the curves that stay high;
    # the table of AOPCs below names each curve by a piece of its line instead
    from PySide6.QtGui import QColor

    from .insight_helpers import open_tool, rerun
    from .test_insight_pixelflip import configure

    window = make_window()
    panel = open_tool(qtbot, window, "pixelflip")
    configure(panel, ["epsilon:0.01", "alphabeta:2"], steps=10, per_step=10, patch=2)
    rerun(qtbot, panel, panel.run_button.click)
    import pyqtgraph as pg

    scene = panel.plot.scene()  # nothing drawn over the curves
    assert [item for item in scene.items() if isinstance(item, pg.LegendItem)] == []
    assert panel.table.rowCount() == 3  # both methods and the random order, each named
    assert panel.table.columnWidth(0) >= panel.table.sizeHintForColumn(0)  # names whole
    for row in range(panel.table.rowCount()):
        cell = panel.table.item(row, 0)
        pen = panel.curves[cell.text()].opts["pen"]
        picture = cell.icon().pixmap(28, 10).toImage()
        assert not cell.icon().isNull()
        assert QColor(picture.pixelColor(14, 5)).rgb() == pen.color().rgb()


# -- a dataset that fails to open during start-up ---------------------------------------------
def test_a_dataset_that_fails_meanwhile_keeps_the_start_up_dataset(
        qtbot, held_load, held_files, tmp_path, dialogs_shown):  # noqa: F811
    # the start-up dataset was dropped as soon as the user's was asked for: when that one
    # could not be read, the window was left with a model and no dataset at all
    from PySide6.QtCore import QTimer

    from .waiting import settle

    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not an array")
    window = window_reading_its_model(qtbot, held_load, held_files)
    QTimer.singleShot(0, held_load.release)  # served while the window waits for the dataset
    assert window.open_dataset(str(broken)) is False
    qtbot.waitUntil(lambda: not window.opening, timeout=20000)
    settle(qtbot, window.controller)
    s = window.state
    assert any(str(broken) in text for _, text in dialogs_shown)
    assert s.model_path == held_files[0] and s.dataset_name == held_files[1]
    qtbot.waitUntil(lambda: s.explanation is not None, timeout=20000)
    window.close()
