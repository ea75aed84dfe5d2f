"""Speed benchmarks (pytest-benchmark; run with --benchmark-enable). Never timing asserts.

These time the library as a script imports it; ``lrp bench`` times what the ``lrp`` and
``lrp-explorer`` applications run, with ``lrpcore.allocator.keep_freed_memory`` applied.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.bench import lenet5, long_rect, multiply_adds

CASES = [("lenet5", 1), ("lenet5", 256), ("long-rect", 256)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, batch", CASES)
def test_forward_and_epsilon(benchmark, name, batch, dtype):
    model = lenet5() if name == "lenet5" else long_rect()
    ex = lrpcore.Explainer(model, "numpy", dtype)
    x = np.random.default_rng(0).uniform(-1, 1, (batch,) + tuple(model.input_spec.shape))

    def explain():
        return ex.forward(x, raw=True).relevance("epsilon:0.01")

    R = benchmark(explain)
    assert R.shape == x.shape and np.all(np.isfinite(R))


def test_multiply_adds_of_lenet5():
    # conv 28·28·10·25 + 10·10·25·250 + 2·2·100·400 + 100·10
    assert multiply_adds(lenet5()) == 196000 + 625000 + 160000 + 1000


def test_bench_command_prints_rows(capsys):
    from lrpcore.cli.main import main

    code = main(["bench", "--models", "lenet5", "--batch-sizes", "1,2", "--dtypes", "float32",
                 "--rules", "epsilon:0.01,zplus", "--repeat", "1"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("lenet5")]
    assert len(rows) == 2 and "matmul rate (float32)" in out


def test_graph_models_are_benchmarked():
    from lrpcore.bench import BENCH_MODELS, multiply_adds, run_benchmark

    rows, _ = run_benchmark(["resnet"], [2], ["float32"], ["EpsilonPlus"], "numpy", repeat=1)
    assert rows[0].model == "resnet" and rows[0].batch == 2
    assert rows[0].lrp_ms["EpsilonPlus"] > 0 and rows[0].floor_ms > 0
    # EfficientNet-Lite0 is about 0.4 G multiply-adds per 224×224 image
    assert 3.5e8 < multiply_adds(BENCH_MODELS["efficientnet-lite0"]()) < 4.5e8
