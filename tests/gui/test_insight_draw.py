"""Draw a digit: MNIST-like preprocessing, strokes by simulated mouse events change the
prediction (throttled, computed on the worker), the scratch set and its export."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from scipy import ndimage

import lrpcore
from lrpcore.errors import ShapeError
from lrpgui.insight import worker_tasks
from lrpgui.insight.digit_prep import mnist_like

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"


# -- preprocessing (no Qt) --------------------------------------------------------------------
def test_mnist_like_fits_a_20_box_and_centres_the_mass():
    ink = np.zeros((280, 280))
    ink[10:130, 200:260] = 1.0  # a block in the top right corner
    d = mnist_like(ink)
    assert d.dtype == np.uint8 and d.shape == (28, 28) and d.max() == 255
    rows, cols = np.nonzero(d > 0)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21
    cy, cx = ndimage.center_of_mass(d.astype(float))
    assert cy == pytest.approx(13.5, abs=0.6) and cx == pytest.approx(13.5, abs=0.6)
    assert d[0].max() == 0 and d[:, 0].max() == 0  # dark background at the border
    plain = mnist_like(ink, centre=False)
    assert plain[:14, 14:].sum() > 10 * plain[14:, :14].sum()  # stays where it was drawn


def test_mnist_like_edge_cases():
    assert not mnist_like(np.zeros((50, 50))).any()
    with pytest.raises(ShapeError):
        mnist_like(np.full((10, 10), np.nan))
    with pytest.raises(ShapeError):
        mnist_like(np.zeros(10))


# -- the pad ----------------------------------------------------------------------------------
def stroke(qtbot, pad, points):
    """Press at the first point, move through the others, release at the last."""
    rect = pad.canvas_rect()

    def at(p):
        return QPoint(int(rect.x() + p[0] * rect.width()), int(rect.y() + p[1] * rect.height()))

    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=at(points[0]))
    for p in points[1:]:
        qtbot.mouseMove(pad, pos=at(p))
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=at(points[-1]))
    return len(points) - 1


def line(a, b, n=12):
    return [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for t in np.linspace(0, 1, n)]


@pytest.fixture
def draw_window(make_window, qtbot):
    if not BUNDLED.exists():
        pytest.skip(f"{BUNDLED} is not available")
    window = make_window(model=BUNDLED)
    panel = window.insight.panels["draw"]
    window.insight.actions["draw"].trigger()
    qtbot.waitUntil(lambda: panel.pad.isVisible(), timeout=5000)
    return window, panel


def wait_result_for_ink(qtbot, panel):
    qtbot.waitUntil(lambda: panel.result is not None and panel.result_version == panel.pad.version
                    and not panel.busy(), timeout=20000)
    return panel.result


def test_strokes_change_the_prediction(draw_window, qtbot, monkeypatch):
    window, panel = draw_window
    assert panel.objectName() == "drawPanel" and panel.pad.objectName() == "drawPad"
    threads, submits = [], []
    original = worker_tasks.run_draw

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(worker_tasks, "run_draw", recording)
    from lrpgui.insight import draw_pad

    monkeypatch.setattr(draw_pad, "run_draw", recording)
    real_submit = panel.runner.submit
    monkeypatch.setattr(panel.runner, "submit",
                        lambda *a, **k: submits.append(1) or real_submit(*a, **k))
    assert panel.pad.is_empty() and panel.result is None
    moves = stroke(qtbot, panel.pad, line((0.5, 0.12), (0.5, 0.88), 40))  # a "1"
    first = wait_result_for_ink(qtbot, panel)
    model = window.state.model
    digit = first.digit
    assert digit.dtype == np.uint8 and digit.shape == (28, 28)
    assert digit.max() == 255 and digit[0].max() == 0  # ink bright on dark background
    scores = lrpcore.predict(model, digit.reshape(1, 28, 28, 1))[0]
    np.testing.assert_allclose(first.scores, scores, rtol=1e-10)
    assert first.prediction == int(scores.argmax()) == 1
    relevance = lrpcore.explain(model, digit.reshape(1, 28, 28, 1), rule=window.state.rule)
    np.testing.assert_allclose(first.relevance, relevance[0, 2:-2, 2:-2, :] if
                               relevance.shape[1] == 32 else relevance[0], rtol=1e-10,
                               atol=1e-13)
    assert panel.prediction.text().startswith("prediction: 1")
    # throttled: far fewer jobs than pen movements, all on the worker thread
    assert 1 <= len(submits) < moves
    assert threads and all(t is not threading.main_thread() for t in threads)

    # a horizontal bar on top turns the "1" into a "7"
    stroke(qtbot, panel.pad, line((0.22, 0.14), (0.52, 0.12), 20))
    second = wait_result_for_ink(qtbot, panel)
    assert second.prediction != first.prediction
    assert not np.array_equal(second.scores, first.scores)
    scores = lrpcore.predict(model, second.digit.reshape(1, 28, 28, 1))[0]
    assert second.prediction == int(scores.argmax())

    panel.clear_button.click()
    assert panel.pad.is_empty() and panel.result is None
    assert panel.prediction.text() == "draw a digit"


def test_scratch_set_and_export(draw_window, qtbot, tmp_path):
    window, panel = draw_window
    assert panel.export_scratch(tmp_path / "none.npy") is None  # empty: refused, no file
    assert "empty" in panel.last_error and not (tmp_path / "none.npy").exists()
    stroke(qtbot, panel.pad, line((0.5, 0.15), (0.5, 0.85)))
    one = wait_result_for_ink(qtbot, panel).digit.copy()
    assert panel.add_to_scratch() == 0
    panel.clear()
    stroke(qtbot, panel.pad, line((0.25, 0.5), (0.75, 0.5)))
    dash = wait_result_for_ink(qtbot, panel).digit.copy()
    assert panel.add_to_scratch() == 1
    assert panel.scratch_list.count() == 2
    path = panel.export_scratch(tmp_path / "drawn.npy")
    saved = np.load(path)
    assert saved.dtype == np.uint8 and saved.shape == (2, 28, 28)
    np.testing.assert_array_equal(saved[0], one)
    np.testing.assert_array_equal(saved[1], dash)
    assert not list(tmp_path.glob("*.tmp*"))
    # selecting a kept drawing brings it back on the pad and explains it again
    panel.scratch_list.setCurrentRow(0)
    back = wait_result_for_ink(qtbot, panel)
    assert back.prediction == 1
    assert np.abs(back.digit.astype(int) - one.astype(int)).mean() < 20
    panel.remove_selected()
    assert panel.scratch_list.count() == 1 and len(panel.scratch) == 1
    np.testing.assert_array_equal(panel.scratch_digits()[0], dash)


def test_brush_size_changes_the_stroke(draw_window, qtbot):
    _window, panel = draw_window
    panel.brush.setValue(1.0)
    stroke(qtbot, panel.pad, line((0.3, 0.5), (0.7, 0.5)))
    thin = panel.pad.ink().sum()
    panel.clear()
    panel.brush.setValue(4.0)
    stroke(qtbot, panel.pad, line((0.3, 0.5), (0.7, 0.5)))
    assert panel.pad.ink().sum() > 2.5 * thin
    wait_result_for_ink(qtbot, panel)


def test_window_close_stops_the_insight_thread(draw_window, qtbot):
    window, panel = draw_window
    stroke(qtbot, panel.pad, line((0.5, 0.2), (0.5, 0.8)))
    thread = window.controller.threads["insight"]
    window.close()
    assert not thread.isRunning()


def test_scratch_export_dialog_remembers_the_export_folder(draw_window, qtbot, tmp_path,
                                                          monkeypatch):
    window, panel = draw_window
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    window.settings.set_last_dir("export", str(first))
    stroke(qtbot, panel.pad, line((0.5, 0.15), (0.5, 0.85)))
    wait_result_for_ink(qtbot, panel)
    panel.add_to_scratch()
    offered = []

    def answer(parent, title, path, filters):
        offered.append(path)
        return str(second / "mine.npy")

    monkeypatch.setattr("lrpgui.dialogs.ask_save_file", answer)
    assert panel.export_scratch() == str(second / "mine.npy")
    assert offered == [str(first / "drawn_digits.npy")]
    assert window.settings.last_dir("export") == str(second)  # Export PNG starts there next


def test_drawn_input_and_its_relevance_are_drawn_at_one_size(draw_window, qtbot):
    """The heatmap's title names rule and target on a second line; its column grew wider
    than the input's, and the digit and its relevance were drawn at different scales."""
    window, panel = draw_window
    with window.state.batch():
        window.state.rule = "EpsilonGammaBox"
        window.state.layer_rules = {0: "zb", 3: "alphabeta:2"}
    stroke(qtbot, panel.pad, line((0.5, 0.12), (0.5, 0.88), 20))
    wait_result_for_ink(qtbot, panel)
    assert "EpsilonGammaBox" in panel.heat_title.text

    def same_size():
        a, b = panel.input_box.geometry(), panel.heat_box.geometry()
        return a.size() == b.size() and a.top() == b.top()

    qtbot.waitUntil(same_size, timeout=5000)  # a layout pass after the title changed
    assert panel.input_box.viewRect() == panel.heat_box.viewRect()
    for width in (700, 1100):  # a narrow and a wide tool window
        panel.window().resize(width, 600)
        qtbot.waitUntil(same_size, timeout=5000)
    panel.clear()  # the title goes back to one line: still one size
    qtbot.waitUntil(same_size, timeout=5000)


def test_target_true_names_the_predicted_class_it_explains(draw_window, qtbot):
    """A drawing has no label: target "true" explains the predicted class; the title said
    "true class" over a map of the predicted one."""
    window, panel = draw_window
    window.state.target = "true"
    stroke(qtbot, panel.pad, line((0.5, 0.12), (0.5, 0.88), 20))
    result = wait_result_for_ink(qtbot, panel)
    title = panel.heat_title.text
    assert "predicted class" in title and "no true class" in title
    relevance = lrpcore.explain(window.state.model, result.digit.reshape(1, 28, 28, 1),
                                rule=window.state.rule, target=result.prediction)
    np.testing.assert_allclose(result.relevance, relevance[0, 2:-2, 2:-2, :], rtol=1e-10,
                               atol=1e-13)
