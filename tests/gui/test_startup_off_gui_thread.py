"""The files named at start (or remembered) are read on the file worker while the window
shows, as an opened dataset is (``Session.read_dataset``): ``MainWindow(model, dataset)``
loaded the model and read the dataset on the GUI thread before the window could appear (a
photograph model and its image folder: seconds of a blank screen). Errors are the window's
error dialogs; the window stays; a file the user opens meanwhile wins."""

from __future__ import annotations

import threading

import pytest

import lrpcore

from .waiting import settle


@pytest.fixture
def held_load(monkeypatch):
    """``lrpcore.load_model`` of files whose name contains "held" waits for ``release``
    (at most 20 s) and records the thread it ran on."""
    real = lrpcore.load_model
    gate, threads = threading.Event(), []

    def load(path, *args, **kwargs):
        if "held" in str(path):
            threads.append(threading.current_thread())
            gate.wait(20)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(lrpcore, "load_model", load)
    load.release, load.threads = gate.set, threads
    yield load
    gate.set()


@pytest.fixture
def held_files(toy_files, tmp_path):
    import shutil

    model = tmp_path / "held-model.npz"
    shutil.copy(toy_files[0], model)
    return str(model), str(toy_files[1])


def window_reading_its_model(qtbot, held_load, held_files):
    """The window started on ``held_files``, shown while its model is being read (held)."""
    from lrpgui import MainWindow

    window = MainWindow(model=held_files[0], dataset=held_files[1], wait=False)
    qtbot.addWidget(window)
    window.show()  # returned while the model is still being read
    qtbot.waitUntil(lambda: bool(held_load.threads), timeout=20000)
    return window


def test_the_window_shows_while_its_files_are_read(qtbot, held_load, held_files):

    window = window_reading_its_model(qtbot, held_load, held_files)
    assert held_load.threads[0] is not threading.main_thread()
    assert window.opening and window.state.model is None
    assert window.message.isVisible() and "Opening" in window.message.text()
    with qtbot.waitSignal(window.opened, timeout=20000):
        held_load.release()
    assert not window.opening and window.state.model_path == held_files[0]
    assert window.state.dataset_name == held_files[1] and not window.message.isVisible()
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    window.close()


def test_a_script_is_given_the_window_with_its_files_open(qtbot, held_load, held_files):
    """``MainWindow(model, dataset)`` has always returned with both open, and scripts read
    ``window.state`` at once: it still does, the files read on the worker meanwhile."""
    from lrpgui import MainWindow

    held_load.release()  # recorded, not held
    window = MainWindow(model=held_files[0], dataset=held_files[1])
    qtbot.addWidget(window)
    assert not window.opening and window.state.model_path == held_files[0]
    assert window.state.dataset_name == held_files[1]
    assert held_load.threads and held_load.threads[0] is not threading.main_thread()
    window.close()


def test_a_file_that_does_not_open_is_an_error_of_the_window(qtbot, tmp_path, toy_files,
                                                             dialogs_shown, monkeypatch):
    """An internal fault of a loader, not only a refused file, is said in a dialog; the
    window stays up, empty, with the reason."""
    from lrpgui import MainWindow

    def broken(path, *args, **kwargs):
        raise RuntimeError("the loader broke")

    monkeypatch.setattr(lrpcore, "load_model", broken)
    window = MainWindow(model=str(toy_files[0]), dataset=str(toy_files[1]), wait=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.opening, timeout=20000)
    assert dialogs_shown and "the loader broke" in dialogs_shown[-1][1]
    assert window.isVisible() and window.state.model is None
    assert "the loader broke" in window.message.text()
    window.close()


def test_a_model_opened_meanwhile_wins(qtbot, held_load, held_files, toy_files):

    window = window_reading_its_model(qtbot, held_load, held_files)
    assert window.open_model(str(toy_files[0])) is True
    assert not window.opening
    held_load.release()
    settle(qtbot, window.controller)  # the start-up read ends, and is dropped
    assert window.state.model_path == str(toy_files[0]) and window.state.dataset is None
    window.close()


