"""Speed of the trust tools (issue 17), as pytest-benchmark entries; never timing asserts.

With ``--benchmark-enable`` they run the sizes the issue names: a 5 × 3 sweep (EpsilonGammaBox,
γ × ε) on LeNet-5 over 256 samples with 100 flipping steps, and one cascading randomisation
over 64 samples. Without it (the default of the suite) the same code runs once on a few
samples, so the entries stay tested.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lrpcore
from lrpcore.insight.sanity import cascading_randomisation
from lrpcore.insight.sweep import run_sweep
from lrpcore.insight.tasks import spread_indices

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def lenet():
    return lrpcore.load_model(MODELS / "mnist-lenet5.npz")


def _digits(n):
    """``n`` digits spread over the MNIST sample (it is sorted by class)."""
    ds = lrpcore.open_dataset("mnist-sample")
    return ds.images(spread_indices(len(ds), n))


def _size(benchmark, full, small):
    return small if benchmark.disabled else full


def test_benchmark_sweep_5x3_lenet(lenet, benchmark):
    n = _size(benchmark, 256, 8)
    x = _digits(n)

    def run():
        return run_sweep(lenet, x, "EpsilonGammaBox", steps=100, dtype="float32")

    start = time.perf_counter()
    res = benchmark.pedantic(run, rounds=1, iterations=1)
    print(f"sweep 5×3 on LeNet-5, {n} samples × 100 steps: {time.perf_counter() - start:.1f} s")
    assert len(res.rows) == 15 and res.n == n


def test_benchmark_cascading_randomisation_lenet(lenet, benchmark):
    n = _size(benchmark, 64, 8)
    x = _digits(n)

    def run():
        return cascading_randomisation(lenet, x, "EpsilonGammaBox", dtype="float32")

    start = time.perf_counter()
    res = benchmark.pedantic(run, rounds=1, iterations=1)
    print(f"cascading randomisation on LeNet-5, {n} samples: "
          f"{time.perf_counter() - start:.2f} s")
    assert len(res.steps) == 5


def test_lrp_bench_trust_rows():
    """``lrp bench --trust`` times the sizes issue 17 names (here tiny, so the entry stays
    tested); each row carries the issue's target beside the figure, never as an assert."""
    from lrpcore import bench_concepts

    rows = bench_concepts.run_trust_benchmark("numpy", n_sweep=4, n_sanity=4, steps=4)
    assert [r.samples for r in rows] == [4, 4] and [r.target for r in rows] == [30.0, 10.0]
    assert "15 settings × 4 steps" in rows[0].job and "5 steps" in rows[1].job
    text = bench_concepts.format_concepts_row(rows[0])
    assert "sweep EpsilonGammaBox" in text and "[target < 30 s]" in text
