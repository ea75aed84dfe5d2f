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


def test_the_window_shows_while_its_files_are_read(qtbot, held_load, held_files):
    from lrpgui import MainWindow

    window = MainWindow(model=held_files[0], dataset=held_files[1], wait=False)
    qtbot.addWidget(window)
    window.show()  # returned while the model is still being read
    qtbot.waitUntil(lambda: bool(held_load.threads), timeout=20000)
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
    from lrpgui import MainWindow

    window = MainWindow(model=held_files[0], dataset=held_files[1], wait=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(held_load.threads), timeout=20000)
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
