"""Graph models from real PyTorch exports agree with zennit 0.5.1 (../shared/reference §11)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from parity import relative_error
from shared_data import shared_arrays, shared_path

import lrpcore
from lrpcore.graph import GraphModel

pytest.importorskip("onnx")

RULES = {"epsilon_0p01": "epsilon:0.01", "EpsilonPlus": "EpsilonPlus",
         "EpsilonAlpha2Beta1": "EpsilonAlpha2Beta1", "EpsilonPlusFlat": "EpsilonPlusFlat",
         "EpsilonGammaBox": "EpsilonGammaBox"}


@pytest.fixture(scope="module")
def resnet():
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    return model, shared_arrays("reference", "mnist_resnet_dev.npz")


@pytest.fixture(scope="module")
def efficientnet():
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "efficientnet_lite0.onnx"))
    ref = shared_arrays("reference", "efficientnet_lite0_dev.npz")
    # the preprocessing the reference used: (x/255 − 0.498)/0.502 per channel
    model.input_spec = replace(model.input_spec, divide=255.0, raw_range=(0.0, 255.0),
                               mean=tuple(map(float, ref["mean"])),
                               std=tuple(map(float, ref["std"])))
    return model, ref


@pytest.fixture(scope="module")
def resnet_forward(resnet):
    model, ref = resnet
    return lrpcore.Explainer(model, dtype="float64").forward(ref["x"].astype(np.float64),
                                                               raw=True)


@pytest.fixture(scope="module")
def efficientnet_forward(efficientnet):
    model, ref = efficientnet
    return lrpcore.Explainer(model, dtype="float64").forward(ref["x"].astype(np.float64),
                                                               raw=True)


def test_resnet_is_a_graph_taking_its_own_layout(resnet):
    model, ref = resnet
    assert isinstance(model, GraphModel)
    assert model.input_spec.layout == "NCHW" and model.input_spec.shape == (1, 28, 28)
    assert sum(n.layer.kind == "Add" for n in model.nodes) == 3
    assert "NCHW" in model.summary()


def test_resnet_outputs_equal_zennit(resnet, resnet_forward):
    np.testing.assert_allclose(resnet_forward.outputs(), resnet[1]["Y"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", RULES)
def test_resnet_relevance_equals_zennit(resnet, resnet_forward, name):
    ref = resnet[1]["R__" + name]
    R = resnet_forward.relevance(RULES[name])
    assert R.shape == ref.shape  # N×C×H×W, the layout the model takes
    assert relative_error(R, ref).max() < 1e-4


def test_efficientnet_outputs_and_predictions(efficientnet, efficientnet_forward):
    _, ref = efficientnet
    np.testing.assert_allclose(efficientnet_forward.outputs(), ref["Y"], rtol=0, atol=1e-6)
    assert list(efficientnet_forward.predictions()) == [450, 967]


@pytest.mark.parametrize("name", RULES)
def test_efficientnet_relevance_equals_zennit(efficientnet, efficientnet_forward, name):
    ref = efficientnet[1]["R__" + name]
    R = efficientnet_forward.relevance(RULES[name])
    assert relative_error(R, ref).max() < 1e-4


def test_efficientnet_takes_raw_images_through_its_spec(efficientnet):
    """H×W×C uint8 photographs are divided, normalised per channel and turned to C×H×W."""
    model, ref = efficientnet
    ex = lrpcore.Explainer(model, dtype="float64")
    fed = ex.prepare(ref["images"])
    np.testing.assert_allclose(fed, ref["x"], atol=1e-6)
    low, high = model.input_spec.channel_range()
    np.testing.assert_allclose(low, (0 - ref["mean"]) / ref["std"])
    np.testing.assert_allclose(high, (1 - ref["mean"]) / ref["std"])


def test_trace_reports_every_node_and_conservation_at_merges(resnet, resnet_forward):
    model, _ = resnet
    R, per_node = resnet_forward.relevance("EpsilonPlus", trace=True)
    assert len(per_node) == len(model.nodes) + 1
    adds = [k for k, n in enumerate(model.nodes) if n.layer.kind == "Add"]
    for k in adds:  # Norm conserves: Σ relevance at the Add's inputs = Σ at its output
        out = per_node[k + 1] if model.nodes[k + 1].layer.kind == "Rect" else None
        assert out is not None
        np.testing.assert_allclose(per_node[k].sum(), out.sum(), rtol=1e-5)


def test_convert_to_native_keeps_relevance(resnet, resnet_forward, tmp_path):
    model, ref = resnet
    path = tmp_path / "resnet.npz"
    lrpcore.save_model(model, path)
    again = lrpcore.load_model(path)
    assert isinstance(again, GraphModel)
    assert again.node_names == model.node_names
    R = lrpcore.Explainer(again, dtype="float64").forward(
        ref["x"].astype(np.float64), raw=True).relevance("EpsilonPlus")
    np.testing.assert_array_equal(R, resnet_forward.relevance("EpsilonPlus"))


@pytest.mark.parametrize("name, build", [("mnist_resnet.onnx", "mnist_resnet"),
                                         ("efficientnet_lite0.onnx", "efficientnet_lite0")])
def test_zoo_architectures_have_the_shape_of_the_exports(name, build):
    """The benchmark's (and the state-dict builder's) architectures are the exported ones."""
    from lrpcore import zoo

    exported = lrpcore.load_model(shared_path("models", "torch_onnx", name))
    built = getattr(zoo, build)()
    assert [n.layer.kind for n in built.nodes] == [n.layer.kind for n in exported.nodes]
    assert built.param_count() == exported.param_count()
    assert built.shapes() == exported.shapes()
