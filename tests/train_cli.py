"""`lrp train` as the refusal tests run it: a small digit dataset on disk, and the command in a
subprocess whose address space is capped, so that an unchecked allocation fails there instead
of taking the machine's memory (an unchecked --pad 5000 reached 22 GB before the OOM killer)."""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np


def train_args(tmp_path, samples=16) -> list:
    """`lrp train` arguments for ``samples`` random digits with labels, writing m.npz."""
    rng = np.random.default_rng(0)
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, rng.integers(0, 256, (samples, 28, 28), dtype=np.uint8))
    np.save(y, np.arange(samples) % 10)
    return ["train", "--dataset", str(x), "--labels", str(y), "--epochs", "1",
            "--out", str(tmp_path / "m.npz")]


def run_capped(args, gigabytes=4):
    """``lrp ARGS`` in a subprocess with ``gigabytes`` of address space."""
    def cap():
        limit = gigabytes << 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([sys.executable, "-m", "lrpcore.cli.main", *args],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap)
