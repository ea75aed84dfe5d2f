"""Every rule of the fast engine equals its slow, obvious matrix formulation."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from slow_lrp import dense_matrix, flat_lrp, linear_lrp

from lrpcore.errors import RuleError
from lrpcore.explain import Context
from lrpcore.layers import Convolution, Linear, MaxPool, SumPool
from lrpcore.rules import parse_rule

RULES = ["simple", "epsilon:0.3", "alphabeta:2", "alphabeta:1", "alphabeta:0", "alphabeta:1.5",
         "alphabeta:2:0.5", "alphabeta:1:0.25", "alphabeta:0.5",
         "flat", "ww", "zplus", "gamma:0.25", "gamma:0", "zb:-1:2"]


def make_layers(rng):
    return {
        "linear": (Linear(rng.normal(size=(7, 5)), rng.normal(size=5)), (7,)),
        "conv": (Convolution(rng.normal(size=(3, 2, 2, 4)), rng.normal(size=4), (2, 1)),
                 (7, 5, 2)),
        "conv_1ch": (Convolution(rng.normal(size=(2, 3, 1, 3)), rng.normal(size=3), (1, 2)),
                     (5, 7, 1)),
        "sumpool": (SumPool((2, 2), (2, 2)), (6, 4, 3)),
        "sumpool_overlap": (SumPool((3, 2), (1, 2)), (5, 4, 2)),
    }


def slow(layer, in_shape, spec, x, R):
    rule = parse_rule(spec)
    M, b = dense_matrix(layer, in_shape)
    n = x.shape[0]
    xf, Rf = x.reshape(n, -1), R.reshape(n, -1)
    if layer.kind == "SumPool":
        kwargs = {"stab_simple": 1e-12}
    elif layer.kind == "Convolution":
        kwargs = {"beta_only_stab": 1e-16}
    else:
        kwargs = {}
    name = rule.name
    if name == "flat":
        out = flat_lrp(M, Rf)
    else:
        if name == "alphabeta":
            param = (rule.alpha, rule.value("beta"))
        else:
            param = {"epsilon": getattr(rule, "epsilon", None),
                     "gamma": getattr(rule, "gamma", 0)}.get(name)
        bounds = (rule.low, rule.high) if name == "zb" else None
        out = linear_lrp(name, param, xf, M, b, Rf, bounds=bounds, **kwargs)
    return out.reshape(x.shape)


@pytest.mark.parametrize("inputs", ["mixed", "nonnegative"])
@pytest.mark.parametrize("spec", RULES)
@pytest.mark.parametrize("which", ["linear", "conv", "conv_1ch", "sumpool", "sumpool_overlap"])
def test_rule_equals_slow_formulation(which, spec, inputs):
    rng = np.random.default_rng(zlib.crc32(f"{which}/{spec}".encode()))
    layer, in_shape = make_layers(rng)[which]
    x = rng.normal(size=(3,) + in_shape)
    if inputs == "nonnegative":  # as after a ReLU: the engine skips the x⁻ terms
        x = np.maximum(x, 0)
    y = layer.forward(x, np)
    R = rng.normal(size=y.shape)
    ctx = Context(np, np.float64, (-1.0, 2.0))
    fast = parse_rule(spec).linear(layer, x, y, R, ctx)
    expected = slow(layer, in_shape, spec, x, R)
    assert fast.shape == x.shape and fast.dtype == x.dtype  # also where all of it vanishes
    scale = np.abs(expected).max()
    assert np.abs(fast - expected).max() <= 1e-9 * scale


def test_maxpool_winner_splits_ties_and_adds_overlaps():
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 5.0  # the centre wins every 2×2 window of a stride-1 pool
    pool = MaxPool((2, 2), (1, 1))
    y = pool.forward(x, np)
    R = np.ones_like(y)
    ctx = Context(np, np.float64, None)
    Rin = parse_rule("epsilon:0.1").maxpool(pool, x, y, R, ctx)
    assert Rin[0, 1, 1, 0] == 4.0 and Rin.sum() == 4.0
    # a constant window: the tie is split equally
    xt = np.ones((1, 2, 2, 1))
    pt = MaxPool((2, 2), (2, 2))
    Rt = parse_rule("simple").maxpool(pt, xt, pt.forward(xt, np), np.array([[[[8.0]]]]), ctx)
    assert np.array_equal(Rt[0, :, :, 0], np.full((2, 2), 2.0))


@pytest.mark.parametrize("spec", ["flat", "ww"])
def test_maxpool_flat_and_ww_split_uniformly(spec):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 4, 3))
    pool = MaxPool((2, 2), (2, 2))
    y = pool.forward(x, np)
    R = rng.normal(size=y.shape)
    Rin = parse_rule(spec).maxpool(pool, x, y, R, Context(np, np.float64, None))
    assert np.allclose(Rin[:, 0::2, 0::2, :], R / 4)
    assert np.allclose(Rin[:, 1::2, 1::2, :], R / 4)


@pytest.mark.parametrize("spec, message", [
    ("nonsense", "unknown rule"),
    ("epsilon:-1", "epsilon: ε .* > 0"),
    ("epsilon:0", "use 'simple'"),
    ("epsilon:nan", "finite"),
    ("epsilon:abc", "number"),
    ("alphabeta:1:2:3", "parameter"),
    ("alphabeta:2:-1.5", "alphabeta: β .* ≥ -1"),
    ("alphabeta:-2", "≥ 0"),
    ("gamma:-0.5", "≥ 0"),
    ("zb:1:-1", "low < high"),
    ("zb:1", "parameter"),
    ("flat:3", "parameter"),
])
def test_bad_rule_specs_fail_at_construction(spec, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(spec)


def test_toolbox_aliases():
    assert parse_rule("ALPHA:2").spec() == "alphabeta:2"
    assert parse_rule("w^2").spec() == "ww"
    assert parse_rule("none").spec() == "simple"
