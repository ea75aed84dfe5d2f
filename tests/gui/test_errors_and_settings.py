"""Errors keep the window and the previous work; settings persist between sessions."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from lrpgui import MainWindow, rendering


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x00" * 64,
                                     b"not a model at all\n"])
def test_broken_model_file_keeps_the_previous_model(make_window, tmp_path, dialogs_shown,
                                                     content):
    window = make_window()
    model, result = window.state.model, window.state.explanation
    bad = tmp_path / "broken.npz"
    bad.write_bytes(content)
    assert window.open_model(str(bad)) is False
    assert window.state.model is model and window.state.explanation is result
    title, message = dialogs_shown[-1]
    assert "broken.npz" in message and title == "Cannot open model"
    assert window.isVisible()


def test_malicious_text_model_is_refused(make_window, tmp_path, dialogs_shown):
    window = make_window()
    bad = tmp_path / "evil.txt"
    bad.write_text("Linear 784 10\n" + "nan " * 7840 + "\n" + "1e999 " * 10 + "\n")
    before = window.state.model_path
    assert window.open_model(str(bad)) is False
    assert window.state.model_path == before
    assert "evil.txt" in dialogs_shown[-1][1]


def test_error_dialog_is_a_real_non_blocking_message_box(make_window, tmp_path, qtbot):
    window = make_window()
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"junk")
    assert window.open_model(str(bad)) is False  # returns at once: the box is not modal
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "broken.npz" in boxes[0].text()
    assert window.last_error == boxes[0].text()
    for box in boxes:
        box.close()


def test_dataset_that_does_not_fit_is_refused(make_window, tmp_path, dialogs_shown):
    window = make_window()
    colour = tmp_path / "colour_images.npy"
    np.save(colour, np.zeros((5, 32, 32, 3), dtype=np.uint8))
    dataset = window.state.dataset
    assert window.open_dataset(str(colour)) is False
    assert window.state.dataset is dataset
    assert "32" in dialogs_shown[-1][1]
    assert window.open_dataset(str(tmp_path / "nothing.npy")) is False
    assert "nothing.npy" in dialogs_shown[-1][1]


def test_missing_model_gives_an_empty_window_with_a_message(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr("lrpcore.bundled.MODELS_DIR", tmp_path / "no-models")
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.opening, timeout=20000)  # read on a worker
    assert window.state.model is None
    assert window.message.isVisible() and "No model" in window.message.text()
    assert window.export_png() == []  # nothing to export: reported, no crash


def test_settings_persist(make_window, qtbot, toy_files, settings_file):
    window = make_window()
    names = rendering.colormap_names()
    cmap = names[-1] if names[-1] != window.state.colormap else names[0]
    window.state.rule = "EpsilonPlusFlat"
    window.state.colormap = cmap
    window.state.outline = False
    window.state.dtype = "float32"
    window.close()
    assert settings_file.exists()
    again = MainWindow()  # no arguments: model and dataset come from the settings
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: not again.opening, timeout=20000)  # read on a worker
    s = again.state
    assert s.model_path == str(toy_files[0]) and s.dataset_name == str(toy_files[1])
    assert (s.rule, s.colormap, s.outline, s.dtype) == ("EpsilonPlusFlat", cmap, False,
                                                         "float32")
    assert again.rules.colormap_selector.currentData() == cmap
    assert str(toy_files[0]) in again.settings.recent("models")
    qtbot.waitUntil(lambda: s.explanation is not None, timeout=20000)
    assert s.explanation.relevance.dtype == np.float32


def test_failed_explanation_keeps_the_previous_result(make_window, qtbot, dialogs_shown):
    window = make_window()
    shown = window.state.explanation

    class OutOfMemoryError(MemoryError):  # the name cupy gives its allocation failures
        pass

    def fail(req, token=None):
        raise OutOfMemoryError("out of memory allocating 1,024 bytes")

    window.service.run = fail
    window.state.sample_index = 4
    qtbot.waitUntil(lambda: bool(dialogs_shown), timeout=20000)
    assert "ran out of memory" in dialogs_shown[-1][1]
    assert window.state.explanation is shown and window.isVisible()


def test_download_asks_first_shows_progress_and_cancels(make_window, qtbot, monkeypatch,
                                                       dialogs_shown):
    import threading

    calls, clicked = [], threading.Event()

    def fake_download(kind, progress=None, cancel=None):
        for k in range(200):
            if cancel():
                calls.append(("cancelled", k))
                from lrpcore.errors import DatasetError

                raise DatasetError("download cancelled")
            progress(k, 200, "train-images-idx3-ubyte.gz")
            if k == 5:  # the rest waits until the test has pressed Cancel (no fixed sleep)
                clicked.wait(20)
        calls.append(("done", 200))

    monkeypatch.setattr("lrpcore.io.download.download_mnist", fake_download)
    asked = []
    monkeypatch.setattr("lrpgui.dialogs.ask_download", lambda parent, what: asked.append(what))
    window = make_window()
    assert window.download_mnist("train") == 0  # the user said no: nothing fetched
    assert "training set" in asked[0] and calls == []
    monkeypatch.setattr("lrpgui.dialogs.ask_download", lambda parent, what: True)
    window.download_mnist("train")
    from PySide6.QtWidgets import QProgressDialog, QPushButton

    dialog = window.findChild(QProgressDialog, "downloadProgress")
    qtbot.waitUntil(lambda: dialog.value() >= 5, timeout=20000)
    assert "train-images" in dialog.labelText()
    dialog.findChild(QPushButton).click()
    clicked.set()
    qtbot.waitUntil(lambda: bool(calls), timeout=20000)
    assert calls[0][0] == "cancelled" and calls[0][1] < 200
    qtbot.waitUntil(lambda: window.findChild(QProgressDialog, "downloadProgress") is None,
                    timeout=20000)
    assert dialogs_shown == []  # a cancel the user asked for is not reported as a failure


def test_an_offline_download_fails_in_one_readable_sentence(make_window, qtbot, monkeypatch,
                                                             dialogs_shown, tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: the download cannot reach a server
    monkeypatch.setenv("LRP_MNIST_MIRROR", f"http://127.0.0.1:{port}/mnist/")
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    window = make_window()
    window.download_mnist("test", confirmed=True)
    qtbot.waitUntil(lambda: bool(dialogs_shown), timeout=30000)
    title, text = dialogs_shown[0]
    assert title == "Download failed" and "Could not reach the MNIST servers" in text
    assert "\n" not in text and "Traceback" not in text and len(text) < 300
    assert "need no download" in text  # and what works offline
    # what to do in the explorer, in one sentence: not the command line's --mirror option
    assert "--mirror" not in text and "LRP_MNIST_MIRROR" not in text
    assert "Download MNIST…" in text and "Browser" in text
    assert text.endswith(".") and text.count(". ") == 0 and text.count("?") == 0


def test_window_layout_persists(make_window, qtbot):
    from PySide6.QtCore import QByteArray
    from PySide6.QtWidgets import QDockWidget

    window = make_window(wait=False)
    window.findChild(QDockWidget, "sampleDock").hide()
    window.close()
    geometry = window.settings.get("window/geometry")
    assert isinstance(geometry, QByteArray) and geometry.size() > 0
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    assert not again.findChild(QDockWidget, "sampleDock").isVisible()
    assert again.findChild(QDockWidget, "ruleDock").isVisible()
    assert again.restoreGeometry(geometry)


def test_batch_export_button_asks_through_one_patchable_function(make_window, qtbot, tmp_path,
                                                                 monkeypatch):
    window = make_window()
    out = tmp_path / "via-button"
    out.mkdir()
    asked = []

    def answer(parent, n_selected, n_filtered, folder):
        asked.append((n_selected, n_filtered))
        return str(out), "filtered", ("npy",)

    monkeypatch.setattr("lrpgui.dialogs.ask_batch_export", answer)
    window.state.filter_true = 3
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.findChild(type(window.batch_button), "batchExportButton").click()
    wanted = np.flatnonzero(window.state.labels == 3)
    assert asked == [(len(window.grid.selected_indices()), wanted.size)]
    w = len(str(wanted.max()))  # numbers zero-padded to the largest one's digits
    assert {p.name for p in out.glob("*.npy")} == {f"relevance_{i:0{w}d}.npy" for i in wanted}
    assert window.settings.last_dir("export") == str(out)


def test_batch_export_dialog_answers(make_window, qtbot, tmp_path, monkeypatch):
    """The real dialog behind ``ask_batch_export``: its choices come back as the answer."""
    from lrpgui import dialogs
    from lrpgui.widgets import batch_dialog

    def accept(dialog):
        dialog.folder.setText(str(tmp_path))
        dialog.png.setChecked(False)
        return batch_dialog.BatchExportDialog.DialogCode.Accepted

    window = make_window(wait=False)
    monkeypatch.setattr(batch_dialog.BatchExportDialog, "exec", accept)
    assert dialogs.ask_batch_export(window, 3, 40, "") == (str(tmp_path), "selection", ("npy",))
    monkeypatch.setattr(batch_dialog.BatchExportDialog, "exec",
                        lambda d: batch_dialog.BatchExportDialog.DialogCode.Rejected)
    assert dialogs.ask_batch_export(window, 0, 40, "") is None
    monkeypatch.setattr("lrpgui.dialogs.ask_batch_export", lambda *a: (str(tmp_path),
                                                                       "filtered", ()))
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append(m))
    assert window.batch_export() == 0 and "PNG" in shown[-1]


def test_model_that_does_not_fit_the_dataset_is_refused(make_window, tmp_path, dialogs_shown,
                                                         close_dataset_questions):
    """The user is asked whether to close the dataset; Cancel keeps everything, and the
    status bar (no second box) says how to switch later."""
    import lrpcore
    from lrpcore.layers import Linear

    small = lrpcore.Sequential([Linear(np.ones((2, 2)), np.zeros(2))])
    path = tmp_path / "tiny-xor.npz"
    lrpcore.save_model(small, path)
    window = make_window()
    before = (window.state.model, window.state.dataset, window.state.explanation)
    assert window.open_model(str(path)) is False
    assert (window.state.model, window.state.dataset, window.state.explanation) == before
    title, question = close_dataset_questions[-1]
    assert title == "Model does not fit the dataset" and "tiny-xor.npz" in question
    assert "Close the dataset" in question and not dialogs_shown
    assert "tiny-xor.npz" in window.last_error and "File → Close dataset" in window.last_error


def test_a_model_named_at_start_that_cannot_open_is_reported(qtbot, tmp_path, dialogs_shown,
                                                             toy_files):
    bad = tmp_path / "truncated.txt"
    bad.write_text("Linear 3 3\n1 2\n")
    window = MainWindow(model=str(bad), dataset=str(toy_files[1]))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.opening, timeout=20000)  # read on a worker
    assert window.state.model is None
    assert dialogs_shown and "truncated.txt" in dialogs_shown[-1][1]
    assert "truncated.txt" in window.message.text()  # the reason stays in the window


def test_switching_to_a_model_for_other_data(make_window, tmp_path, dialogs_shown, qtbot):
    """A model that does not fit the open dataset is refused (question cancelled) with the way
    out in the message; after File → Close dataset it opens, and then its own dataset does."""
    from colour_models import tiny_colour_files
    from PySide6.QtGui import QAction

    import lrpcore

    colour, model_path, data_path = tiny_colour_files(tmp_path)

    window = make_window()
    assert window.open_model(str(model_path)) is False  # the question answered Cancel
    assert "Close dataset" in window.last_error
    window.findChild(QAction, "closeDatasetAction").trigger()
    assert window.state.dataset is None and window.state.explanation is None
    assert window.grid.model.rowCount() == 0 and "No dataset" in window.message.text()
    assert window.open_model(str(model_path)) is True
    assert window.open_dataset(str(data_path)) is True
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    want = lrpcore.explain(colour, window.state.dataset.images([0]), rule=window.state.rule)
    np.testing.assert_allclose(window.state.relevance, want[0], rtol=1e-12, atol=1e-15)
    window.close()
    assert window.settings.get_str("last/dataset") == str(data_path)


def test_a_bundled_model_by_name_is_not_listed_twice(make_window, toy_files):
    """A relevance store or the command line records the bundled LeNet-5 as "mnist-lenet5";
    the model list showed it twice: "mnist-lenet5" and "mnist-lenet5  (recent)"."""
    window = make_window()
    window.settings.add_recent("models", "mnist-lenet5")
    window.settings.add_recent("models", str(toy_files[0]))
    window.browser.refresh()
    texts = [window.browser.models.item(r).text()
             for r in range(window.browser.models.count())]
    assert texts.count("mnist-lenet5") == 1
    assert not any(t.startswith("mnist-lenet5") and "(recent)" in t for t in texts), texts
    assert any(t.startswith(toy_files[0].name) and "(recent)" in t for t in texts), texts


def test_file_menu_opens_a_folder_of_images(make_window, qtbot, tmp_path, monkeypatch):
    """Folders of PNG/JPEG images (a subfolder per class) are datasets, but Open dataset…
    offered a file dialog only: no folder could be chosen from the window."""
    from PIL import Image
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QWidget

    window = make_window()
    images = window.state.dataset.images(np.arange(4))[..., 0]
    folder = tmp_path / "digits"
    for k, img in enumerate(images):
        (folder / str(k % 2)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / str(k % 2) / f"d{k}.png")
    tip = window.findChild(QWidget, "openDatasetButton").toolTip()
    assert "File → Open image folder…" in tip  # the button's file dialog picks no folder
    asked = []
    monkeypatch.setattr("lrpgui.dialogs.ask_folder",
                        lambda parent, title, start: asked.append(title) or str(folder))
    window.findChild(QAction, "openImageFolderAction").trigger()
    assert asked == ["Open image folder"]
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert window.state.dataset_name == str(folder) and len(window.state.dataset) == 4
    assert list(window.state.labels) == [0, 0, 1, 1]