def test_start_options_apply_to_the_files_once_open(tmp_path, toy_files):
    """``--sample`` and ``--rule`` set the view the files open into (a sample set before
    the dataset opened would be reset to 0; a rule before the model, replaced by its
    defaults)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LRP_EXPLORER_SETTINGS=str(
        tmp_path / "s.ini"), PYTHONPATH=os.pathsep.join(sys.path))
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, "-m", "lrpgui", "--model", str(toy_files[0]), "--dataset",
         str(toy_files[1]), "--sample", "7", "--rule", "alphabeta:2", "--screenshot",
         str(shot)], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    settings = (tmp_path / "s.ini").read_text()
    assert "rule=alphabeta:2" in settings and '\\"index\\": 7' in settings, settings


@pytest.fixture
def datasets_read(monkeypatch):
    """The datasets ``lrpgui.sources.open_dataset`` was asked for, in order."""
    import lrpgui.sources

    real, names = lrpgui.sources.open_dataset, []

    def recording(spec):
        names.append(str(spec))
        return real(spec)

    monkeypatch.setattr(lrpgui.sources, "open_dataset", recording)
    return names


def test_a_dataset_opened_meanwhile_wins_and_the_model_still_opens(
        qtbot, held_load, held_files, tmp_path, datasets_read):
    """A dataset opened while the start-up model was read waited for the whole start-up read
    (its dataset too), which was then thrown away with its model: the dataset opened with no
    model. Now the start-up read skips its dataset, its model opens, and the user's dataset
    is read for that model right after it."""
    import numpy as np
    from PySide6.QtCore import QTimer


    other = tmp_path / "other.npy"
    np.save(other, np.load(held_files[1])[:7])
    window = window_reading_its_model(qtbot, held_load, held_files)
    QTimer.singleShot(0, held_load.release)  # served while the window waits for the dataset
    assert window.open_dataset(str(other)) is True
    settle(qtbot, window.controller)
    s = window.state
    assert not window.opening
    assert s.model_path == held_files[0] and s.dataset_name == str(other)
    assert len(s.dataset) == 7 and held_files[1] not in datasets_read  # never read
    qtbot.waitUntil(lambda: s.explanation is not None, timeout=20000)
    assert s.explanation.index == 0 and s.model_path == held_files[0]
    window.close()


def test_closing_the_dataset_meanwhile_keeps_the_start_up_model(qtbot, held_load, held_files,
                                                                datasets_read):

    window = window_reading_its_model(qtbot, held_load, held_files)
    window.close_dataset()
    with qtbot.waitSignal(window.opened, timeout=20000):
        held_load.release()
    settle(qtbot, window.controller)
    assert window.state.model_path == held_files[0] and window.state.dataset is None
    assert held_files[1] not in datasets_read
    window.close()


def test_a_dataset_opened_while_the_start_up_dataset_is_read_does_not_wait_for_it(
        qtbot, held_files, tmp_path, monkeypatch):
    """The start-up dataset being read (a slow image folder, mnist-train) held the user's
    dataset behind it on the one file worker. Now it is read beside it: the user's dataset
    and the start-up model open while the start-up dataset is still being read, and that
    dataset, once read, is dropped."""
    import numpy as np

    import lrpgui.sources
    from lrpgui import MainWindow

    real, gate, held = lrpgui.sources.open_dataset, threading.Event(), []

    def slow(spec):
        if str(spec) == held_files[1]:
            held.append(spec)
            held.append(gate.wait(20))  # False: nobody released it (the user's read waited)
        return real(spec)

    monkeypatch.setattr(lrpgui.sources, "open_dataset", slow)
    other = tmp_path / "other.npy"
    np.save(other, np.load(held_files[1])[:7])
    window = MainWindow(model=held_files[0], dataset=held_files[1], wait=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(held), timeout=20000)  # the start-up dataset is being read
    assert window.open_dataset(str(other)) is True
    s = window.state
    assert len(held) == 1  # returned while the start-up dataset is still held
    assert not window.opening and s.model_path == held_files[0]
    assert s.dataset_name == str(other) and len(s.dataset) == 7
    gate.set()
    settle(qtbot, window.controller)  # the start-up read ends; its dataset is dropped
    assert held[1] is True and s.dataset_name == str(other) and len(s.dataset) == 7
    qtbot.waitUntil(lambda: s.explanation is not None, timeout=20000)
    window.close()
