"""Max pools of ONNX models resolve tied windows as PyTorch's gradient does (zennit's
reference): the zoo's ``logsoftmax_*`` fixture checks it against zennit on binary images; that
fixture's final LogSoftmax gets a recognised conservation note from ``lrp explain``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def test_a_tied_max_pool_window_sends_its_relevance_to_its_first_maximum(tmp_path):
    """PyTorch's max_pool2d gradient, and so zennit, sends a window's relevance to the first
    of equal maxima in row-major order (the toolbox's chains split it); kept by the native
    format, and a native 'ties' of another value is refused."""
    graph = helper.make_graph(
        [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2],
                          strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 2, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              tmp_path / "pool.onnx")
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.5, 2.0, 2.0]]]])
    want = np.array([[[[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]]]])  # torch's, times R
    model = lrpcore.load_model(tmp_path / "pool.onnx")
    R = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).relevance(
        "EpsilonPlus", target="output")
    np.testing.assert_array_equal(R, want)
    lrpcore.save_model(model, tmp_path / "pool.npz")
    again = lrpcore.load_model(tmp_path / "pool.npz")
    R2 = lrpcore.Explainer(again, dtype="float64").forward(x, raw=True).relevance(
        "EpsilonPlus", target="output")
    np.testing.assert_array_equal(R2, want)
    with np.load(tmp_path / "pool.npz") as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    k = next(i for i, spec in enumerate(header["layers"]) if spec["type"] == "MaxPool")
    header["layers"][k]["ties"] = "random"
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFormatError, match=f"layer {k}.*'ties'"):
        lrpcore.load_model(tmp_path / "bad.npz")


def test_the_log_softmax_fixture_explains_with_a_recognised_conservation_note(tmp_path,
                                                                              capsys):
    """A final LogSoftmax passes relevance as its gradient, which sums to zero: lrp explain
    says so instead of 'cause not recognised'."""
    from pathlib import Path

    from lrpcore.cli.main import main

    zoo = Path(__file__).parent / "data" / "zoo"
    with np.load(zoo / "logsoftmax.npz") as data:
        np.save(tmp_path / "x.npy", data["x"])
    assert main(["explain", str(zoo / "logsoftmax_ts.onnx"), str(tmp_path / "x.npy"), "--raw",
                 "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err
    assert "LogSoftmax" in err and "as its gradient" in err
    assert "not recognised" not in err
