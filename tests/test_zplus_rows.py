"""z⁺ of a dense or pointwise layer whose inputs have both signs, from one product in float32
and float64 alike (``cpu_kernels.positive_half_exact``): the neurons where (x·w + |x|·|w|)/2
cancels digits are summed from their own row of inputs, so no layer is redone with two
products, and every neuron's z⁺ is as precise as summing x⁺w⁺ and x⁻w⁻ apart."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import cpu_kernels, rules
from lrpcore.explain import Context
from lrpcore.layers import Convolution, Linear
from lrpcore.rules import SignSplit, ZPlus


def _ctx(dtype):
    return Context(np, np.dtype(dtype), None)


def _cancelling_linear(rng, n=1024):
    """Neurons 0–9 get only negative contributions but one tiny positive one: z⁺ is ~1e-9
    of |x|·|w|, far below any margin, so the halved sum would keep nothing but rounding."""
    layer = Linear(rng.normal(size=(32, n)), np.abs(rng.normal(size=n)))
    signs = np.where(np.arange(32) % 2, 1.0, -1.0)
    x = np.abs(rng.normal(size=(64, 32))) * signs
    layer.W[:, :10] = -np.abs(layer.W[:, :10]) * signs[:, None]
    layer.W[0, :10] = -1e-9  # input 0 is negative: a contribution of +1e-9·|x|
    layer.B[:10] = 0.0
    return layer, x


def _two_products(layer, x, dtype):
    """z⁺ summed apart in float64: the reference."""
    x = x.astype(np.float64)
    w = layer.W
    return np.maximum(x, 0) @ np.maximum(w, 0) + np.minimum(x, 0) @ np.minimum(w, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cancelled_neurons_are_summed_from_their_inputs(dtype):
    rng = np.random.default_rng(0)
    layer, x = _cancelling_linear(rng)
    x = x.astype(dtype)
    z = layer.forward(x, np)
    half, loose = SignSplit(layer, x, _ctx(dtype)).positive_sum_from(z)
    assert loose is None and half.dtype == dtype
    exact = _two_products(layer, x, dtype)
    # per neuron, relative to its own z⁺ (the cancelled ones are 1e-9 of the others)
    rel = 1e-5 if dtype == np.float32 else 1e-9
    assert (np.abs(half - exact) <= rel * np.abs(exact)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relevance_through_cancelled_neurons_needs_no_second_product(monkeypatch, dtype):
    rng = np.random.default_rng(1)
    layer, x = _cancelling_linear(rng)
    x = x.astype(dtype)
    z = layer.forward(x, np)
    R = np.zeros_like(z)
    R[:, :10] = rng.uniform(0.5, 1.0, size=(len(z), 10))  # only through cancelled neurons
    calls = []
    real = SignSplit.positive_sum
    monkeypatch.setattr(SignSplit, "positive_sum", lambda self: calls.append(1) or real(self))
    got = ZPlus().linear(layer, x, z, R, _ctx(dtype))
    assert calls == []
    monkeypatch.setattr(rules, "ROW_MAGNITUDE_MARGIN", {})  # two products
    want = ZPlus().linear(layer, x, z, R, _ctx(dtype))
    assert calls == [1]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.abs(got - want).max() <= tol * np.abs(want).max()


def test_float32_pointwise_convolutions_take_one_product():
    rng = np.random.default_rng(2)
    conv = Convolution(rng.normal(size=(1, 1, 40, 240)), rng.normal(size=240))
    x = rng.normal(size=(1, 28, 28, 40)).astype(np.float32)
    z = conv.forward(x, np)
    found = SignSplit(conv, x, _ctx(np.float32)).positive_sum_from(z)
    assert found is not None and found[1] is None
    exact = _two_products(conv, x.reshape(-1, 40), np.float32).reshape(z.shape) + 0.0
    assert np.abs(found[0] - exact).max() <= 1e-5 * np.abs(exact).max()


def test_windowed_convolutions_are_no_rows():
    rng = np.random.default_rng(3)
    conv = Convolution(rng.normal(size=(3, 3, 4, 8)), rng.normal(size=8))
    assert conv.rows_of(np.ones((1, 9, 9, 4))) is None
    assert Linear(np.ones((4, 3)), np.zeros(3)).rows_of(np.ones((5, 4))).shape == (5, 4)


def test_nan_inputs_stay_nan_and_mismatched_arrays_are_refused():
    rows = np.array([[1.0, -2.0], [np.nan, 1.0]])
    wp, wn = np.array([[1.0, 0.0], [2.0, 0.5]]), np.array([[0.0, -1.0], [0.0, 0.0]])
    z = rows @ (wp + wn)
    magnitude = np.abs(rows) @ (wp - wn)
    out = cpu_kernels.positive_half_exact(z, None, None, magnitude, 0.5, rows, wp, wn)
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()
    with pytest.raises(ValueError, match="positive_half_exact.*do not fit"):
        cpu_kernels.positive_half_exact(z, None, None, magnitude, 0.5, rows[:1], wp, wn)
    with pytest.raises(ValueError, match="positive_half_exact.*do not fit"):
        cpu_kernels.positive_half_exact(z, None, None, magnitude, 0.5, rows, wp[:1], wn)
    with pytest.raises(ValueError, match="positive_half_exact.*do not fit"):
        cpu_kernels.positive_half_exact(z, None, None, magnitude, 0.5, rows, wp, wn[:, :1])
    with pytest.raises(ValueError, match="positive_half_exact.*do not fit"):
        cpu_kernels.positive_half_exact(z, np.ones(3), None, magnitude, 0.5, rows, wp, wn)
