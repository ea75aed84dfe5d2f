"""`lrp train` options found by the second hostile review: each refused in one line before any
training (they were internal errors, or trained for a while and then failed to save)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from train_cli import run_capped, train_args


@pytest.fixture
def data(tmp_path):
    return train_args(tmp_path, 16)


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
    proc = run_capped([*data, *extra])  # unchecked, --pad 5000 took the machine's memory
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and words in err[0], err
    assert "epoch" not in proc.stdout  # refused before the first epoch
    assert not list(tmp_path.glob("m*"))


def _checkpoint(data, tmp_path):
    """A genuine checkpoint of one epoch (short-rect on 16 digits): its arrays and state."""
    import json

    subprocess.run([sys.executable, "-m", "lrpcore.cli.main", *data, "--arch", "short-rect"],
                   check=True, capture_output=True, timeout=300)
    with np.load(tmp_path / "m.ckpt.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays["state"].item()))


def test_a_resumed_checkpoint_with_impossible_state_is_refused_naming_it(data, tmp_path,
                                                                          capsys):
    import json

    from lrpcore.cli.main import main

    arrays, state = _checkpoint(data, tmp_path)
    resume = [a if a != "1" else "2" for a in data] + ["--arch", "short-rect", "--overwrite",
                                                         "--resume"]
    bad_rng = json.loads(json.dumps(state))
    bad_rng["rng"]["state"]["state"] = -1  # was an internal OverflowError
    huge_inc = json.loads(json.dumps(state))
    huge_inc["rng"]["state"]["inc"] = 2 ** 200
    cases = [({"state": np.array(json.dumps(bad_rng))}, "random-generator state is damaged"),
             ({"state": np.array(json.dumps(huge_inc))}, "random-generator state is damaged"),
             # Adam's squared-gradient means are never negative: sqrt → NaN weights, then an
             # error blaming the output file
             ({"opt.v.0.W": -np.ones_like(arrays["opt.v.0.W"])}, "holds negative values")]
    for k, (change, words) in enumerate(cases):
        ckpt = tmp_path / f"bad{k}.ckpt.npz"
        np.savez(ckpt, **{**arrays, **change})
        assert main(resume + [str(ckpt)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(ckpt) in err[0] and words in err[0], err


def test_sigterm_during_training_exits_143_like_every_command(data, tmp_path):
    # lrp train caught the interruption itself and always returned 130 (Ctrl-C's status)
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "lrpcore.cli.main", *data[:-4],
                             "--epochs", "100000", "--out", str(tmp_path / "m.npz"),
                             "--arch", "short-rect"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # wait for a finished epoch: an event, not a fixed sleep
            if line.startswith("epoch"):
                break
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "terminated" in err
