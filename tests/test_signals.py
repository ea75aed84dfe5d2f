"""A killed `lrp explain` leaves nothing that looks like a result: SIGTERM cleans up like
Ctrl-C; after SIGKILL the next run removes the dead writer's temporary file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _start(tmp_path):
    out = tmp_path / "R.npy"
    cmd = [sys.executable, "-m", "lrpcore.cli.main", "explain", "mnist-lenet5", "mnist-test",
           "--rule", "EpsilonGammaBox", "--batch-size", "8", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[1],
                            stderr=subprocess.PIPE, text=True)
    return proc, out


def _wait_for_temporary(tmp_path, proc, timeout=120):
    """Wait until the run has reserved its output (the event), not for a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-lrp-")]
        if temps:
            return temps
        try:  # wait for the process to end, or 20 ms for the file to appear
            proc.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"lrp explain ended before writing: {proc.stderr.read()}")
    proc.kill()
    pytest.fail("no temporary output appeared")


def _explain_in_process(tmp_path, n, png=False):
    """``lrp explain`` of ``n`` random LeNet-5 inputs into ``tmp_path/out`` (an empty folder;
    with ``png``, heatmaps into its ``png``), run in this process; returns (exit status, that
    folder)."""
    from lrpcore.cli.main import main

    x = np.random.default_rng(0).uniform(0, 1, size=(n, 32, 32, 1))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    out.mkdir()
    code = main(["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--raw",
                 "--out", str(out / "R.npy"), *(["--png", str(out / "png")] if png else [])])
    return code, out


def test_sigterm_removes_everything_it_wrote(tmp_path):
    proc, out = _start(tmp_path)
    _wait_for_temporary(tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "terminated" in err
    assert list(tmp_path.iterdir()) == []


def test_after_sigkill_the_next_run_removes_the_dead_runs_leftover(tmp_path):
    proc, out = _start(tmp_path)
    temps = _wait_for_temporary(tmp_path, proc)
    proc.kill()
    proc.wait(timeout=60)
    assert temps[0].exists() and not out.exists()  # never at the result's name
    assert temps[0].name.startswith(f".tmp-lrp-{proc.pid}-")
    from lrpcore.fileio import atomic_write_bytes

    atomic_write_bytes(out, np.zeros(3).tobytes())  # any later write into that name
    assert not temps[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.npy"]


def test_a_sigterm_whose_exception_was_swallowed_still_publishes_nothing(tmp_path, monkeypatch,
                                                                        capsys):
    """CI once saw `lrp explain` finish with exit 0 and a complete R.npy after SIGTERM: its
    handler ran, and the KeyboardInterrupt it raised was caught where it struck. Whatever
    swallows it, the outputs then never take their names, and the exit status says why."""
    from lrpcore.explain import Explainer

    real = Explainer.forward

    def forward(self, *args, **kwargs):
        try:  # SIGTERM arrives here, and something on the way swallows its exception
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        except KeyboardInterrupt:
            pass
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Explainer, "forward", forward)
    code, out = _explain_in_process(tmp_path, 3)
    assert code == 128 + signal.SIGTERM
    assert "terminated" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_a_sigterm_striking_as_a_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch,
                                                                       capsys):
    """CI once found ``.tmp-lrp-…heatmap_0013_bwr.png.json`` after SIGTERM: the signal struck
    after ``mkstemp`` had made the file and before the writer knew its name, so the writer's
    own clean-up could not remove it. The stopped command sweeps the folders it wrote in."""
    import tempfile


    real = tempfile.mkstemp
    made = []

    def mkstemp(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        made.append(name)
        if len(made) == 5:  # a PNG or its description, midway through the run
            os.close(fd)
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code, out = _explain_in_process(tmp_path, 4, png=True)
    assert code == 128 + signal.SIGTERM
    assert "terminated" in capsys.readouterr().err
    assert len(made) == 5 and os.path.basename(made[-1]).startswith(".tmp-lrp-")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == []
