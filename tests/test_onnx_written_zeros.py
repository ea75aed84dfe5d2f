"""A 0 the ONNX file writes in a shape is an empty dimension to runtimes where Reshape has
allowzero=1 and in Resize's sizes (onnxruntime refuses both); the import reads a 0 as the
batch only where it comes from the input's Shape (``GraphBuilder.written_zero``)."""

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import ModelFormatError
from lrpcore.io.onnx_graph import read_onnx_graph
from tests.hostile_files import save_onnx_graph

onnx = pytest.importorskip("onnx")
helper, nh = onnx.helper, onnx.numpy_helper


def _ints(name, values):
    return nh.from_array(np.array(values, np.int64), name)


def _output(path, x):
    model = lrpcore.load_model(str(path))
    return lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).output


def _reshape(tmp_path, allowzero, from_shape):
    """x (1×3×4×4) reshaped to [0, 48]: the 0 written, or the batch from Shape(x)."""
    flat = helper.make_node("Reshape", ["x", "s"], ["y"], name="flat", allowzero=allowzero)
    if from_shape:
        nodes = [helper.make_node("Shape", ["x"], ["n"], end=1),
                 helper.make_node("Concat", ["n", "f"], ["s"], axis=0), flat]
        inits = [_ints("f", [48])]
    else:
        nodes, inits = [flat], [_ints("s", [0, 48])]
    return save_onnx_graph(tmp_path / "r.onnx", nodes, inits, [1, 3, 4, 4], [1, 48])


def test_reshape_with_allowzero_and_a_written_zero_is_refused_naming_the_node(tmp_path):
    """Was read as a flatten; onnxruntime: 'cannot be reshaped to the requested shape'."""
    path = _reshape(tmp_path, 1, from_shape=False)
    with pytest.raises(ModelFormatError, match=r"r\.onnx: .*'flat' \(Reshape\): Reshape "
                                               r"with allowzero=1 to shape \[0, 48\]"):
        read_onnx_graph(str(path))


@pytest.mark.parametrize(("allowzero", "from_shape"), [(0, False), (1, True)])
def test_reshape_zero_as_the_batch_still_reads(tmp_path, allowzero, from_shape):
    """onnxruntime runs both: without allowzero a 0 copies the input's dimension, and a
    shape from Shape(x) holds the batch itself."""
    x = np.arange(48.0).reshape(1, 3, 4, 4)
    np.testing.assert_array_equal(_output(_reshape(tmp_path, allowzero, from_shape), x),
                                  x.reshape(1, 48))


def _resize(tmp_path, from_shape):
    up = helper.make_node("Resize", ["x", "", "", "sz"], ["y"], name="up", mode="nearest")
    if from_shape:
        nodes = [helper.make_node("Shape", ["x"], ["nc"], end=2),
                 helper.make_node("Concat", ["nc", "hw"], ["sz"], axis=0), up]
        inits = [_ints("hw", [8, 8])]
    else:
        nodes, inits = [up], [_ints("sz", [0, 3, 8, 8])]
    return save_onnx_graph(tmp_path / "z.onnx", nodes, inits, [1, 3, 4, 4], [1, 3, 8, 8])


def test_resize_sizes_with_a_written_zero_batch_are_refused_naming_the_node(tmp_path):
    """Was read as the batch; onnxruntime: 'Scale value should be greater than 0'."""
    with pytest.raises(ModelFormatError, match=r"z\.onnx: .*'up' \(Resize\): Resize's sizes "
                                               r"\[0, 3, 8, 8\] make an empty batch"):
        read_onnx_graph(str(_resize(tmp_path, from_shape=False)))


def test_resize_sizes_whose_batch_comes_from_shape_still_read(tmp_path):
    x = np.arange(48.0).reshape(1, 3, 4, 4)
    twice = x.repeat(2, axis=2).repeat(2, axis=3)  # nearest, 4 → 8
    np.testing.assert_array_equal(_output(_resize(tmp_path, from_shape=True), x),
                                  twice.transpose(0, 2, 3, 1))
