"""Ctrl-C during the first numba compilation of a kernel often strikes inside llvmlite's
object-cache callback (a ctypes callback): Python printed "Exception ignored on calling ctypes
callback function: <function ExecutionEngine._raw_object_cache_notify …>" and a traceback
above lrp's own "interrupted" line. The interruption is now only that line; an exception of
another kind in a callback is still printed, and the hook is handed back afterwards."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import pytest

from lrpcore.cli import cmd_info
from lrpcore.cli.main import main


def _callback(body):
    return ctypes.CFUNCTYPE(None)(body)


def _interrupted_in_callback():
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10000):  # the handler runs between bytecodes, here inside the callback
        pass


def test_ctrl_c_inside_a_ctypes_callback_prints_only_the_interruption(monkeypatch, capsys):
    seen = []  # Python's own hook would print the traceback (pytest's turns it into a warning)
    monkeypatch.setattr(sys, "unraisablehook", seen.append)

    def compiling(args):
        _callback(_interrupted_in_callback)()  # what llvmlite's callback does: swallow it
        raise RuntimeError("no compiled object yet for <Library '_pad'>")  # numba, next

    monkeypatch.setattr(cmd_info, "run", compiling)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert main(["info", "mnist-lenet5"]) == 130
    err = capsys.readouterr().err
    assert err == "lrp: interrupted; no partial output files were left\n"
    assert seen == [] and sys.unraisablehook == seen.append


def test_other_exceptions_in_callbacks_are_still_reported(monkeypatch, capsys):
    def broken():
        raise ValueError("a real problem")

    def run(args):
        _callback(broken)()
        return 0

    monkeypatch.setattr(cmd_info, "run", run)
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    assert main(["info", "mnist-lenet5"]) == 0
    assert [u.exc_type for u in seen] == [ValueError]
    assert sys.unraisablehook == seen.append


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_keyboard_interrupt_without_a_signal_is_not_hidden(monkeypatch, interrupted):
    """Only an interruption lrp's handler saw is silenced (the flag holds it)."""
    def run(args):
        if interrupted:
            _callback(_interrupted_in_callback)()
        _callback(lambda: (_ for _ in ()).throw(KeyboardInterrupt))()
        return 0

    monkeypatch.setattr(cmd_info, "run", run)
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    assert main(["info", "mnist-lenet5"]) == 0  # the command finished: its outputs stand
    assert len(seen) == (0 if interrupted else 1)


def test_ctrl_c_swallowed_by_a_callback_still_stops_the_command(monkeypatch, capsys, tmp_path):
    """The callback swallowed the interruption and numba compiled on: the command ran to its
    end and exited 0, its outputs written, as if Ctrl-C had not been pressed (3 of 7 runs of
    'lrp explain efficientnet-lite0' interrupted during the first compilation). It now stops
    at the next batch (the progress bar's step), exit 130, nothing kept."""
    from lrpcore.cli.progress import ProgressBar

    done = []

    def compiling_then_working(args):
        bar = ProgressBar(2, "explaining", enabled=False)
        _callback(_interrupted_in_callback)()  # first batch: the kernel compiles
        bar(1, 2)
        done.append("second batch")
        (tmp_path / "result").write_text("complete")
        return 0

    monkeypatch.setattr(cmd_info, "run", compiling_then_working)
    monkeypatch.setattr(sys, "unraisablehook", lambda u: None)
    assert main(["info", "mnist-lenet5"]) == 130
    assert done == [] and not (tmp_path / "result").exists()
    assert capsys.readouterr().err == "lrp: interrupted; no partial output files were left\n"
    ProgressBar(2, enabled=False)(1, 2)  # no command running: nothing to stop


def test_explain_interrupted_inside_a_callback_keeps_no_output(monkeypatch, capsys, tmp_path):
    """The whole path: a Ctrl-C swallowed during the first batch of 'lrp explain' leaves no
    relevance file behind and exits 130."""
    import numpy as np

    forward = sys.modules["lrpcore.explain"].Forward  # lrpcore.explain is also a function
    real = forward.relevance
    calls = []

    def relevance(self, *args, **kwargs):
        if not calls:
            _callback(_interrupted_in_callback)()  # as numba's first compilation would
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(forward, "relevance", relevance)
    monkeypatch.setattr(sys, "unraisablehook", lambda u: None)
    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), dtype=np.uint8))
    assert main(["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--batch-size", "2",
                 "--out", str(tmp_path / "R.npy"), "--png", str(tmp_path / "png")]) == 130
    assert calls == [1]  # the second batch never ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]
