"""The engine's CUDA kernels, compiled as C on the CPU (tests/cpu_kernels.py), equal numpy.

CI has no GPU, so without this the kernel bodies in ``lrpcore.kernels`` would be tested only
when a session is lent a device. The same text runs here per output element, through the
engine's own GPU code path (the strict CPU stand-in for cupy), on every model shape that
takes a kernel: small convolutions each way (with and without bias, strides), depthwise
convolutions (3×3 and 5×5, strides 1 and 2, uneven sizes), the ε share and the one-class
initial relevance.
"""

from __future__ import annotations

import numpy as np
import pytest
from cpu_kernels import C_COMPILER, FAKE_GPU_KERNELS, DeviceArray
from test_device_parity import _small_graph

import lrpcore
from lrpcore import kernels
from lrpcore.bench import lenet5
from lrpcore.graph_layers import GroupedConvolution
from lrpcore.layers import Convolution

pytestmark = pytest.mark.skipif(C_COMPILER is None, reason="no C compiler to run the kernels")
xp = FAKE_GPU_KERNELS.xp


def _dev(a):
    return np.ascontiguousarray(a).view(DeviceArray)


def _host(a):
    assert isinstance(a, DeviceArray), "the GPU code path must hand back device arrays"
    return a.get()


@pytest.mark.parametrize("shape", [(9, 9, 4, 3, 1, 1), (10, 11, 3, 5, 2, 2), (8, 7, 2, 3, 2, 1),
                                   (7, 9, 5, 3, 1, 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_depthwise_kernels_equal_the_array_route(shape, dtype):
    H, W, C, k, s0, s1 = shape
    rng = np.random.default_rng(0)
    layer = GroupedConvolution(rng.normal(size=(k, k, 1, C)), np.zeros(C), (s0, s1), groups=C)
    x = rng.normal(size=(2, H, W, C)).astype(dtype)
    w = layer.W.astype(dtype)
    want = layer.fmap(x, w, np)
    got = _host(layer.fmap(_dev(x), _dev(w), xp))
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    c = rng.normal(size=want.shape).astype(dtype)
    want_t = layer.tmap(c, w, (H, W, C), np)
    got_t = _host(layer.tmap(_dev(c), _dev(w), (H, W, C), xp))
    np.testing.assert_allclose(got_t, want_t, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (2, 1)])
def test_direct_convolution_kernels_equal_numpy(stride):
    rng = np.random.default_rng(1)
    layer = Convolution(rng.normal(size=(3, 3, 2, 4)), rng.normal(size=4), stride)
    x = rng.normal(size=(3, 9, 8, 2))
    w = layer.W.reshape(-1, 4)
    want = layer.fmap(x, w, np)
    got = _host(kernels.conv_direct(_dev(x), _dev(w), 3, 3, *stride, xp))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    with_bias = _host(kernels.conv_direct(_dev(x), _dev(w), 3, 3, *stride, xp,
                                          bias=_dev(layer.B)))
    np.testing.assert_allclose(with_bias, want + layer.B, rtol=1e-12, atol=1e-12)
    c = rng.normal(size=want.shape)
    np.testing.assert_allclose(
        _host(kernels.conv_transpose_direct(_dev(c), _dev(w), (9, 8, 2), 3, 3, *stride, xp)),
        layer.tmap(c, w, (9, 8, 2), np), rtol=1e-12, atol=1e-12)


def test_pointwise_convolutions_take_the_matrix_product_not_the_direct_kernel():
    """A 1×1 convolution over hundreds of channels is one cuBLAS product on a GPU; the direct
    kernel (a thread per output, summing over every channel) took most of EfficientNet's GPU
    time."""
    expand = Convolution(np.ones((1, 1, 32, 96)), np.zeros(96))  # EfficientNet's smallest
    assert not expand._direct(1, 56, 56, xp)
    assert Convolution(np.ones((3, 3, 32, 96)), np.zeros(96))._direct(1, 56, 56, xp)
    assert Convolution(np.ones((1, 1, 100, 10)), np.zeros(10))._direct(256, 1, 1, xp)  # LeNet


@pytest.mark.parametrize("rule", ["epsilon:0.01", "EpsilonPlus", "EpsilonGammaBox", "alphabeta:2"])
@pytest.mark.parametrize("build,shape", [(lenet5, (32, 32, 1)), (_small_graph, (2, 6, 6))])
def test_models_through_the_kernels_equal_numpy(rule, build, shape):
    """Whole explanations on the GPU code path with every kernel it takes."""
    model = build()
    x = np.random.default_rng(3).uniform(-1, 1, (3,) + shape)
    want = lrpcore.explain(model, x, rule=rule, raw=True, backend="numpy")
    got = lrpcore.explain(model, x, rule=rule, raw=True, backend=FAKE_GPU_KERNELS)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11 * np.abs(want).max())


def test_class_relevance_and_epsilon_share_kernels():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(5, 7))
    classes = np.array([0, 6, 3, 3, 1])
    np.testing.assert_array_equal(_host(kernels.class_relevance(_dev(y), _dev(classes), xp)),
                                  kernels.class_relevance(y, classes, np))
    R, z = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    z[0, 0] = 0.0  # s(0) = +1
    np.testing.assert_allclose(_host(kernels.epsilon_share(_dev(R), _dev(z), 0.01, xp,
                                                           divisor=4.0)),
                               kernels.epsilon_share(R, z, 0.01, np, divisor=4.0), rtol=1e-14)


@pytest.mark.parametrize("rule", ["EpsilonPlus", "epsilon:0.01"])
def test_the_explorers_click_on_a_graph_model_runs_on_the_device_path(monkeypatch, rule):
    """The GUI worker's click (forward, traced backward, conservation check with the cut at
    the input) on the ONNX ResNet, served by the kernel stand-in as backend "cupy"."""
    from shared_data import shared_path

    from lrpcore import backend as backends
    from lrpgui.requests import ExplainRequest
    from lrpgui.services import ExplainService

    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    raw = np.random.default_rng(5).integers(0, 256, (28, 28, 1)).astype(np.uint8)
    want = ExplainService().run(ExplainRequest(model=model, raw=raw, index=0, rule=rule,
                                               backend="numpy", dtype="float64"))
    monkeypatch.setattr(backends, "_cupy_backend", lambda: FAKE_GPU_KERNELS)
    got = ExplainService().run(ExplainRequest(model=model, raw=raw, index=0, rule=rule,
                                              backend="cupy", dtype="float64"))
    assert got.backend == "cupy" and got.prediction == want.prediction
    np.testing.assert_allclose(got.relevance, want.relevance, rtol=0,
                               atol=1e-10 * np.abs(want.relevance).max())
    assert got.later["diagnosis"] is not None
    assert got.later["diagnosis"].summary() == want.later["diagnosis"].summary()
