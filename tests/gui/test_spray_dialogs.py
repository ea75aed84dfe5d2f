"""The SpRAy window asks for files through lrpgui.dialogs like every other window (tests
answer it there; it used QFileDialog directly), starting where the last result was kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from lrpcore.spray import SprayResult

MODELS = Path(__file__).resolve().parents[2] / "models"


def _result(n=12):
    rng = np.random.default_rng(0)
    return SprayResult(indices=np.arange(n), labels=np.zeros(n, np.int64),
                       heatmaps=rng.normal(size=(n, 32, 32)),
                       features=rng.normal(size=(n, 64)), clusters=np.arange(n) % 2,
                       eigenvalues=np.linspace(0, 1, 6), embedding=rng.normal(size=(n, 2)),
                       meta={"class": 0})


@pytest.fixture(autouse=True)
def no_direct_file_dialogs(monkeypatch):
    """A QFileDialog opened directly would block the test: it fails instead."""
    def direct(*_a, **_k):
        raise AssertionError("QFileDialog called directly")

    for name in ("getSaveFileName", "getOpenFileName"):
        monkeypatch.setattr(QFileDialog, name, direct)


def test_save_and_open_ask_through_lrpgui_dialogs(make_window, toy_files, tmp_path,
                                                  monkeypatch, qtbot):
    asked = []

    def answer(path):
        def ask(parent, title, start, filters):
            asked.append((title, start, filters))
            return str(path)
        return ask

    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("spray")
    panel.show_result(_result())
    kept = tmp_path / "kept" / "class0.npz"
    kept.parent.mkdir()
    monkeypatch.setattr("lrpgui.dialogs.ask_save_file", answer(kept))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert kept.is_file() and panel.last_error is None
    assert asked[-1][0] == "Save SpRAy result" and asked[-1][2] == "SpRAy result (*.npz)"
    panel.clear_results()
    monkeypatch.setattr("lrpgui.dialogs.ask_open_file", answer(kept))
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert panel.result is not None
    np.testing.assert_array_equal(panel.result.clusters, _result().clusters)
    assert asked[-1][1] == str(kept.parent)  # it starts where the last result was kept
    monkeypatch.setattr("lrpgui.dialogs.ask_save_file", answer(""))  # cancelled
    assert panel.save() is None and panel.last_error is None
    assert asked[-1][1] == str(kept.parent / "spray.npz")


@pytest.mark.parametrize("button", ["save_button", "open_button"])
def test_a_cancelled_question_changes_nothing(make_window, toy_files, monkeypatch, qtbot,
                                              button):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("spray")
    result = _result()
    panel.show_result(result)
    for name in ("ask_save_file", "ask_open_file"):
        monkeypatch.setattr(f"lrpgui.dialogs.{name}", lambda *a: "")
    qtbot.mouseClick(getattr(panel, button), Qt.MouseButton.LeftButton)
    assert panel.result is result and panel.last_error is None
