"""Batch sharding on the CPU and the allocator setting the applications apply."""

import sys

import numpy as np
import pytest

import lrpcore
from lrpcore.allocator import keep_freed_memory
from lrpcore.bench import lenet5, long_rect
from lrpcore.parallel import MIN_SHARD, PASS_BYTES, SHARD_BYTES, shard_bounds, shard_count

explain_module = sys.modules["lrpcore.explain"]


def test_one_shard_per_core_without_a_memory_budget():
    assert shard_count(1, 2) == 1
    assert shard_count(2 * MIN_SHARD - 1, 2) == 1
    assert shard_count(256, 2) == 2
    assert shard_count(256, 8) == 8


def test_large_activations_split_into_more_shards_a_multiple_of_the_cores():
    per_sample = SHARD_BYTES // 40  # about 40 samples fit the budget
    k = shard_count(256, 2, per_sample)
    assert k > 2 and k % 2 == 0
    bounds = shard_bounds(256, k)
    assert max(b - a for a, b in bounds) * per_sample <= SHARD_BYTES * 1.1
    assert min(b - a for a, b in bounds) >= MIN_SHARD


def test_shards_never_fall_below_the_minimum_size():
    assert shard_count(64, 2, SHARD_BYTES) == 64 // MIN_SHARD
    assert shard_count(20, 2, SHARD_BYTES) == 1


def test_lenet5_batches_are_cut_to_the_cache_budget_dense_ones_are_not():
    x = np.random.default_rng(0).uniform(-1, 1, (256, 32, 32, 1))
    lenet = lrpcore.Explainer(lenet5(), "numpy", "float64", threads=2)
    fwd = lenet.forward(x, raw=True)
    assert len(fwd.shards) > 2
    assert sum(s[0].shape[0] for s in fwd.shards) == 256
    dense = lrpcore.Explainer(long_rect(), "numpy", "float64", threads=2)
    assert len(dense.forward(x.reshape(256, -1)[:, :784], raw=True).shards) == 2


def test_budgeted_shards_give_the_single_threaded_relevance():
    model = lenet5(seed=3)
    x = np.random.default_rng(1).uniform(-1, 1, (96, 32, 32, 1))
    whole = lrpcore.Explainer(model, "numpy", "float64", threads=1).forward(x, raw=True)
    split = lrpcore.Explainer(model, "numpy", "float64", threads=2).forward(x, raw=True)
    assert len(split.shards) > 1
    for rule in ("epsilon:0.01", "alphabeta:2", "EpsilonGammaBox"):
        r1, r2 = whole.relevance(rule), split.relevance(rule)
        # BLAS may sum in another order for another matrix size: equal to rounding, not bits
        assert np.abs(r1 - r2).max() <= 1e-12 * np.abs(r1).max()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_cpu_passes_hold_at_most_the_pass_budget_whatever_the_batch_size():
    ex = lrpcore.Explainer(lenet5(), "numpy", "float64", threads=2)
    per_sample = ex.sample_bytes((32, 32, 1))
    # input, conv + ReLU (28·28·10 each), pool, conv + ReLU (10·10·25), pool, ..., output
    kept = 32 * 32 + 2 * 7840 + 1960 + 2 * 2500 + 625 + 2 * 400 + 100 + 10 + 10
    assert per_sample == 8 * kept
    cap = PASS_BYTES // per_sample
    for batch_size in (None, 5000):
        passes = ex.passes((5000, 32, 32, 1), batch_size)
        assert passes[0] == (0, cap) and passes[-1][1] == 5000
        assert all(b - a <= cap for a, b in passes)
        assert all(b == a2 for (_, b), (a2, _) in zip(passes[:-1], passes[1:], strict=True))
    assert ex.passes((1000, 32, 32, 1), 100)[:2] == [(0, 100), (100, 200)]
    assert ex.passes((3, 32, 32, 1)) == [(0, 3)]
    assert ex.passes((5, 7, 7, 1)) == [(0, 5)]  # a shape the model refuses: no budget


def test_explaining_in_passes_gives_the_one_pass_relevance(monkeypatch):
    x = np.random.default_rng(3).uniform(-1, 1, (40, 32, 32, 1))
    model = lenet5()
    whole = lrpcore.explain(model, x, rule="alphabeta:2", raw=True, backend="numpy")
    per_sample = lrpcore.Explainer(model, "numpy", "float64").sample_bytes((32, 32, 1))
    monkeypatch.setattr(explain_module, "PASS_BYTES", 7 * per_sample)  # passes of 7
    assert lrpcore.Explainer(model, "numpy").passes(x.shape)[1] == (7, 14)
    split = lrpcore.explain(model, x, rule="alphabeta:2", raw=True, backend="numpy")
    assert np.allclose(split, whole, rtol=0, atol=1e-12 * np.abs(whole).max())


def test_keep_freed_memory_applies_on_linux_and_is_idempotent():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
