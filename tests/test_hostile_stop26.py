"""Found by stop 26's hostile review of the newest code (dilated convolutions on their taps
and their ONNX import, Keras's norm arithmetic, nearest Resize in float32, fit_image,
stage_removal): each test builds the file it needs and failed before the fix it guards."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402


@pytest.mark.parametrize("attrs,part", [
    ({"pads": [1, 1, 1, 1]}, "pads [1, 1, 1, 1] do not fit a 1-D operator, which takes 2"),
    ({"dilations": [3, 2]}, "dilations [3, 2] do not fit a 1-D operator, which takes 1"),
    ({"strides": [2, 2]}, "strides [2, 2] do not fit a 1-D operator, which takes 1"),
])
def test_a_1d_conv_with_attributes_of_two_axes_is_refused(tmp_path, capsys, attrs, part):
    """A Conv1d (3-D filters) whose pads held four entries padded the 1×L map it is stored as
    in height too (a 2-D map of three rows explained where runtimes refuse the file);
    dilations [3, 2] were read as a dilation of 2 along the sequence."""
    W = numpy_helper.from_array(np.ones((2, 2, 3), np.float32), "W")
    conv = helper.make_node("Conv", ["x", "W"], ["c"], name="conv",
                            **{"dilations": [2], **attrs})
    flat = helper.make_node("Flatten", ["c"], ["out"], name="flat")
    model = save_onnx_graph(tmp_path / "m.onnx", [conv, flat], [W], [1, 2, 10], [1, 12])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "'conv'", part)
