"""The cupy code path, run on a strict CPU stand-in for the GPU (see ``fake_device``).

Every rule, preset and target, traces, float32, padded and max-pooling models, the insight
tools and training go through the engine with backend "cupy" semantics: a host array meeting a
device array fails as it would on a GPU, and results must equal the numpy backend's. The real
GPU check (speed, and cupy's own kernels) is ``tools/gpu_check.py`` on a device machine.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_device import FAKE_GPU, DeviceArray, MixedArraysError, OperationCounter, fake_cupy

import lrpcore
from lrpcore.bench import lenet5
from lrpcore.bundled import bundled_models
from lrpcore.insight.pixelflip import evaluate_methods
from lrpcore.layers import Convolution, Flatten, Linear, MaxPool, Pad, Rect, SumPool, Tanh
from lrpcore.model import Sequential
from lrpcore.presets import PRESETS
from lrpcore.spec import InputSpec

# zB on every layer with the models' input range as explicit bounds (plain zb is refused on
# hidden layers; EpsilonGammaBox puts it, without bounds, on the first convolution)
RULES = ["simple", "epsilon:0.01", "alphabeta:2", "alphabeta:1", "alphabeta:0", "flat", "ww",
         "zb:-1:1", "gamma:0.25", "zplus", *PRESETS]


def _padded_maxnet(seed=0) -> Sequential:
    """Pad, convolution, tanh, max pooling (after a Pad too), dense: every special case."""
    rng = np.random.default_rng(seed)
    layers = [Pad((1, 1, 1, 1), 0.0), Convolution(rng.normal(size=(3, 3, 1, 4)) / 3,
                                                    rng.normal(size=4) * 0.1),
              Tanh(), Pad((0, 1, 0, 1), 0.0), MaxPool((2, 2), (2, 2)), Rect(), Flatten(),
              Linear(rng.normal(size=(4 * 4 * 4, 3)) / 8, rng.normal(size=3) * 0.1)]
    return Sequential(layers, InputSpec(shape=(7, 7, 1), raw_shape=(7, 7, 1),
                                        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))


def _uneven_pools(seed=0) -> Sequential:
    """Pools whose windows leave input rows and columns over, and overlapping windows."""
    rng = np.random.default_rng(seed)
    layers = [MaxPool((2, 2), (2, 2)), Convolution(rng.normal(size=(2, 2, 1, 3)), np.zeros(3)),
              Rect(), SumPool((2, 2), (2, 2)), MaxPool((1, 1), (1, 1)), Flatten(),
              Linear(rng.normal(size=(3, 4)), rng.normal(size=4) * 0.1)]
    return Sequential(layers, InputSpec(shape=(9, 9, 1), raw_shape=(9, 9, 1)))


def _overlapping_pools(seed=0) -> Sequential:
    rng = np.random.default_rng(seed)
    layers = [Convolution(rng.normal(size=(3, 3, 1, 2)), rng.normal(size=2) * 0.1), Rect(),
              MaxPool((3, 3), (2, 2)), SumPool((2, 1), (1, 1)), Flatten(),
              Linear(rng.normal(size=(4, 3)), np.zeros(3))]
    return Sequential(layers, InputSpec(shape=(8, 8, 1), raw_shape=(8, 8, 1)))


MODELS = {"lenet5": (lenet5, (32, 32, 1)), "padded": (_padded_maxnet, (7, 7, 1)),
          "uneven": (_uneven_pools, (9, 9, 1)), "overlapping": (_overlapping_pools, (8, 8, 1))}


def test_the_stand_in_refuses_host_arrays_like_cupy():
    d = fake_cupy.asarray(np.ones(3))
    assert isinstance(d, DeviceArray) and isinstance(d * 2 + d, DeviceArray)
    for mixed in (lambda: d + np.ones(3), lambda: np.ones((2, 3)) @ d,
                  lambda: fake_cupy.maximum(np.ones(3), 0), lambda: np.concatenate([d, np.ones(1)]),
                  lambda: fake_cupy.zeros_like(np.ones(2))):
        with pytest.raises(MixedArraysError, match="host numpy array"):
            mixed()
    assert type(fake_cupy.asnumpy(d)) is np.ndarray and type(d.get()) is np.ndarray


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_on_the_device_path_equals_numpy(name, rule):
    make, shape = MODELS[name]
    model = make()
    x = np.random.default_rng(1).uniform(-1, 1, (5,) + shape)
    want = lrpcore.explain(model, x, rule=rule, raw=True, backend="numpy")
    got = lrpcore.explain(model, x, rule=rule, raw=True, backend=FAKE_GPU)
    assert type(got) is np.ndarray
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize(("rule", "most"), [("epsilon:0.01", 100), ("EpsilonPlusFlat", 115)])
def test_one_lenet5_click_takes_few_device_operations(rule, most):
    """A GPU pays microseconds per operation however small: one sample's forward pass and
    explanation must stay a few dozen launches per layer (convolutions as one window copy and
    one product, pools as one reduction), not hundreds of slice copies."""
    ex = lrpcore.Explainer(lenet5(), FAKE_GPU, "float32")
    x = np.random.default_rng(5).uniform(-1, 1, (1, 32, 32, 1))
    ex.forward(x, raw=True).relevance(rule)  # weight variants are made on first use
    before = OperationCounter.count
    ex.forward(x, raw=True).relevance(rule, to_numpy=False)
    assert 0 < OperationCounter.count - before <= most


@pytest.mark.parametrize("target", ["pred", "output", 2, "true", "per-sample"])
def test_targets_traces_and_layer_rules_on_the_device_path(target):
    model = lenet5()
    x = np.random.default_rng(2).uniform(-1, 1, (4, 32, 32, 1))
    labels = np.array([3, 1, 4, 1])
    kw = {"labels": labels} if target == "true" else {}
    tgt = labels[::-1].copy() if target == "per-sample" else target
    results = []
    for backend in ("numpy", FAKE_GPU):
        fwd = lrpcore.Explainer(model, backend).forward(x, raw=True)
        R, per_layer = fwd.relevance("alphabeta:2", tgt, layer_rules={0: "zb", 3: "ww"},
                                     trace=True, **kw)
        results.append((R, per_layer, fwd.outputs(), fwd.predictions()))
    (R0, L0, Y0, P0), (R1, L1, Y1, P1) = results
    np.testing.assert_allclose(R1, R0, rtol=0, atol=1e-12 * np.abs(R0).max())
    for a, b in zip(L0, L1, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert type(b) is np.ndarray
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * max(np.abs(a).max(), 1))
    np.testing.assert_allclose(Y1, Y0, rtol=1e-12)
    assert np.array_equal(P0, P1)


def test_float32_and_bundled_models_on_the_device_path():
    digits = np.random.default_rng(3).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    for path in bundled_models():
        model = lrpcore.load_model(path)
        for dtype in ("float64", "float32"):
            want = lrpcore.explain(model, digits, rule="EpsilonPlusFlat", backend="numpy",
                                   dtype=dtype)
            got = lrpcore.explain(model, digits, rule="EpsilonPlusFlat", backend=FAKE_GPU,
                                  dtype=dtype)
            assert got.dtype == want.dtype
            tol = 1e-12 if dtype == "float64" else 1e-5
            np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())
        np.testing.assert_allclose(lrpcore.predict(model, digits, backend=FAKE_GPU),
                                   lrpcore.predict(model, digits, backend="numpy"), rtol=1e-12)


def test_pixel_flipping_and_baselines_on_the_device_path():
    model = lenet5()
    x = np.random.default_rng(4).uniform(-1, 1, (3, 32, 32, 1))
    methods = ["epsilon:0.01", "sensitivity", "gradxinput"]
    kw = {"steps": 4, "raw": True, "patch": 4}
    want = evaluate_methods(model, x, methods, backend="numpy", **kw)
    got = evaluate_methods(model, x, methods, backend=FAKE_GPU, **kw)
    for a, b in zip(want, got, strict=True):
        assert a.label == b.label and type(b.outputs) is np.ndarray
        np.testing.assert_allclose(b.outputs, a.outputs, rtol=1e-12, atol=1e-12)


def test_training_on_the_device_path(tmp_path):
    from test_train import _cfg, _toy_data, _weights

    from lrpcore.train.loop import train

    kw = {"log": lambda s: None}
    a = train(_cfg(epochs=1), _toy_data(), tmp_path / "a.npz", backend="numpy", **kw)
    b = train(_cfg(epochs=1), _toy_data(), tmp_path / "b.npz", backend=FAKE_GPU, **kw)
    for wa, wb in zip(_weights(a.model), _weights(b.model), strict=True):
        np.testing.assert_allclose(wb, wa, rtol=1e-10, atol=1e-12)


def _small_graph(seed=0):
    """Every graph operator on a small input: a depthwise block with ReLU6 and a residual Add,
    a concatenation, mean pooling, channels-first input and flatten."""
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import (
        Add,
        Clip,
        Concat,
        FlattenChannelsFirst,
        GroupedConvolution,
        LeakyReLU,
        MeanPool,
        ToChannelsLast,
    )

    rng = np.random.default_rng(seed)

    def conv(h, d, n):
        return Convolution(rng.normal(size=(h, h, d, n)) / h, rng.normal(size=n) * 0.1)

    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),
        Node("stem/pad", Pad((1, 1, 1, 1)), ("a",), "ap"),
        Node("stem", conv(3, 2, 4), ("ap",), "b"),
        Node("relu6", Clip(0.0, 6.0), ("b",), "c"),
        Node("dw/pad", Pad((0, 1, 0, 1)), ("c",), "cp"),
        Node("dw", GroupedConvolution(rng.normal(size=(2, 2, 1, 4)), rng.normal(size=4) * 0.1,
                                      (1, 1), groups=4), ("cp",), "d"),
        Node("leaky", LeakyReLU(0.1), ("d",), "e"),
        Node("add", Add(), ("e", "c"), "f"),
        Node("pw", conv(1, 4, 2), ("f",), "g"),
        Node("cat", Concat(), ("f", "g"), "h"),
        Node("pool", MeanPool((2, 2), (2, 2)), ("h",), "i"),
        Node("flat", FlattenChannelsFirst(), ("i",), "j"),
        Node("fc", Linear(rng.normal(size=(6 * 3 * 3, 3)) / 4, rng.normal(size=3) * 0.1),
             ("j",), "y"),
    ]
    spec = InputSpec(shape=(2, 6, 6), raw_shape=(6, 6, 2), layout="NCHW", divide=1.0,
                     offset=0.0, value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0))
    return GraphModel(nodes, "x", "y", spec)


@pytest.mark.parametrize("rule", RULES)
def test_graph_operators_on_the_device_path_equal_numpy(rule):
    model = _small_graph()
    x = np.random.default_rng(6).uniform(-1, 1, (4, 2, 6, 6))
    want = lrpcore.explain(model, x, rule=rule, raw=True, backend="numpy")
    got = lrpcore.explain(model, x, rule=rule, raw=True, backend=FAKE_GPU)
    assert type(got) is np.ndarray and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("rule", ["epsilon:0.01", "EpsilonPlusFlat", "EpsilonGammaBox",
                                  "EpsilonAlpha2Beta1"])
def test_transposed_convolution_and_resize_on_the_device_path_equal_numpy(rule):
    """Spread (its border mask for flat and zB) and NearestResize: the decoder graph that
    tools/gpu_graph_check.py runs on a real device."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import gpu_graph_check

    # and ConvNeXt's ChannelNorm and PositionwiseDense; Attention U-Net's gate on a resized
    # one-channel map and a dilated convolution whose phases run as blocks of two lengths
    for name in ("decoder", "convnext", "attention"):
        model = gpu_graph_check.later_kinds_graphs()[f"every operator ({name})"]
        x = np.random.default_rng(7).uniform(-1, 1, (3, *model.input_spec.shape))
        want = lrpcore.explain(model, x, rule=rule, raw=True, backend="numpy")
        got = lrpcore.explain(model, x, rule=rule, raw=True, backend=FAKE_GPU)
        assert type(got) is np.ndarray and got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
