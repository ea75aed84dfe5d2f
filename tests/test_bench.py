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


def _offset_depthwise(x, w):
    """numpy's depthwise convolution (stride 1): one strided product per filter offset."""
    h, ww, _ = w.shape
    Ho, Wo = x.shape[1] - h + 1, x.shape[2] - ww + 1
    out = np.zeros((x.shape[0], Ho, Wo, x.shape[3]), dtype=x.dtype)
    for a in range(h):
        for b in range(ww):
            out += x[:, a:a + Ho, b:b + Wo] * w[a, b]
    return out


@pytest.mark.parametrize("impl", ["compiled", "numpy"])
def test_depthwise_layer(benchmark, impl):
    """EfficientNet-Lite0's first depthwise layer (114×114×32 padded, 3×3), float32: the
    compiled kernel (lrpcore.cpu_kernels) against numpy's offset-by-offset products."""
    from lrpcore import cpu_kernels

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 114, 114, 32)).astype(np.float32)
    w = rng.normal(size=(3, 3, 32)).astype(np.float32)
    run = (lambda: cpu_kernels.depthwise(x, w, 1, 1)) if impl == "compiled" else \
        (lambda: _offset_depthwise(x, w))
    y = benchmark(run)
    assert y.shape == (1, 112, 112, 32)


def test_efficientnet_photograph(benchmark):
    """One 224×224 photograph through EfficientNet-Lite0 (random weights), forward +
    EpsilonPlus in float32: the GUI's click on a photograph."""
    from lrpcore.zoo import efficientnet_lite0

    ex = lrpcore.Explainer(efficientnet_lite0(), "numpy", "float32")
    x = np.random.default_rng(0).uniform(-1, 1, (1,) + tuple(ex.model.input_spec.shape))

    def explain():
        return ex.forward(x, raw=True).relevance("EpsilonPlus")

    R = benchmark(explain)
    assert R.shape == x.shape and np.all(np.isfinite(R))
