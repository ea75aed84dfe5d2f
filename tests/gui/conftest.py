"""Qt fixtures of the GUI tests: offscreen platform, a private settings file, a toy model and
dataset made here (no download, no /work/shared needed), and a guard that fails any test
leaving a QThread running (as napari's ``_dangling_qthreads``)."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from shared_data import SHARED, shared_path  # noqa: E402,F401 (the one finder of ../shared)

shared_file = shared_path  # the name the GUI tests use


@pytest.fixture
def dialogs_shown(monkeypatch):
    """The error dialogs a test caused, as (title, message), instead of modal boxes."""
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error",
                        lambda parent, title, message: shown.append((title, message)))
    return shown


class Questions(list):
    """Questions asked as (title, question); each is answered with ``answer``."""

    answer = False


@pytest.fixture(autouse=True)
def long_run_questions(monkeypatch):
    """"Run SpRAy over 10,000 samples?" answered Yes (as before it was asked) unless a test
    sets ``.answer = False``: a modal box would block."""
    asked = Questions()
    asked.answer = True

    def ask(parent, title, question):
        asked.append((title, question))
        return asked.answer

    monkeypatch.setattr("lrpgui.dialogs.ask_long_run", ask)
    return asked


@pytest.fixture(autouse=True)
def close_dataset_questions(monkeypatch):
    """"Close the dataset and open the model?" (asked when a model does not fit the open
    data), answered Cancel unless a test sets ``.answer = True``: a modal box would block."""
    from lrpgui import dialogs

    asked = Questions()
    asked.real = dialogs.ask_close_dataset  # for the test of the box itself

    def ask(parent, title, question):
        asked.append((title, question))
        return asked.answer

    monkeypatch.setattr("lrpgui.dialogs.ask_close_dataset", ask)
    return asked


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    """Every test gets its own settings ini; the user's settings are never touched."""
    path = tmp_path / "settings" / "lrp-explorer.ini"
    path.parent.mkdir()
    monkeypatch.setenv("LRP_EXPLORER_SETTINGS", str(path))
    return path


@pytest.fixture(autouse=True)
def _dangling_qthreads(monkeypatch, request):
    """Fail a test that leaves a QThread running after its widgets were closed."""
    from PySide6.QtCore import QThread

    started = []
    original = QThread.start

    def recording_start(self, *args, **kwargs):
        started.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.processEvents()
    # widgets a test left in reference cycles are destroyed here, on the GUI thread: collected
    # later by a worker thread's garbage collection, a QMenu's destructor and the GUI thread
    # deadlocked (one held the GIL, the other Qt's mutex; seen in a full run)
    gc.collect()
    from lrpgui.gui_collector import COLLECTOR

    COLLECTOR.reset()  # a window left open would keep automatic collection off for the rest
    running = [t for t in started if _is_running(t)]
    if running:
        for t in running:
            t.quit()
            t.wait(5000)
        names = ", ".join(t.objectName() or repr(t) for t in running)
        pytest.fail(f"{request.node.name} left QThreads running: {names}")


def _is_running(thread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is gone: not running
        return False


def toy_model():
    """A small convolutional MNIST-shaped model with fixed random weights."""
    import lrpcore
    from lrpcore.layers import Convolution, Flatten, Linear, Rect, SumPool
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(7)
    layers = [Convolution(rng.normal(0, 0.2, (5, 5, 1, 4)), rng.normal(0, 0.01, 4)), Rect(),
              SumPool((2, 2), (2, 2)), Flatten(),
              Linear(rng.normal(0, 0.05, (576, 10)), rng.normal(0, 0.01, 10))]
    return lrpcore.Sequential(layers, InputSpec(shape=(28, 28, 1), raw_shape=(28, 28, 1)))


@pytest.fixture(scope="session")
def toy_files(tmp_path_factory):
    """(model.npz, images.npy) with labels beside the images (``toy_labels.npy``)."""
    import lrpcore

    folder = tmp_path_factory.mktemp("toy")
    model_path = folder / "toy-model.npz"
    lrpcore.save_model(toy_model(), model_path)
    rng = np.random.default_rng(3)
    images = np.zeros((120, 28, 28), dtype=np.uint8)
    for k in range(images.shape[0]):  # a few bright strokes per image
        for _ in range(4):
            r, c = rng.integers(4, 24, size=2)
            images[k, r - 2:r + 3, c - 1:c + 2] = rng.integers(120, 256)
    images_path = folder / "toy_images.npy"
    np.save(images_path, images.reshape(120, 784))
    np.save(folder / "toy_labels.npy", rng.integers(0, 10, 120).astype(np.int64))
    return model_path, images_path


@pytest.fixture
def make_window(qtbot, toy_files):
    """Open a MainWindow (toy model and data unless told otherwise) and wait for sample 0."""
    from lrpgui import MainWindow

    def make(model=None, dataset=None, wait=True):
        model = toy_files[0] if model is None else model
        dataset = toy_files[1] if dataset is None else dataset
        window = MainWindow(model=str(model), dataset=str(dataset))
        qtbot.addWidget(window)
        window.show()
        # the files are read on a worker: open (or refused) once ``opening`` ends
        qtbot.waitUntil(lambda: not window.opening, timeout=60000)
        if wait:
            qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
            qtbot.waitUntil(lambda: not window.controller.pending("predict"), timeout=20000)
        return window

    return make
