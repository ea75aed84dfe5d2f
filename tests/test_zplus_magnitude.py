"""z⁺ of a layer whose inputs have both signs from one product, (x·w + |x|·|w|)/2
(lrpcore.rules.SignSplit.positive_sum_from): equal to summing x⁺w⁺ and x⁻w⁻ apart, and
redone that way wherever the subtraction cancels digits and relevance arrives. Dense and
pointwise layers sum such neurons from their own inputs instead (tests/test_zplus_rows.py);
the tests of redoing here make the dense layer stand for the other maps (``_not_rows``)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import cpu_kernels, rules
from lrpcore.explain import Context
from lrpcore.graph_layers import GroupedConvolution
from lrpcore.layers import Convolution, Linear
from lrpcore.rules import SignSplit, ZPlus


def _ctx(dtype=np.float64):
    return Context(np, np.dtype(dtype), None)


def _not_rows(monkeypatch):
    """The dense layer as a map whose inputs are not rows of a product (a window-matrix or
    depthwise convolution): the route that redoes a layer rather than single neurons."""
    monkeypatch.setattr(Linear, "rows_of", lambda self, x: None)


def _signed_linear(rng, m=32, n=1024):
    return Linear(rng.normal(size=(m, n)), rng.normal(size=n))


def test_the_kernel_halves_and_counts_the_loose_elements():
    rng = np.random.default_rng(0)
    z, magnitude = rng.normal(size=(50, 7)), np.abs(rng.normal(size=(50, 7))) * 3
    bias, plus = rng.normal(size=7), np.abs(rng.normal(size=7))
    out, loose = cpu_kernels.positive_half(z, bias, plus, magnitude, 0.25)
    half = ((z - bias) + magnitude) * 0.5
    assert np.array_equal(out, half + plus)
    assert loose == int((half < 0.25 * (magnitude + np.abs(bias))).sum()) > 0


@pytest.mark.parametrize("make", ["linear", "convolution", "depthwise"])
def test_one_product_gives_the_two_product_sum_in_float64(make):
    rng = np.random.default_rng(1)
    if make == "linear":
        layer, x = _signed_linear(rng), rng.normal(size=(64, 32))
    elif make == "convolution":
        layer = Convolution(rng.normal(size=(3, 3, 8, 64)), rng.normal(size=64))
        x = rng.normal(size=(2, 20, 20, 8))
    else:
        layer = GroupedConvolution(rng.normal(size=(3, 3, 1, 96)), rng.normal(size=96),
                                   groups=96)
        x = rng.normal(size=(2, 22, 22, 96))
    z = layer.forward(x, np)
    split = SignSplit(layer, x, _ctx())
    found = split.positive_sum_from(z)
    assert found is not None
    exact = split.positive_sum()
    assert np.abs(found[0] - exact).max() <= 1e-12 * np.abs(exact).max()


def test_float32_one_signed_inputs_and_small_layers_keep_two_products(monkeypatch):
    _not_rows(monkeypatch)
    rng = np.random.default_rng(2)
    layer = _signed_linear(rng)
    x = rng.normal(size=(64, 32))
    z = layer.forward(x, np)
    assert SignSplit(layer, x.astype(np.float32), _ctx(np.float32)).positive_sum_from(
        z.astype(np.float32)) is None
    assert SignSplit(layer, np.abs(x), _ctx()).positive_sum_from(
        layer.forward(np.abs(x), np)) is None
    assert SignSplit(layer, x[:2], _ctx()).positive_sum_from(z[:2]) is None


def _cancelling_case(rng):
    """A layer without bias where neuron 0's contributions are all negative but one tiny
    positive one: z⁺ ≈ 1e-9 while |x|·|w| ≈ 10, so the halved sum keeps rounding noise of
    ~1e-15, a relative error of 1e-6 in z⁺ (1e-9 in z⁺ + the stabiliser 1e-6)."""
    layer = _signed_linear(rng)
    signs = np.where(np.arange(32) % 2, 1.0, -1.0)
    x = np.abs(rng.normal(size=(64, 32))) * signs  # one sign per input column
    layer.W[:, 0] = -np.abs(layer.W[:, 0]) * signs
    layer.W[0, 0] = -1e-9  # input 0 is negative: a contribution of +1e-9·|x|
    layer.B[:] = 0.0
    return layer, x


def test_relevance_reaching_a_cancelled_neuron_takes_the_exact_sum(monkeypatch):
    _not_rows(monkeypatch)
    rng = np.random.default_rng(3)
    layer, x = _cancelling_case(rng)
    z = layer.forward(x, np)
    split = SignSplit(layer, x, _ctx())
    half, loose = split.positive_sum_from(z)
    assert loose is not None and loose[:, 0].all()
    R = np.zeros_like(z)
    R[:, 0] = rng.uniform(0.5, 1.0, size=len(z))  # only through the cancelled neuron
    got = ZPlus().linear(layer, x, z, R, _ctx())
    monkeypatch.setattr(rules, "MAGNITUDE_MARGIN", {})  # the two-product way throughout
    want = ZPlus().linear(layer, x, z, R, _ctx())
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


def test_cancelled_neurons_without_relevance_cost_no_second_product(monkeypatch):
    _not_rows(monkeypatch)
    rng = np.random.default_rng(4)
    layer, x = _cancelling_case(rng)
    z = layer.forward(x, np)
    R = rng.uniform(0.5, 1.0, size=z.shape)
    R[:, 0] = 0.0  # e.g. a ReLU that is off
    calls = []
    real = SignSplit.positive_sum
    monkeypatch.setattr(SignSplit, "positive_sum", lambda self: calls.append(1) or real(self))
    got = ZPlus().linear(layer, x, z, R, _ctx())
    assert calls == []
    monkeypatch.setattr(rules, "MAGNITUDE_MARGIN", {})
    want = ZPlus().linear(layer, x, z, R, _ctx())
    assert calls == [1]
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
