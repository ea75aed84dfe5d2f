"""Loose ends stop 26's reviews found: each test builds what it needs and failed before the
fix it guards."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

NOT_UTF8 = b"SAME\xff\xfe"


def _conv_model(path, **attrs):
    W = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "W")
    conv = helper.make_node("Conv", ["x", "W"], ["c"], name="conv", **attrs)
    flat = helper.make_node("Flatten", ["c"], ["out"], name="flat")
    return save_onnx_graph(path, [conv, flat], [W], [1, 1, 6, 6], [1, 32])


def _pad_model(path, mode):
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")
    pad = helper.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode=mode)
    flat = helper.make_node("Flatten", ["p"], ["out"], name="flat")
    return save_onnx_graph(path, [pad, flat], [pads], [1, 1, 6, 6], [1, 64])


@pytest.mark.parametrize("build, attribute", [
    (lambda path: _conv_model(path, auto_pad=NOT_UTF8), "auto_pad"),
    (lambda path: _pad_model(path, NOT_UTF8), "mode"),
])
def test_a_string_attribute_that_is_not_text_is_named(tmp_path, capsys, build, attribute):
    """auto_pad or Pad's mode of bytes not UTF-8 gave "malformed (UnicodeDecodeError…)",
    naming the node but not the attribute."""
    assert main(["info", str(build(tmp_path / "m.onnx"))]) == 2
    err = one_line(capsys, "m.onnx", f"attribute '{attribute}' is not text",
                   "bytes are not UTF-8")
    assert "UnicodeDecodeError" not in err


def test_a_1d_convs_pads_beyond_the_limit_are_named_as_the_file_has_them(tmp_path, capsys):
    """pads [35, 0] of a Conv1d over 10 steps were reported as the 1×L map's [0, 0, 35, 0]."""
    W = numpy_helper.from_array(np.ones((2, 2, 3), np.float32), "W")
    conv = helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[35, 0])
    flat = helper.make_node("Flatten", ["c"], ["out"], name="flat")
    model = save_onnx_graph(tmp_path / "m.onnx", [conv, flat], [W], [1, 2, 10], [1, 84])
    assert main(["info", str(model)]) == 2
    err = one_line(capsys, "m.onnx", "'conv'", "pads [35, 0] are negative or far larger than "
                   "the sequence of 10 (pads as begin, end)")
    assert "[0, 0, 35, 0]" not in err


def test_the_batch_estimate_counts_a_strided_dilated_convolutions_phases():
    """Stride 3 beside dilation 4 computes 24×24 dense outputs on its phases for its 8×8
    output (every third kept): the per-sample estimate counted the kept tensors only, so
    batches were not cut for the ninefold tensor the layer makes while it runs."""
    from lrpcore.explain import Explainer  # noqa: PLC0415
    from lrpcore.graph import GraphModel, Node  # noqa: PLC0415
    from lrpcore.graph_dilated import DilatedConvolution  # noqa: PLC0415
    from lrpcore.graph_layers import FlattenChannelsFirst, ToChannelsLast  # noqa: PLC0415
    from lrpcore.layers import Rect  # noqa: PLC0415
    from lrpcore.spec import InputSpec  # noqa: PLC0415

    rng = np.random.default_rng(3)
    conv = DilatedConvolution(rng.normal(size=(3, 3, 2, 16)), np.zeros(16), (3, 3), (4, 4))
    H = 3 * 7 + 9  # 8×8 outputs
    assert conv.output_shape((H, H, 2)) == (8, 8, 16)
    nodes = [Node("to_cl", ToChannelsLast(), ("x",), "a"), Node("conv", conv, ("a",), "b"),
             Node("relu", Rect(), ("b",), "c"), Node("flat", FlattenChannelsFirst(), ("c",), "y")]
    model = GraphModel(nodes, "x", "y", InputSpec(
        shape=(2, H, H), raw_shape=(H, H, 2), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    ex = Explainer(model, "numpy", "float64")
    dense = 24 * 24 * 16  # (7·3 + 1 = 22 rows, in 4 phases of 6) squared, 16 channels
    shapes = ex.tensor_shapes((2, H, H))
    kept = sum(int(np.prod(shapes[name])) for name in ex._kept)
    # the phases' outputs, and the dense ones interleaved beside the 8×8 kept (stop 27: the
    # estimate also counts the gathered input phases, tests/test_dilated_phases.py)
    assert ex.sample_bytes((2, H, H)) >= (kept + 2 * dense - 8 * 8 * 16) * 8
    # and the layer's own forward pass makes that many values per sample
    x = rng.normal(size=(1, H, H, 2))
    rows, cols, _, _ = conv._plan(x.shape[1:])
    assert rows.dense * cols.dense * 16 == dense
