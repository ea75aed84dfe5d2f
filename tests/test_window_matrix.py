"""Convolutions on the CPU as one window matrix (im2col) and one product each way.

``cpu_kernels.windows`` copies each output pixel's window into one row and
``cpu_kernels.add_windows`` sums such rows back (the transpose), each input row gathering its
own terms so that a split run gives the serial one's bits (tests/test_all_cores.py). Both must
be the convolution's own matrix and its transpose; only window matrices large enough for
compiled kernels take them (LeNet-5's digit loads no numba), and not too large (a large batch
keeps the smaller row layout).
"""

from __future__ import annotations

import numpy as np
import pytest
from slow_lrp import dense_matrix

from lrpcore import cpu_kernels, layers, parallel
from lrpcore.layers import Convolution

DTYPES = (np.float32, np.float64)
# (N, H, W, D), kernel h × w, stride: overlapping, tiling and skipping windows
CASES = [((2, 9, 11, 3), (3, 3), (1, 1)), ((1, 10, 7, 5), (3, 2), (2, 1)),
         ((3, 8, 9, 4), (2, 3), (2, 3)), ((1, 9, 9, 6), (1, 1), (2, 2))]


def _windowed_everywhere(monkeypatch):
    """The window path for these small test inputs too."""
    monkeypatch.setattr(layers, "CPU_KERNEL_SIZE", 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "kernel", "stride"), CASES)
def test_the_window_kernels_are_the_convolutions_map_and_its_transpose(monkeypatch, dtype,
                                                                         shape, kernel, stride):
    _windowed_everywhere(monkeypatch)
    rng = np.random.default_rng(sum(shape) + sum(stride))
    D = shape[3]
    conv = Convolution(rng.normal(size=kernel + (D, 4)), rng.normal(size=4), stride)
    used = []
    real = cpu_kernels.windows
    monkeypatch.setattr(cpu_kernels, "windows", lambda *a: used.append(1) or real(*a))
    x = rng.normal(size=shape).astype(dtype)
    w = conv.variant("w", np, dtype)
    M, _ = dense_matrix(conv, shape[1:])
    tol = 1e-4 if dtype == np.float32 else 1e-12
    y = conv.fmap(x, w, np)
    assert used == [1]  # not the row layout
    assert y.dtype == dtype
    assert np.allclose(y.reshape(shape[0], -1), x.reshape(shape[0], -1) @ M, rtol=0, atol=tol)
    c = rng.normal(size=y.shape).astype(dtype)
    back = conv.tmap(c, w, shape[1:], np)
    assert back.dtype == dtype
    assert np.allclose(back.reshape(shape[0], -1), c.reshape(shape[0], -1) @ M.T, rtol=0,
                       atol=tol)
    # the input share in the same pass: exactly the product of the two steps
    assert np.array_equal(conv.input_share(c, w, x, np), back * x)


def test_only_a_window_matrix_fit_for_compiled_kernels_takes_that_path(monkeypatch):
    used = []
    monkeypatch.setattr(cpu_kernels, "windows", lambda *a: used.append(a[0].shape) or 1 / 0)

    def windowed(conv, shape):
        try:
            out = conv.fmap(np.ones(shape), conv.variant("w", np, np.float64), np)
        except ZeroDivisionError:  # the spy ran
            return True
        assert out.shape[:1] == shape[:1]
        return False

    assert windowed(Convolution(np.ones((3, 3, 3, 32)), np.zeros(32), (2, 2)),
                    (1, 225, 225, 3))  # a photograph's stem
    assert windowed(Convolution(np.ones((3, 3, 16, 16)), np.zeros(16)), (1, 30, 30, 16))
    lenet = Convolution(np.ones((5, 5, 10, 25)), np.zeros(25))
    assert not windowed(lenet, (1, 14, 14, 10))  # one digit: numpy's rows, no numba
    assert not windowed(lenet, (1024, 14, 14, 10))  # decided per sample, not per batch
    huge = Convolution(np.ones((7, 7, 64, 8)), np.zeros(8))  # 56·56·3136 values a sample
    assert not windowed(huge, (1, 62, 62, 64))
    assert not windowed(Convolution(np.ones((3, 3, 1, 8)), np.zeros(8)), (1, 300, 300, 1))
    assert len(used) == 2


def test_a_graph_models_smaller_convolutions_take_window_matrices_too(monkeypatch):
    """A graph model loads the compiled kernels for its larger layers anyway: its layers of
    at least SMALL_WINDOW_MACS take window matrices too (one digit through the ResNet 12 %
    faster). A toolbox chain's LeNet-5 keeps numpy's rows: its digit loads no numba."""
    from lrpcore.bench import lenet5
    from lrpcore.zoo import mnist_resnet

    resnet = mnist_resnet()
    shapes = dict(zip([n.output for n in resnet.nodes], resnet.shapes(), strict=True))
    shapes[resnet.input_name] = tuple(resnet.input_spec.shape)
    small = []
    for node in resnet.nodes:
        layer = node.layer
        if isinstance(layer, Convolution) and layer.W.shape[2] > 1:
            Ho, Wo, _ = layer.output_shape(shapes[node.inputs[0]])
            values = Ho * Wo * layer.W[..., 0].size
            if values < layers.CPU_KERNEL_SIZE:
                small.append(layer._windowed(layer.W.shape[2], Ho, Wo))
    assert small and all(small)  # e.g. layer3's 7×7 convolutions, the 1×1 downsamples
    twin = Convolution(np.ones((3, 3, 32, 64)), np.zeros(64), (2, 2))  # layer3.conv1, alone
    assert not twin._windowed(32, 7, 7)
    for layer in lenet5().layers:
        assert not layer.small_windows



