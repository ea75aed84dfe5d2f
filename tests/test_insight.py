"""Insight computations: rule comparison, gradient baselines, conservation per layer."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import RuleError, ShapeError
from lrpcore.insight import (
    Cancelled,
    compare,
    conservation,
    conservation_from_trace,
    contrast_map,
    format_conservation,
    gradient_x_input,
    input_gradient,
    layer_relevance_map,
    sensitivity,
)
from lrpcore.layers import Convolution, Flatten, Linear, MaxPool, Rect, SoftMax, SumPool, Tanh
from lrpcore.model import Sequential
from lrpcore.spec import InputSpec


def conv_model(rng, zero_bias=False):
    """Conv → Rect → MaxPool → Conv → Tanh → SumPool → Flatten → Linear on 8×8×2 inputs."""
    def b(n):
        return np.zeros(n) if zero_bias else rng.normal(0, 0.1, n)

    layers = [
        Convolution(rng.normal(0, 0.5, (3, 3, 2, 4)), b(4)),
        Rect(),
        MaxPool((2, 2), (1, 1)),
        Convolution(rng.normal(0, 0.5, (2, 2, 4, 3)), b(3)),
        Tanh(),
        SumPool((2, 2), (1, 1)),
        Flatten(),
        Linear(rng.normal(0, 0.5, (27, 5)), b(5)),
    ]
    spec = InputSpec(shape=(8, 8, 2), raw_shape=(8, 8, 2))
    return Sequential(layers, spec)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def forward_of(model, x):
    return lrpcore.Explainer(model, "numpy", "float64").forward(x, raw=True)


def logits(model, x):
    a = np.asarray(x, dtype=np.float64)
    for layer in model.analysis_layers():
        a = layer.forward(a, np)
    return a


# -- gradient baselines --------------------------------------------------------------------


def finite_difference_gradient(model, x, cls, h=1e-6):
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        fu = logits(model, up.reshape(x.shape))[0, cls]
        fd = logits(model, down.reshape(x.shape))[0, cls]
        g.reshape(-1)[i] = (fu - fd) / (2 * h)
    return g


def test_input_gradient_matches_finite_differences(rng):
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (1, 8, 8, 2))
    fwd = forward_of(model, x)
    for cls in (0, 3):
        g = input_gradient(fwd, target=cls)
        fd = finite_difference_gradient(model, x, cls)
        assert np.abs(g).max() > 1e-3  # a real gradient, not zeros
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_gradient_through_inner_softmax_matches_finite_differences(rng):
    model = Sequential([Linear(rng.normal(size=(6, 4)), rng.normal(size=4)), SoftMax(),
                        Linear(rng.normal(size=(4, 3)), rng.normal(size=3))],
                       InputSpec(shape=(6,), raw_shape=(6,), layout="flat"))
    x = rng.normal(size=(1, 6))
    g = input_gradient(forward_of(model, x), target=2)
    np.testing.assert_allclose(g, finite_difference_gradient(model, x, 2), rtol=1e-5, atol=1e-8)


def test_gradient_of_pred_target_is_per_sample(rng):
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (3, 8, 8, 2))
    fwd = forward_of(model, x)
    pred = fwd.predictions()
    g = input_gradient(fwd, target="pred")
    for n in range(3):
        single = input_gradient(forward_of(model, x[n:n + 1]), target=int(pred[n]))
        np.testing.assert_allclose(g[n:n + 1], single, rtol=1e-12, atol=1e-14)


def test_sensitivity_and_gradient_times_input(rng):
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (2, 8, 8, 2))
    fwd = forward_of(model, x)
    g = input_gradient(fwd, target=1)
    np.testing.assert_allclose(sensitivity(fwd, target=1), g ** 2)
    np.testing.assert_allclose(sensitivity(fwd, target=1, channel_sum=True),
                               (g ** 2).sum(axis=-1))
    np.testing.assert_allclose(gradient_x_input(fwd, target=1), g * x)


def test_gradient_x_input_equals_simple_lrp_on_a_bias_free_linear_model(rng):
    W = rng.normal(size=(10, 3))
    model = Sequential([Linear(W, np.zeros(3))], InputSpec(shape=(10,), raw_shape=(10,),
                                                           layout="flat"))
    x = rng.normal(size=(4, 10))
    fwd = forward_of(model, x)
    expected = x * W[:, 2]  # the contribution of every input to output 2
    np.testing.assert_allclose(gradient_x_input(fwd, target=2), expected, atol=1e-12)
    np.testing.assert_allclose(fwd.relevance("simple", target=2), expected, atol=1e-12)


# -- compare -------------------------------------------------------------------------------


def test_compare_rows_match_single_relevance_calls(rng):
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (3, 8, 8, 2))
    fwd = forward_of(model, x)
    rules = ["simple", "epsilon:0.1", "alphabeta:2", "zplus", "gradxinput"]
    cmp = compare(fwd, rules, index=1, classes="all", contrast=(4, 0))
    assert len(cmp.rows) == len(rules)
    single = forward_of(model, x[1:2])
    for rule, row in zip(rules, cmp.rows, strict=True):
        assert row.maps.shape == (6, 8, 8, 2)  # five classes and the contrast
        assert row.titles[-1] == "4 vs 0"
        for c in range(5):
            if rule == "gradxinput":
                ref = gradient_x_input(single, target=c)[0]
            else:
                ref = single.relevance(rule, target=c)[0]
            np.testing.assert_allclose(row.maps[c], ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(row.maps[5], row.maps[4] - row.maps[0], atol=1e-14)
        assert row.vmax == pytest.approx(np.abs(row.maps).max())
    assert cmp.vmax == pytest.approx(max(np.abs(r.maps).max() for r in cmp.rows))
    np.testing.assert_allclose(cmp.outputs, fwd.outputs()[1])


def test_compare_target_column_is_the_predicted_or_true_class(rng):
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (4, 8, 8, 2))
    fwd = forward_of(model, x)
    pred = fwd.predictions()
    cmp = compare(fwd, "epsilon:0.01", index=2)
    assert cmp.classes == (int(pred[2]),)
    labels = (pred + 1) % 5
    cmp_true = compare(fwd, ["epsilon:0.01"], index=2, target="true", labels=labels)
    assert cmp_true.classes == (int(labels[2]),)
    np.testing.assert_allclose(cmp_true.rows[0].maps[0],
                               fwd.relevance("epsilon:0.01", target=int(labels[2]))[2],
                               atol=1e-13)


def test_contrast_map_and_positive_part(rng):
    model = conv_model(rng)
    fwd = forward_of(model, rng.uniform(-1, 1, (2, 8, 8, 2)))
    ra = fwd.relevance("simple", target=1)[0]
    rb = fwd.relevance("simple", target=3)[0]
    np.testing.assert_allclose(contrast_map(fwd, "simple", 1, 3, index=0), ra - rb, atol=1e-13)
    pos = contrast_map(fwd, "simple", 1, 3, index=0, positive=True)
    assert pos.min() >= 0
    np.testing.assert_allclose(pos, np.maximum(ra - rb, 0), atol=1e-13)


def test_compare_rejects_bad_requests(rng):
    model = conv_model(rng)
    fwd = forward_of(model, rng.uniform(-1, 1, (2, 8, 8, 2)))
    with pytest.raises(RuleError, match="at most 6"):
        compare(fwd, ["simple"] * 7)
    with pytest.raises(RuleError):
        compare(fwd, ["no-such-rule"])
    with pytest.raises(ShapeError, match="out of range"):
        compare(fwd, ["simple"], contrast=(0, 9))
    with pytest.raises(ShapeError, match="sample 5"):
        compare(fwd, ["simple"], index=5)
    with pytest.raises(Cancelled):
        compare(fwd, ["simple", "flat"], cancel=lambda: True)


def test_compare_reports_progress(rng):
    model = conv_model(rng)
    fwd = forward_of(model, rng.uniform(-1, 1, (1, 8, 8, 2)))
    seen = []
    compare(fwd, ["simple", "flat", "ww"], progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3) and seen[0] == (0, 3)


# -- conservation --------------------------------------------------------------------------


def test_conservation_sums_agree_with_direct_computation(rng):
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (2, 8, 8, 2))
    fwd = forward_of(model, x)
    _, trace = fwd.relevance("alphabeta:2", target="pred", trace=True)
    rows = conservation(fwd, "alphabeta:2")
    layers = model.analysis_layers()
    assert len(rows) == 2 * len(layers)
    for row in rows:
        s, k = row.sample, row.layer
        assert row.sum_in == pytest.approx(trace[k][s].sum(), rel=1e-12, abs=1e-14)
        assert row.sum_out == pytest.approx(trace[k + 1][s].sum(), rel=1e-12, abs=1e-14)
        assert row.created == pytest.approx(row.sum_in - row.sum_out)
        assert row.description == layers[k].describe()
        assert row.explained == pytest.approx(fwd.outputs()[s].max())
    # pass-through layers neither create nor absorb
    for row in rows:
        if layers[row.layer].kind in ("Rect", "Tanh", "Flatten"):
            assert row.created == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("rule, tol", [("simple", 1e-10), ("epsilon:1e-9", 1e-6)])
def test_simple_and_small_epsilon_conserve_without_biases(rng, rule, tol):
    model = conv_model(rng, zero_bias=True)
    fwd = forward_of(model, rng.uniform(-1, 1, (3, 8, 8, 2)))
    for row in conservation(fwd, rule):
        assert abs(row.ratio - 1) < tol, row
        assert abs(row.of_output - 1) < tol, row


def test_biases_absorb_relevance_with_epsilon(rng):
    model = conv_model(rng)  # non-zero biases
    fwd = forward_of(model, rng.uniform(-1, 1, (3, 8, 8, 2)))
    rows = conservation(fwd, "epsilon:0.5")
    weighted = [r for r in rows if model.analysis_layers()[r.layer].weighted]
    assert any(abs(r.created) > 1e-3 for r in weighted)


def test_lenet_alphabeta2_doubles_relevance_at_every_sumpool(lenet, reference):
    fwd = lrpcore.Explainer(lenet, "numpy", "float64").forward(reference["X"], raw=True)
    rows = conservation(fwd, "alphabeta:2")
    by_layer = {}
    for row in rows:
        by_layer.setdefault(row.layer, []).append(row)
    for k in (2, 5, 8):  # the SumPool layers
        assert by_layer[k][0].description.startswith("SumPool")
        assert np.median([r.ratio for r in by_layer[k]]) == pytest.approx(2.0, abs=1e-3)
    # the toolbox's own conservation error: |sum R − sum Rinit| / |sum Rinit|
    cons = [abs(r.of_output - 1) for r in by_layer[0]]
    np.testing.assert_allclose(cons, reference["cons__alphabeta_2"], rtol=1e-6)
    assert 9.0 < np.median([r.of_output for r in by_layer[0]]) < 9.6


def test_format_conservation_table(rng):
    model = conv_model(rng)
    fwd = forward_of(model, rng.uniform(-1, 1, (2, 8, 8, 2)))
    rows = conservation(fwd, "simple")
    text = format_conservation(rows)
    assert text.count("sample ") == 2
    assert "Convolution 3×3×2×4" in text and "SumPool" in text
    assert len(text.splitlines()) == 2 * (len(model.analysis_layers()) + 2) + 1
    nan_rows = conservation_from_trace([np.zeros((1, 3)), np.zeros((1, 3))], [Rect()])
    assert "—" in format_conservation(nan_rows)


def test_layer_relevance_map(rng):
    model = conv_model(rng)
    fwd = forward_of(model, rng.uniform(-1, 1, (2, 8, 8, 2)))
    _, trace = fwd.relevance("epsilon:0.01", trace=True)
    m = layer_relevance_map(fwd, 3, "epsilon:0.01")
    assert m.shape == (2, 5, 5)  # 8 → conv 3×3 → 6 → max pool 2×2 stride 1 → 5
    np.testing.assert_allclose(m, trace[3].sum(axis=-1))
    full = layer_relevance_map(fwd, 3, "epsilon:0.01", channel_sum=False)
    assert full.shape == (2, 5, 5, 4)
    top = layer_relevance_map(fwd, len(model.analysis_layers()), "epsilon:0.01")
    np.testing.assert_allclose(top, trace[-1])
    with pytest.raises(ShapeError, match="does not exist"):
        layer_relevance_map(fwd, 99, "simple")
    with pytest.raises(ShapeError):
        conservation_from_trace(trace[:-1], model.analysis_layers())
