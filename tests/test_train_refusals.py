"""`lrp train` refuses what cannot work before it allocates or trains: models and minibatches
too large (they were allocated first: ``--layers linear:3000000`` asked for 2.4 G weights) and
absurd learning rates (numpy's overflow warnings came before the one-line error)."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from train_cli import run_capped, train_args

from lrpcore.cli.main import main
from lrpcore.errors import ShapeError
from lrpcore.train.architectures import MAX_TRAIN_PARAMETERS, build_model, model_plan


@pytest.fixture
def data(tmp_path):
    return train_args(tmp_path, 64)


@pytest.mark.parametrize("extra, words", [
    (["--layers", "linear:3000000,rect,linear:10"], "parameters; lrp train builds at most"),
    (["--layers", "conv:3x3x4000,rect,flatten,linear:10"], "use --batch-size 12 or less"),
    (["--layers", "conv:1x1x200000,sumpool:32,flatten,linear:10"], "use smaller layers"),
    (["--arch", "short-rect", "--lr", "1e300"], "--lr 1e+300 is far too large"),
])
def test_refused_in_one_line_before_anything_is_allocated(data, tmp_path, extra, words):
    proc = run_capped([*data, *extra])
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and words in err[0], (proc.returncode, err)
    assert "epoch" not in proc.stdout
    assert not list(tmp_path.glob("m*"))


def test_model_plan_sizes_a_model_without_allocating_it():
    tracemalloc.start()
    try:
        params, values = model_plan("linear:3000000,rect,linear:10")
        with pytest.raises(ShapeError, match="2,385,000,010 parameters"):
            build_model("linear:3000000,rect,linear:10", np.random.default_rng(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert params == 784 * 3_000_000 + 3_000_000 + 3_000_000 * 10 + 10 > MAX_TRAIN_PARAMETERS
    assert values == 784 + 2 * 3_000_000 + 10
    assert peak < 8 << 20  # not the 19 GB of float64 weights
    lenet = build_model("lenet5", np.random.default_rng(0))
    assert model_plan("lenet5")[0] == sum(ly.W.size + ly.B.size for ly in lenet.layers
                                          if ly.weighted)
    assert lenet.layers[0].B.flags.writeable  # real arrays when built for training


def test_a_diverging_run_ends_in_one_clear_line_without_numpy_warnings(data, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a warning would end the run as one
        code = main([*data, "--arch", "short-rect", "--optimizer", "sgd", "--lr", "900",
                     "--batch-size", "16"])
    err = capsys.readouterr().err
    assert code == 2 and "training diverged at epoch 1, step" in err and "--lr" in err, err