def test_rows_that_do_not_fit_the_input_are_refused_not_read_past():
    """numba checks no bounds: a ``times`` of another shape would be read past its end."""
    g = np.ones((4 * 4, 3 * 3 * 2))
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.add_windows(g, (6, 6, 2), 3, 3, 1, 1, times=np.ones((1, 6, 6, 1)))
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.add_windows(g[:, :9], (6, 6, 2), 3, 3, 1, 1)
    assert cpu_kernels.add_windows(g, (6, 6, 2), 3, 3, 1, 1).shape == (1, 6, 6, 2)


def test_depthwise_kernels_refuse_filters_or_inputs_that_do_not_fit():
    """Flat indices, no bounds checks: a mismatch must be an error, not a read past the end."""
    x = np.ones((1, 6, 6, 4))
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.depthwise(x, np.ones((3, 3, 5)), 1, 1)
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.depthwise(x, np.ones((3, 3, 4)), 1, 1, bias=np.ones(3))
    g = np.ones((1, 4, 4, 4))
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.depthwise_transpose(g, np.ones((3, 3, 4)), (6, 6, 4), 1, 1,
                                        times=np.ones((1, 6, 6, 1)))
    assert cpu_kernels.depthwise_transpose(g, np.ones((3, 3, 4)), (6, 6, 4), 1, 1,
                                           times=x).shape == x.shape


def test_the_other_kernels_refuse_arrays_that_do_not_fit():
    """The split product read 96 rows of a 16-row B when given b of the wrong shape (found
    while timing it): every compiled kernel's wrapper checks shapes first."""
    a, b = np.ones((64, 96), np.float32), np.ones((16, 96), np.float32)
    with parallel.all_cores(), pytest.raises(ValueError, match="matmul.*do not fit"):
        cpu_kernels.matmul(a, b)
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.matmul(a, b.T, bias=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.epsilon_share(np.ones(10), np.ones(12), 1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.positive_half(np.ones((4, 3)), None, None, np.ones((4, 2)), 0.1)
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.positive_half(np.ones((4, 3)), np.ones(2), None, np.ones((4, 3)), 0.1)
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.add_channels(np.ones((4, 3)), np.ones(2))
    with pytest.raises(ValueError, match="do not fit"):
        cpu_kernels.add_into(np.ones(8), np.ones(4))
    with parallel.all_cores():
        assert np.array_equal(cpu_kernels.matmul(a, np.ones((96, 16), np.float32)),
                              np.full((64, 16), 96, np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_sample_gets_the_same_bits_alone_as_in_a_batch_of_several_chunks(monkeypatch, dtype):
    """The path is chosen per sample and a large batch is cut into chunks of window matrices:
    a diagnosis summed over batches equals the whole (tests/test_diagnose.py) only if a
    sample's bits do not depend on the batch around it."""
    rng = np.random.default_rng(7)
    conv = Convolution(rng.normal(size=(3, 3, 16, 16)), rng.normal(size=16))
    x = rng.normal(size=(9, 30, 30, 16)).astype(dtype)  # 113k values a sample: 4 a chunk
    chunks = []
    real = cpu_kernels.windows
    monkeypatch.setattr(cpu_kernels, "windows", lambda a, *r: chunks.append(len(a)) or real(a, *r))
    w = conv.variant("w", np, dtype)
    batch = conv.fmap(x, w, np)
    assert chunks == [4, 4, 1]
    c = rng.normal(size=batch.shape).astype(dtype)
    share = conv.input_share(c, w, x, np)
    # float32: OpenBLAS's sgemm picks its kernel by the matrices' size (measured: a row's bits
    # differ between 784 and 3136 rows), in any layout; dgemm's rows do not depend on it
    same = np.array_equal if dtype == np.float64 else \
        (lambda a, b: np.allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max()))
    for i in (0, 5, 8):
        assert same(conv.fmap(x[i:i + 1], w, np)[0], batch[i])
        assert same(conv.input_share(c[i:i + 1], w, x[i:i + 1], np)[0], share[i])


def _offset_add_windows(g, in_shape, h, w, s0, s1):
    """The window rows summed back offset by offset, kernel row then column: the order the
    compiled kernel promises for each input."""
    H, W, D = in_shape
    Ho, Wo = (H - h) // s0 + 1, (W - w) // s1 + 1
    rows = g.reshape(-1, Ho, Wo, h, w, D)
    out = np.zeros((rows.shape[0], H, W, D), dtype=g.dtype)
    for a in range(h):
        for b in range(w):
            out[:, a:a + s0 * (Ho - 1) + 1:s0, b:b + s1 * (Wo - 1) + 1:s1] += rows[:, :, :, a, b]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("in_shape", "kernel", "stride"), [
    ((9, 11, 4), (3, 3), (1, 1)), ((12, 13, 3), (5, 5), (1, 1)), ((8, 6, 5), (3, 5), (2, 1)),
    ((10, 10, 2), (3, 3), (2, 2)), ((7, 9, 3), (2, 4), (1, 1)), ((5, 5, 6), (3, 3), (1, 1))])
def test_window_rows_add_back_in_offset_order_bit_for_bit(dtype, in_shape, kernel, stride):
    """Inputs every kernel column reaches sum their terms in a register (3 or 5 wide, stride
    1), the rest term by term: the same terms in the same order either way."""
    h, w = kernel
    H, W, D = in_shape
    rows = (2 * ((H - h) // stride[0] + 1) * ((W - w) // stride[1] + 1), h * w * D)
    g = np.random.default_rng(H * W + h).normal(size=rows).astype(dtype)
    got = cpu_kernels.add_windows(g, in_shape, h, w, *stride)
    assert np.array_equal(got, _offset_add_windows(g, in_shape, h, w, *stride))
