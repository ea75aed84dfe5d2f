"""Stop 26's lead: leftovers of stop 25's reviews (Swin's shape arithmetic). Each test failed
before the fix it guards."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

import lrpcore
from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

C = 2


@pytest.mark.parametrize("fmod,dividend,divisor", [
    (0, -5, 3),   # Python's %: the divisor's sign, 1 (C's fmod would give −2)
    (1, 5, -3),   # C's fmod: the dividend's sign, 2 (Python's % would give −1)
])
def test_mod_of_constants_is_evaluated_at_import(tmp_path, fmod, dividend, divisor):
    """torchvision's Swin pads each side by (window − H % window) % window, computed with Mod
    in the graph: it was refused as 'Mod on inputs that are neither data nor constants'
    although both were constants. Mod folds with ONNX's two sign conventions, and the pads it
    computes give the reference evaluator's output."""
    a = np.array([0, 0, 0, dividend, 0, 0, 4, 0], np.int64)
    b = np.array([1, 1, 1, divisor, 1, 1, 3, 1], np.int64)
    inits = [numpy_helper.from_array(a, "a"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.ones((C, 1, 1, 1), np.float32), "W")]
    nodes = [helper.make_node("Mod", ["a", "b"], ["pads"], name="mod", fmod=fmod),
             helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
             helper.make_node("Conv", ["p", "W"], ["c"], name="conv", group=C),
             helper.make_node("Flatten", ["c"], ["y"], name="flat")]
    pads = np.fmod(a, b) if fmod else np.mod(a, b)
    side = int(3 + pads[3] + pads[7])
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, C, 3, 3],
                           [1, int(C * (3 + pads[2] + pads[6]) * side)])
    x = np.random.default_rng(0).random((1, C, 3, 3)).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})[0]
    model = lrpcore.load_model(path)
    got = lrpcore.Explainer(model, dtype="float64").forward(x.astype(np.float64),
                                                           raw=True).outputs()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_an_unfoldable_operator_on_constants_says_so(tmp_path, capsys):
    """An operator of constants that the import does not evaluate was blamed on inputs
    'neither data nor constants'; the error now says they are constants and which
    operators the import evaluates."""
    inits = [numpy_helper.from_array(np.array([2, 3], np.int64), "a"),
             numpy_helper.from_array(np.ones((C, 1, 1, 1), np.float32), "W")]
    nodes = [helper.make_node("BitShift", ["a", "a"], ["s"], name="shift", direction="LEFT"),
             helper.make_node("Conv", ["x", "W"], ["y"], name="conv", group=C)]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, C, 3, 3], [1, C, 3, 3])
    assert main(["info", str(path)]) == 2
    err = one_line(capsys, "m.onnx", "'shift'", "operator BitShift on constants only",
                   "not among the operators evaluated at import", "Mod")
    assert "neither data nor constants" not in err


@pytest.mark.parametrize("output_shape", [[1, 3, 9, 9], [3, 9, 9]])
def test_a_transposed_convolutions_output_shape_names_its_sides_only(tmp_path, capsys,
                                                                     output_shape):
    """ONNX's output_shape holds the spatial sides (onnxruntime and onnx's reference refuse
    N, C, H, W); four entries were read as their last two, a file no runtime runs."""
    W = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "W")
    node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="up", strides=[2, 2],
                            output_shape=output_shape)
    path = save_onnx_graph(tmp_path / "m.onnx", [node], [W], [1, 2, 4, 4], [1, 3, 9, 9])
    assert main(["info", str(path)]) == 2
    one_line(capsys, "m.onnx", "'up'", f"output_shape [{', '.join(map(str, output_shape))}]",
             "is not that of a 2-D operator")
