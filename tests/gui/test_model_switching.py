"""Opening a model whose input does not fit the open dataset (EfficientNet-Lite0 while MNIST is
open): the window asks whether to close the dataset, and on yes opens the model, closes the
data and says which data fits; before, it only refused and left the user to find File → Close
dataset."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import tiny_colour_files

import lrpcore

from .conftest import shared_file


def test_yes_closes_the_dataset_and_opens_the_model(make_window, tmp_path, qtbot,
                                                    dialogs_shown, close_dataset_questions):
    model, path, data = tiny_colour_files(tmp_path)
    window = make_window()
    s = window.state
    assert window.settings.get_str("last/dataset") and window.time_label.text()
    close_dataset_questions.answer = True
    assert window.open_model(str(path)) is True
    title, question = close_dataset_questions[-1]
    assert title == "Model does not fit the dataset"
    assert str(path) in question and "toy_images.npy" in question  # the model and the data
    assert "Open image folder" in question  # and what to open instead
    assert not dialogs_shown
    assert s.model_path == str(path) and s.dataset is None and s.explanation is None
    assert window.grid.model.rowCount() == 0
    # nothing left over from the closed data: the status bar's figures described its sample
    assert not window.time_label.text() and not window.conservation_label.text()
    assert window.settings.get_str("last/dataset") is None
    assert window.message.isVisible() and "natural-images" in window.message.text()
    assert window.open_dataset(str(data)) is True
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    want = lrpcore.explain(model, s.dataset.images([0]), rule=s.rule)
    np.testing.assert_allclose(s.relevance, want[0], rtol=1e-6, atol=1e-9)


def test_the_browser_asks_too_and_cancel_changes_nothing(make_window, tmp_path, dialogs_shown,
                                                         close_dataset_questions):
    """A click on a model in the browser goes the same way; Cancel keeps model, data and
    picture and shows no second box, only the status line with the way out."""
    _model, path, _data = tiny_colour_files(tmp_path)
    window = make_window()
    s = window.state
    before = (s.model, s.dataset, s.explanation, window.time_label.text())
    window.browser.model_chosen.emit(str(path))
    assert len(close_dataset_questions) == 1 and not dialogs_shown
    assert (s.model, s.dataset, s.explanation, window.time_label.text()) == before
    assert "File → Close dataset" in s.status


def test_from_mnist_to_efficientnet_lite0_and_its_photographs(make_window, qtbot,
                                                              close_dataset_questions):
    """The reported case: the MNIST explorer switched to EfficientNet-Lite0 (ONNX) with one
    answer, then natural-images as the window suggests, explained in the model's settings."""
    pytest.importorskip("onnx")
    path = shared_file("models", "torch_onnx", "efficientnet_lite0.onnx")
    window = make_window()
    s = window.state
    close_dataset_questions.answer = True
    assert window.open_model(str(path)) is True
    assert "224×224×3" in close_dataset_questions[-1][1]
    assert s.dataset is None and "natural-images" in window.message.text()
    assert (s.rule, s.dtype) == ("EpsilonPlus", "float32")  # the photograph model's own
    assert window.open_dataset("natural-images") is True
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=60000)
    assert s.relevance.shape == (224, 224, 3) and not window.message.isVisible()
    assert len(close_dataset_questions) == 1


@pytest.mark.parametrize("button, answer", [("Close dataset and open model", True),
                                            ("Cancel", False)])
def test_the_question_box_answers_with_its_buttons(qtbot, close_dataset_questions, button,
                                                   answer):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen = []

    def press():  # the box is modal: answer it from the event loop it runs
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, press)
            return
        seen.append((box.windowTitle(), box.text(), box.objectName()))
        next(b for b in box.buttons() if b.text() == button).click()

    QTimer.singleShot(0, press)
    got = close_dataset_questions.real(None, "Model does not fit <b>", "m.onnx: <i>x</i>")
    assert got is answer
    assert seen == [("Model does not fit <b>", "m.onnx: <i>x</i>", "closeDatasetQuestion")]
