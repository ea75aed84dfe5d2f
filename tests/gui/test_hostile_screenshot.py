"""``lrp-explorer --screenshot PNG`` on a disk that fills up: the file that was there is kept
and no part of a PNG is left (Qt wrote the picture in place: an earlier screenshot was
truncated to a broken 4 kB PNG, plus libpng's own error line)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys


def test_a_screenshot_that_cannot_be_written_keeps_the_earlier_file(toy_files, tmp_path):
    model, data = toy_files
    out = tmp_path / "shots"
    out.mkdir()
    shot = out / "shot.png"
    shot.write_bytes(b"the earlier screenshot")

    def small_files():  # a full disk for anything over 8 kB (the window's PNG is larger)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               LRP_EXPLORER_SETTINGS=str(tmp_path / "s.ini"))
    proc = subprocess.run([sys.executable, "-m", "lrpgui", "--model", str(model), "--dataset",
                           str(data), "--screenshot", str(shot)], env=env, capture_output=True,
                          text=True, timeout=180, preexec_fn=small_files)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert shot.read_bytes() == b"the earlier screenshot"
    assert sorted(p.name for p in out.iterdir()) == ["shot.png"]  # no temporary left
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and str(shot) in errors[0], proc.stderr[-2000:]


def test_profile_statistics_that_cannot_be_written_leave_no_partial_file(toy_files, tmp_path):
    """--profile --profile-stats PREFIX on a full disk: a traceback from cProfile's dump and
    an empty PREFIX-worker.pstats were left; now one line naming the file."""
    model, data = toy_files
    out = tmp_path / "stats"
    out.mkdir()

    def tiny_files():  # no statistics file fits (the worker's alone is tens of kB)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               LRP_EXPLORER_SETTINGS=str(tmp_path / "s.ini"))
    proc = subprocess.run([sys.executable, "-m", "lrpgui", "--model", str(model), "--dataset",
                           str(data), "--profile", "--profile-stats", str(out / "p")], env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=tiny_files)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and str(out / "p-") in errors[0], proc.stderr[-2000:]
    assert list(out.iterdir()) == []
