"""`lrp train` options found by the second hostile review: each refused in one line before any
training (they were internal errors, or trained for a while and then failed to save)."""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, rng.integers(0, 256, (16, 28, 28), dtype=np.uint8))
    np.save(y, np.arange(16) % 10)
    return ["train", "--dataset", str(x), "--labels", str(y), "--epochs", "1",
            "--out", str(tmp_path / "m.npz")]


@pytest.mark.parametrize("extra, words", [
    (["--layers", ",".join(["rect"] * 1001) + ",flatten,linear:10"], "--layers has 1003"),
    (["--arch", "lenet5", "--pad", "5000"], "at most 8192"),
    (["--layers", "pad:3000,pad:3000,conv:5x5x2,flatten,linear:10"], "at most 8192"),
    (["--arch", "lenet5", "--augment-shift", "999999999"], "--augment-shift 999999999"),
    (["--arch", "short-rect", "--seed", "-1"], "--seed must be"),
    (["--arch", "short-rect", "--weight-decay", "inf"], "finite"),
    (["--arch", "short-rect", "--lr", "inf"], "finite"),
])
def test_options_no_model_can_hold_are_refused_before_training(data, tmp_path, extra, words):
    # in a subprocess with 4 GB of address space: unchecked, --pad 5000 took the machine's
    # memory (the OOM killer stopped it at 22 GB)
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    proc = subprocess.run([sys.executable, "-m", "lrpcore.cli.main", *data, *extra],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and words in err[0], err
    assert "epoch" not in proc.stdout  # refused before the first epoch
    assert not list(tmp_path.glob("m*"))
