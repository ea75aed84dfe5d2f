"""The real program in a subprocess: exit status 0 (PySide6 6.12 + pyqtgraph 0.14 aborted at
exit after an image view was shown; this catches such regressions), screenshot, --profile."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(args, settings, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LRP_EXPLORER_SETTINGS=str(settings))
    return subprocess.run([sys.executable, "-m", "lrpgui", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_launch_and_quit_after_load(toy_files, tmp_path):
    model, data = toy_files
    shot = tmp_path / "shot.png"
    proc = run(["--model", str(model), "--dataset", str(data), "--quit-after-load",
                "--screenshot", str(shot)], tmp_path / "s.ini")
    assert proc.returncode == 0, proc.stderr[-2000:]
    from skimage.io import imread

    image = imread(shot)
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert image[..., :3].std() > 10  # not a blank picture


def test_launch_with_the_defaults(tmp_path):
    proc = run(["--quit-after-load"], tmp_path / "s.ini")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_profile_prints_both_medians(toy_files, tmp_path):
    import pstats
    import re

    model, data = toy_files
    proc = run(["--model", str(model), "--dataset", str(data), "--profile", "--profile-stats",
                str(tmp_path / "p")], tmp_path / "s.ini")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "click-to-heatmap: median" in proc.stdout
    assert "colormap switch: median" in proc.stdout
    # the click split into the worker's steps, the render and the rest of the GUI's time
    split = re.search(r"split \(medians\): (.*) ms", proc.stdout).group(1)
    names = [part.rsplit(" ", 1)[0] for part in split.split(" | ")]
    assert names == ["forward", "relevance", "prepare", "render", "GUI"]
    assert "then the conservation diagnosis of the same trace: median" in proc.stdout
    # cProfile of the worker's explanations and of the GUI thread
    worker = pstats.Stats(str(tmp_path / "p-worker.pstats"))
    assert any(name == "run" and "services" in file for file, _l, name in worker.stats)
    gui = pstats.Stats(str(tmp_path / "p-gui.pstats"))
    assert any(name == "accept_explanation" for _f, _l, name in gui.stats)


def test_help_shows_an_example():
    proc = subprocess.run([sys.executable, "-m", "lrpgui", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "example:" in proc.stdout and "--model" in proc.stdout


@pytest.mark.parametrize("bad", [["--model"], ["--timeout", "x"]])
def test_bad_arguments_exit_with_usage(bad):
    proc = subprocess.run([sys.executable, "-m", "lrpgui", *bad], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_a_script_that_never_closes_the_window_exits_cleanly(toy_files, tmp_path):
    """Qt aborts a process that ends while a QThread runs; the workers stop at exit."""
    model, data = toy_files
    script = (
        "import time\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from lrpgui import MainWindow\n"
        "app = QApplication([])\n"
        f"w = MainWindow(model={str(model)!r}, dataset={str(data)!r})\n"
        "deadline = time.time() + 60\n"
        "while w.state.relevance is None and time.time() < deadline:\n"
        "    app.processEvents()\n"
        "print('explained', w.state.relevance is not None)\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               LRP_EXPLORER_SETTINGS=str(tmp_path / "s.ini"))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "explained True" in proc.stdout


def test_a_named_model_that_does_not_open_fails_the_smoke_test(tmp_path):
    """Before: exit status 0 and not a word, although no explanation was ever shown."""
    broken = tmp_path / "broken.txt"
    broken.write_text("junk\n")
    proc = run(["--model", str(broken), "--quit-after-load"], tmp_path / "s.ini")
    assert proc.returncode == 1
    assert "broken.txt" in proc.stderr and "unknown layer type" in proc.stderr


def test_every_bad_start_option_is_reported_and_none_breaks_the_views(toy_files, tmp_path):
    """Before: ``--colormap nope`` was stored, every redraw raised (tracebacks), and the
    options after the first bad one were never looked at."""
    model, data = toy_files
    proc = run(["--model", str(model), "--dataset", str(data), "--colormap", "nope",
                "--sample", "99999", "--rule", "bogus", "--quit-after-load"], tmp_path / "s.ini")
    # the views still work (an explanation came), and the script learns that its options
    # were refused (exit 1: test_a_refused_option_fails_the_scripted_modes)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "first explanation on display" in proc.stdout
    assert "Traceback" not in proc.stderr
    for text in ("--colormap nope", "--sample 99999", "--rule bogus"):
        assert text in proc.stderr


def test_a_sample_asked_for_stays_on_display_with_the_misclassified_filter(make_window,
                                                                            qtbot):
    """--sample N --misclassified opened on the first misclassified sample instead of N."""
    from argparse import Namespace

    import numpy as np

    from lrpgui.app import _apply_options

    window = make_window()
    s = window.state
    right = np.flatnonzero(s.predictions == s.labels)
    wrong = np.flatnonzero(s.predictions != s.labels)
    assert right.size and wrong.size
    for sample, expected in ((int(right[-1]), int(right[-1])), (None, None)):
        s.sample_index = int(right[0])
        s.misclassified_only = False
        options = Namespace(rule=None, colormap=None, sample=sample, dtype=None,
                            misclassified=True)
        assert _apply_options(window, options) == []
        with qtbot.waitSignal(window.predictions_done, timeout=20000):
            window.start_predictions()
        shown = window.grid.model.dataset_indices()
        if expected is None:  # no sample asked for: the first misclassified one
            assert s.sample_index == int(shown[0]) and s.sample_index in wrong
        else:
            assert s.sample_index == expected and expected not in shown


def test_a_screenshot_without_a_display_prints_no_qt_platform_notes(toy_files, tmp_path):
    """'This plugin does not support propagateSizeHints()' looked like an error to a user
    following the README's offscreen --screenshot example."""
    model, data = toy_files
    proc = run(["--model", str(model), "--dataset", str(data), "--screenshot",
                str(tmp_path / "s.png")], tmp_path / "s.ini")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "does not support" not in proc.stderr and (tmp_path / "s.png").exists()


@pytest.mark.parametrize("option", [["--rule", "bogus"], ["--colormap", "nosuch"],
                                    ["--sample", "99999"]])
def test_a_refused_option_fails_the_scripted_modes(toy_files, tmp_path, option):
    """`--screenshot shot.png --rule bogus` saved the window with another rule and exited 0
    (acceptance review): a script gets status 1 and no picture of a view it did not ask for."""
    model, data = toy_files
    shot = tmp_path / "shot.png"
    proc = run(["--model", str(model), "--dataset", str(data), "--screenshot", str(shot),
                *option], tmp_path / "s.ini")
    assert proc.returncode == 1 and f"lrp-explorer: {option[0]} {option[1]}:" in proc.stderr
    assert not shot.exists() and "not saved: an option was refused" in proc.stderr
