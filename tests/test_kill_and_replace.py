"""Nothing partial, nothing replaced that was not asked: ``lrp explain`` killed with SIGTERM
cleans up like Ctrl-C, a SIGKILLed run leaves only temporary names the next run removes, a file
created at ``--out`` during the run is kept, and symlinks and devices are never replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lrpcore.errors import ExportError
from lrpcore.fileio import TEMP_PREFIX, atomic_open, atomic_write_bytes

REPO = Path(__file__).resolve().parents[1]


def _start_explain(tmp_path):
    """A run long enough to be caught midway: PNGs of every mnist-test digit, batch by batch."""
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "lrpcore.cli.main", "explain", "mnist-lenet5", "mnist-test",
           "--out", str(out / "R.npy"), "--png", str(out / "png"), "--batch-size", "4"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    return proc, out


def _wait_for_pngs(proc, out, timeout=120):
    """Wait (on the run's own progress) until it has finished some PNGs under temporary names."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read().decode()
        folder = out / "png"
        if folder.is_dir() and sum(1 for n in os.listdir(folder)
                                   if n.startswith(TEMP_PREFIX)) >= 4:
            return
        try:
            proc.wait(0.05)  # returns early only if the run ended
        except subprocess.TimeoutExpired:
            pass
    pytest.fail("the run never wrote its first PNGs")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    proc, out = _start_explain(tmp_path)
    _wait_for_pngs(proc, out)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert "terminated" in err.decode()
    assert _files(out) == []


def test_sigkill_leaves_nothing_that_looks_like_a_result(tmp_path):
    proc, out = _start_explain(tmp_path)
    _wait_for_pngs(proc, out)
    proc.kill()
    proc.wait(60)
    left = _files(out)
    assert left and all(Path(name).name.startswith(TEMP_PREFIX) for name in left)
    # the next write into a folder removes the dead run's temporaries there
    atomic_write_bytes(out / "png" / "next.txt", b"x")
    atomic_write_bytes(out / "next.txt", b"x")
    assert _files(out) == ["next.txt", "png/next.txt"]


def test_a_file_created_at_the_output_during_the_run_is_kept(tmp_path):
    target = tmp_path / "R.npy"
    with pytest.raises(ExportError, match="created or replaced by something else"):
        with atomic_open(target, "wb", overwrite=False) as fh:
            target.write_bytes(b"the user's own file")
            fh.write(b"result")
    assert target.read_bytes() == b"the user's own file"
    assert _files(tmp_path) == ["R.npy"]


def test_a_file_swapped_during_an_overwrite_is_kept(tmp_path):
    target = tmp_path / "R.npy"
    target.write_bytes(b"old")
    with pytest.raises(ExportError, match="created or replaced by something else"):
        with atomic_open(target, "wb", overwrite=True) as fh:
            target.unlink()
            target.write_bytes(b"new, made by someone else")
            fh.write(b"result")
    assert target.read_bytes() == b"new, made by someone else"


def test_overwrite_refuses_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "real.npy"
    real.write_bytes(b"keep")
    link = tmp_path / "link.npy"
    link.symlink_to(real)
    with pytest.raises(ExportError, match="symbolic link; refusing to replace"):
        atomic_write_bytes(link, b"x", overwrite=True)
    assert link.is_symlink() and real.read_bytes() == b"keep"


def test_overwrite_never_replaces_a_device_node(tmp_path, capsys):
    from lrpcore.cli.main import main

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 28, 28), np.uint8))
    before = os.stat("/dev/null")
    rc = main(["explain", "mnist-lenet5", str(x), "--out", "/dev/null", "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 2 and "/dev/null: is not a regular file" in err
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_lrp_train_keeps_a_file_created_at_out_during_training(tmp_path):
    from test_train import _cfg, _toy_data

    from lrpcore.errors import LRPError
    from lrpcore.train.loop import train

    out = tmp_path / "m.npz"
    lines = []

    def log(line):  # runs after each epoch: a file appears at --out between saves
        lines.append(line)
        if len(lines) == 1:
            out.write_bytes(b"someone else's file")

    with pytest.raises(LRPError, match="created or replaced by something else"):
        train(_cfg(epochs=3), _toy_data(), out, backend="numpy", log=log)
    assert out.read_bytes() == b"someone else's file"
