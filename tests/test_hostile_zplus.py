"""z⁺ from one product, (z − b + |x|·|w|)/2 (lrpcore.rules.SignSplit.positive_sum_from), on
adversarial layers: it must equal the sum of x⁺w⁺ and x⁻w⁻ to ~1e-9 relative or be redone."""

from __future__ import annotations

import numpy as np

from lrpcore import rules
from lrpcore.explain import Context
from lrpcore.layers import Linear
from lrpcore.rules import SignSplit, ZPlus


def _ctx():
    return Context(np, np.dtype(np.float64), None)


def test_a_bias_far_larger_than_the_contributions_does_not_cancel_z_plus(monkeypatch):
    """z = x·w + b rounds x·w to the bias's digits; z − b then keeps only the top digits of
    x·w. With b < 0 nothing of the bias enters the denominator (b⁺ = 0), so the z⁺ of a
    linear bottleneck (no activation after it: relevance reaches every neuron) came out
    wrong in its 7th digit."""
    rng = np.random.default_rng(0)
    fan, n = 256, 128
    W = rng.normal(size=(fan, n))
    x = rng.normal(size=(256, fan))  # 256 × 128 outputs: large enough for one product
    magnitude = np.abs(x).mean(axis=0) @ np.abs(W)
    layer = Linear(W, -1e9 * magnitude)
    z = layer.forward(x, np)
    split = SignSplit(layer, x, _ctx())
    half, loose = split.positive_sum_from(z)
    exact = split.positive_sum()
    precise = np.abs(half - exact) <= 1e-9 * np.abs(exact)
    assert (precise | (np.zeros_like(precise) if loose is None else loose)).all()
    R = rng.uniform(0.5, 1.0, size=z.shape)
    got = ZPlus().linear(layer, x, z, R, _ctx())
    monkeypatch.setattr(rules, "MAGNITUDE_MARGIN", {})  # the two-product way throughout
    monkeypatch.setattr(rules, "ROW_MAGNITUDE_MARGIN", {})
    want = ZPlus().linear(layer, x, z, R, _ctx())
    assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max()


def test_an_overflowed_magnitude_is_redone_not_given_zero_relevance(monkeypatch):
    """|x|·|w| can overflow where x·w does not (two terms of ±0.9e308 cancel): the halved sum
    was then infinite, and the neuron passed on no relevance at all."""
    rng = np.random.default_rng(1)
    W = np.abs(rng.normal(size=(3, 1024))) * np.array([[1.0], [1.0], [-1.0]])
    W[:, 0] = [0.9e154, -0.9e154, 1.0]  # the other neurons: every contribution positive
    x = np.empty((64, 3))
    x[:, :2], x[:, 2] = 1e154, -1e-3  # inputs of both signs: the one-product way applies
    layer = Linear(W, np.zeros(1024))
    with np.errstate(over="ignore"):  # |x|·|w| overflows on purpose
        z = layer.forward(x, np)
        assert np.isfinite(z[:, 0]).all()
        R = np.zeros_like(z)
        R[:, 0] = 1.0
        got = ZPlus().linear(layer, x, z, R, _ctx())
        monkeypatch.setattr(rules, "MAGNITUDE_MARGIN", {})
        monkeypatch.setattr(rules, "ROW_MAGNITUDE_MARGIN", {})
        want = ZPlus().linear(layer, x, z, R, _ctx())
    assert np.isfinite(want).all() and np.abs(want).max() > 0
    assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max()
