"""Check the engine's Resize and Upsample against onnxruntime, the runtime users check models
with: every opset's form (Upsample-7 and -9, Resize-10, -11, -13, -18), every coordinate
mode, nearest (each rounding), linear and cubic, on shrinking, enlarging and fractional
scales. onnxruntime is no dependency of the project: run by hand from a scratch environment
that has it and onnx, with the project importable (PYTHONPATH=checkout):

    python tools/resize_vs_onnxruntime.py

It prints each graph the engine computes differently (its output side or any value beyond
1e-5) and a count; exit status 1 when any differ.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

import lrpcore

SIDES = [(7, 9), (10, 10), (5, 13)]
SCALES = [(0.6, 0.75), (0.34, 1.0), (1.5, 0.7), (1.3, 2.6), (2.0, 2.0)]
COORDINATES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]
ROUNDINGS = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


def cases():
    """(opset, operator, attributes) of every form checked."""
    for opset, op in [(7, "Upsample"), (9, "Upsample"), (10, "Resize")]:
        for mode in ("nearest", "linear"):
            yield opset, op, {"mode": mode}
    for opset, mode, coordinates in itertools.product((11, 13, 18), ("nearest", "linear", "cubic"),
                                                      COORDINATES):
        for rounding in ROUNDINGS if mode == "nearest" else ROUNDINGS[:1]:
            yield opset, "Resize", {"mode": mode, "coordinate_transformation_mode": coordinates,
                                    "nearest_mode": rounding}


def graph(opset, op, attrs, hw, scales):
    channels = 2
    values = np.array([1, 1, *scales], np.float32)
    inits = [numpy_helper.from_array(np.ones((channels, 1, 1, 1), np.float32), "w")]
    if opset == 7:
        inputs, attrs = ["c"], {**attrs, "scales": [float(v) for v in values]}
    else:
        inits.append(numpy_helper.from_array(values, "scales"))
        inputs = ["c", "scales"] if opset < 11 else ["c", "", "scales"]
    if opset == 11:  # its roi input is not optional
        inits.append(numpy_helper.from_array(np.zeros(0, np.float32), "roi"))
        inputs[1] = "roi"
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], group=channels, name="conv"),
             helper.make_node(op, inputs, ["y"], name="resize", **attrs)]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, *hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def main() -> int:
    rng = np.random.default_rng(0)
    checked = differ = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.onnx"
        for (opset, op, attrs), hw, scales in itertools.product(list(cases()), SIDES, SCALES):
            onnx.save(graph(opset, op, attrs, hw, scales), path)
            x = rng.random((1, 2, *hw)).astype(np.float32)
            try:
                want = onnxruntime.InferenceSession(str(path)).run(None, {"x": x})[0]
            except Exception:  # noqa: BLE001 (the runtime refuses it: shrinking Upsample)
                continue
            checked += 1
            model = lrpcore.load_model(path)
            got = lrpcore.Explainer(model, dtype="float64").forward(
                x.astype(np.float64), raw=True).outputs().transpose(0, 3, 1, 2)
            what = (f"opset {opset} {op} {attrs} {hw[0]}×{hw[1]} × {scales}")
            if got.shape != want.shape:
                print(f"{what}: side {got.shape[2:]}, onnxruntime {want.shape[2:]}")
                differ += 1
            elif np.abs(got - want).max() > 1e-5:
                print(f"{what}: values differ by up to {np.abs(got - want).max():.3g}")
                differ += 1
    print(f"{checked} graphs checked against onnxruntime {onnxruntime.__version__}: "
          f"{differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
