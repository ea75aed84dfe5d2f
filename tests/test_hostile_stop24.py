"""Found by stop 24's hostile review of the ONNX import paths added that day (ConvTranspose,
Resize, LayerNormalization, MatMul of a map, dynamo's as_strided, Keras's gates, the sidecar's
shape) and of the native format holding their layers: each test builds the input it needs
and failed before the fix it guards."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402


def _save(tmp_path, nodes, inits, in_shape, opset=19, name="m.onnx"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(proto, path)
    return path, proto


def _forward(path, x):
    return lrpcore.Explainer(lrpcore.load_model(path), dtype="float64").forward(
        x.astype(np.float64), raw=True).outputs()


FLAT = helper.make_node("Flatten", ["y"], ["out"], name="flat")


@pytest.mark.parametrize("coordinates,hw,out_hw", [
    ("asymmetric", (7, 11), (61, 15)),  # 7 · (61 / 7) is 60.99…: 60 rows were made
    ("half_pixel_symmetric", (7, 11), (14, 15)),  # 11 · (15 / 11) is 14.99…: shifted reads
])
def test_resize_to_sizes_makes_those_sizes_and_reads_what_onnx_defines(tmp_path, coordinates,
                                                                       hw, out_hw):
    """Resize given 'sizes' made size · (o / size) rounded down rows, one short where the
    quotient rounds below o (7 → 61: 60 rows), and half_pixel_symmetric's offset read the
    output count as that product rounded down: its reads shifted where it rounds below."""
    sizes = numpy_helper.from_array(np.array([1, 2, *out_hw], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="resize",
                            mode="nearest", coordinate_transformation_mode=coordinates)
    path, proto = _save(tmp_path, [node, FLAT], [sizes], (2, *hw))
    x = np.random.default_rng(3).uniform(-1, 1, (1, 2, *hw)).astype(np.float32)
    expected = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    assert expected.shape == (1, 2 * out_hw[0] * out_hw[1])
    got = _forward(path, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
