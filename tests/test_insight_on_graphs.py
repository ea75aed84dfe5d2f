"""The insight tools' lrpcore parts on graph models (EfficientNet-Lite0's node kinds, small):
gradient baselines follow the graph (before: "no gradient is defined" at the first merge), and
Compare's per-class maps equal single explanations (before: the repeated sample was walked
as a chain, giving maps in the wrong layout and with wrong values)."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model

import lrpcore
from lrpcore.explain import Explainer
from lrpcore.insight import compare
from lrpcore.insight.baselines import gradient_x_input, input_gradient
from lrpcore.insight.views import sample_view


def test_graph_gradient_matches_finite_differences():
    model = colour_graph_model(side=8)
    ex = Explainer(model, "numpy", "float64")
    x = np.random.default_rng(2).normal(0, 1, (1, 3, 8, 8))
    fwd = ex.forward(x, raw=True)
    cls = int(fwd.predictions()[0])
    g = input_gradient(fwd, cls)
    assert g.shape == x.shape
    h, flat = 1e-6, x.reshape(-1)
    eye = np.eye(flat.size) * h
    batch = np.concatenate([flat + eye, flat - eye]).reshape((2 * flat.size,) + x.shape[1:])
    y = ex.forward(batch, raw=True).outputs()[:, cls]
    numeric = ((y[:flat.size] - y[flat.size:]) / (2 * h)).reshape(x.shape)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gradient_x_input(fwd, cls), g * x, rtol=1e-12)


def test_compare_on_a_graph_model_equals_single_explanations():
    model = colour_graph_model()
    x = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3))
    fwd = Explainer(model, "numpy", "float64").forward(x)
    one = sample_view(fwd, 1)
    comp = compare(one, ["epsilon:0.01", "EpsilonPlus", "gradxinput"], classes=[3, 5])
    for row, rule in zip(comp.rows[:2], ["epsilon:0.01", "EpsilonPlus"], strict=True):
        assert row.maps.shape == (2, 3, 16, 16)  # the model's own C×H×W layout
        for col, cls in enumerate((3, 5)):
            want = lrpcore.explain(model, x[1:], rule=rule, target=cls, dtype="float64")[0]
            np.testing.assert_allclose(row.maps[col], want, rtol=1e-10, atol=1e-12)
    g = input_gradient(one, 5)
    np.testing.assert_allclose(comp.rows[2].maps[1], (g * one.activations[0])[0], rtol=1e-10)


def test_views_of_a_sharded_graph_forward_pass():
    """A batch run as shards: one sample of the second shard explains as it would alone."""
    model = colour_graph_model()
    ex = Explainer(model, "numpy", "float64")
    x = np.random.default_rng(4).integers(0, 256, (64, 16, 16, 3))
    fwd = ex.forward(x)
    assert len(fwd.stores) == 2 or ex.threads < 2
    one = sample_view(fwd, 50)
    want = ex.forward(x[50:51])
    np.testing.assert_allclose(one.outputs(), want.outputs(), rtol=1e-12)  # BLAS order
    np.testing.assert_allclose(one.relevance("EpsilonPlus"), want.relevance("EpsilonPlus"),
                               rtol=1e-12)
    np.testing.assert_allclose(input_gradient(fwd, 2)[50:51], input_gradient(want, 2),
                               rtol=1e-10, atol=1e-14)


def test_layer_map_of_a_channels_first_input_is_an_image():
    """The relevance at a PyTorch model's own N×C×H×W input was summed over its width."""
    from lrpcore.insight.conservation import layer_relevance_map

    model = colour_graph_model(16)
    x = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    fwd = Explainer(model, "numpy", "float64").forward(x)
    R = fwd.relevance("epsilon:0.01")  # N×3×16×16, the model's layout
    np.testing.assert_allclose(layer_relevance_map(fwd, 0, "epsilon:0.01"), R.sum(axis=1),
                               rtol=1e-10, atol=1e-14)
    assert layer_relevance_map(fwd, 0, "epsilon:0.01", channel_sum=False).shape == (2, 16, 16, 3)
