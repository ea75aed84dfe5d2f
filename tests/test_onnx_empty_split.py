"""Split-18 of 4 channels into num_outputs=3 makes parts [2, 2, 0] (ONNX: the last part
smaller), which onnxruntime runs, the third an empty tensor: read when nothing uses the empty
part (it was refused as "does not fit"), refused in words when something does."""

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import ModelFormatError
from tests.hostile_files import save_onnx_graph

onnx = pytest.importorskip("onnx")
helper = onnx.helper


def _split(tmp_path, reads, sizes=False):
    """x (1×4×2×3) split along channels into a, b, c; a Relu reads ``reads``."""
    inputs, attrs, inits = ["x"], {"num_outputs": 3}, []
    if sizes:
        inputs, attrs = ["x", "sz"], {}
        inits = [onnx.numpy_helper.from_array(np.array([2, 2, 0], np.int64), "sz")]
    split = helper.make_node("Split", inputs, ["a", "b", "c"], name="split", axis=1, **attrs)
    relu = helper.make_node("Relu", [reads], ["y"], name="relu")
    return save_onnx_graph(tmp_path / "s.onnx", [split, relu], inits, [1, 4, 2, 3],
                           [1, 2, 2, 3], opset=18)


@pytest.mark.parametrize("sizes", [False, True])
def test_an_unused_empty_part_of_a_split_is_left_out(tmp_path, sizes):
    model = lrpcore.load_model(str(_split(tmp_path, "a", sizes)))
    x = np.arange(24.0).reshape(1, 4, 2, 3) - 10
    out = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).output
    np.testing.assert_array_equal(out, np.maximum(x[:, :2], 0).transpose(0, 2, 3, 1))


def test_an_empty_part_that_is_read_is_refused_in_words(tmp_path):
    with pytest.raises(ModelFormatError, match=r"s\.onnx: node 0 'split' \(Split\): Split of 4 "
                                               r"channels into \[2, 2, 0\]: output 3 'c' is "
                                               r"empty \(0 channels\) and is read; an empty "
                                               r"part is not supported"):
        lrpcore.load_model(str(_split(tmp_path, "c")))


def test_an_empty_part_as_the_graphs_output_is_refused_in_words(tmp_path):
    """It was "the graph output 'c' is not computed from the input"."""
    split = helper.make_node("Split", ["x"], ["c", "a", "b"], name="split", axis=1,
                             num_outputs=3)
    graph = helper.make_graph(
        [split], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 2, 3])],
        [helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [1, 0, 2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, tmp_path / "s.onnx")
    with pytest.raises(ModelFormatError, match=r"output 3 'b' is empty \(0 channels\) and is "
                                               r"the graph's output"):
        lrpcore.load_model(str(tmp_path / "s.onnx"))
