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


@pytest.mark.parametrize("opset,mode", [(13, "nearest"), (13, "linear"), (10, "nearest")])
def test_a_resize_scale_beyond_float32s_products_is_refused_plainly(tmp_path, capsys, opset,
                                                                    mode):
    """A scale of 3e38 (a finite float32) times the side overflowed float32's product to
    infinity: the import stopped in 'malformed (OverflowError: cannot convert float infinity
    to integer)' instead of naming the scale."""
    scales = numpy_helper.from_array(np.array([1, 1, 3e38, 1], np.float32), "sc")
    roi = numpy_helper.from_array(np.array([], np.float32), "roi")
    ins, inits = (["x", "roi", "sc"], [roi, scales]) if opset >= 11 else (["x", "sc"], [scales])
    nodes = [helper.make_node("Resize", ins, ["y"], name="up", mode=mode),
             helper.make_node("Flatten", ["y"], ["out"], name="flat")]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 2, 4, 4], [1, 2], opset)
    assert main(["info", str(model)]) == 2
    err = one_line(capsys, "m.onnx", "'up'", "make a map of more than 65536 on a side")
    assert "OverflowError" not in err


@pytest.mark.parametrize("channels", [2, 4])
def test_fit_image_refuses_a_model_of_other_than_1_or_3_channels(tmp_path, channels):
    """A model of 8×8×4 inputs was handed a fitted 8×8×3 photograph (RGBA composited to RGB),
    which explain then refused as not fitting: fit_image said nothing of the channels."""
    import lrpcore  # noqa: PLC0415
    from lrpcore.errors import ShapeError  # noqa: PLC0415

    W = numpy_helper.from_array(np.ones((2, channels, 3, 3), np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv"),
             helper.make_node("Flatten", ["y"], ["out"], name="flat")]
    model = lrpcore.load_model(save_onnx_graph(tmp_path / "m.onnx", nodes, [W],
                                               [1, channels, 8, 8], [1, 72]))
    photo = np.zeros((20, 30, 4), np.uint8)
    with pytest.raises(ShapeError, match=f"images of {channels} channels: fit_image makes "
                                         r"greyscale \(1\) or colour \(3\)"):
        lrpcore.fit_image(photo, model)


def _train_args(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.arange(20) % 10)
    return ["train", "--layers", "flatten,linear:10", "--dataset", str(tmp_path / "x.npy"),
            "--labels", str(tmp_path / "y.npy"), "--epochs", "1",
            "--out", str(tmp_path / "m.npz")]


def test_train_leaves_a_folder_named_as_the_sidecar_where_it_is(tmp_path, capsys):
    """A folder m.json beside --out m.npz, with --overwrite: moved to a hidden temporary
    name as the stale sidecar, and left there with what it held (the user's folder gone from
    sight, the model saved). Now refused before training, the folder untouched."""
    folder = tmp_path / "m.json"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(_train_args(tmp_path) + ["--overwrite"]) == 2
    captured = capsys.readouterr()
    assert "epoch" not in captured.out, captured.out  # refused before the first epoch
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err, err
    assert "m.json: is a folder, where the sidecar of" in err and "left it alone" in err, err
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "x.npy", "y.npy"]


def test_stage_removal_refuses_a_folder_and_takes_a_file_gone_meanwhile(tmp_path):
    """stage_removal moved a folder aside like a file and its commit could not delete it: the
    folder stayed under a hidden temporary name. A file already gone when its removal is
    staged (removed by another program meanwhile) failed the block: 'cannot remove the old
    sidecar: No such file or directory'."""
    from lrpcore.errors import ExportError  # noqa: PLC0415
    from lrpcore.fileio import stage_removal, staged_writes  # noqa: PLC0415

    folder = tmp_path / "m.json"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="m.json: is a folder, not a sidecar: left it alone"):
        with staged_writes():
            stage_removal(str(folder), "sidecar")
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
    with staged_writes() as state:
        stage_removal(str(tmp_path / "gone.json"), "sidecar")
    assert state.committed


def test_pads_refused_as_too_large_say_in_which_order_they_are_named(tmp_path, capsys):
    """A Conv's pads [0, 50, 0, 0] (ONNX's order: top, left, bottom, right) were refused as
    'pads [0, 0, 50, 0] are … far larger', reordered without a word: the user found no such
    pads in the file."""
    W = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "W")
    conv = helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[0, 50, 0, 0])
    flat = helper.make_node("Flatten", ["c"], ["out"], name="flat")
    model = save_onnx_graph(tmp_path / "m.onnx", [conv, flat], [W], [1, 2, 8, 8], [1, 2])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "'conv'", "pads [0, 0, 50, 0] are negative or far larger than "
             "the 8×8 input (pads as top, bottom, left, right)")


@pytest.mark.parametrize("tensor,change", [
    ("ln/sq", "drop input"),  # Mul(d): IndexError, 'lrp info: internal error'
    ("ln/s", "add input"),  # Sqrt(v, x): read as the norm, a file runtimes refuse
    ("ln/r", "add output"),  # Reciprocal with two outputs: read as the norm
    ("ln/mean", "add input"),  # ReduceMean-13 given axes twice: read as the norm
])
def test_malformed_keras_norm_arithmetic_is_refused_plainly(tmp_path, capsys, tensor, change):
    """tf2onnx's LayerNormalization arithmetic with one node malformed (a Mul of one input,
    a Sqrt of two, a node of two outputs): the Mul stopped the import in IndexError, the
    others were read as the normalisation, though no runtime runs the file. Each is now left
    to the import, which refuses it naming the file."""
    from test_keras_norms import _norm_nodes  # noqa: PLC0415

    nodes, inits, y = _norm_nodes("x", "ln/", [1], gamma=np.ones(6), beta=np.zeros(6))
    node = next(n for n in nodes if tensor in n.output)
    if change == "drop input":
        del node.input[-1]
    elif change == "add input":
        node.input.append("x")
    else:
        node.output.append("extra")
    nodes.append(helper.make_node("Flatten", [y], ["out"], name="flat"))
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 6], [1, 6])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx")


def test_a_dilated_convolution_whose_phases_outgrow_the_activation_bound_is_refused(
        tmp_path, capsys):
    """Stride 63 beside dilation 64 computes every stride-1 output of the phases and keeps
    one in 63² of them: a 33-KB file of 16×16×2048 outputs (far under the bound on a
    sample's layer outputs) asked for 7 GiB at one sample, a MemoryError or worse. Refused at
    load now; a stride and dilation that leave the work small still load."""
    W = numpy_helper.from_array(np.ones((2048, 1, 2, 2), np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="atrous", dilations=[64, 64],
                              strides=[63, 63]),
             helper.make_node("ReduceMean", ["c"], ["p"], axes=[2, 3], keepdims=0)]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, [W], [1, 1, 1024, 1024], [1, 2048])
    assert main(["info", str(model)]) == 2
    # 15·63 + 1 = 946 dense rows and columns (stop 26 padded them to 15 · 64 = 960)
    one_line(capsys, "m.onnx", "'atrous'", "its phases compute 1,832,787,968 values per sample "
             "for its 16×16×2048 output", "not a layer this program can explain")
    nodes[0] = helper.make_node("Conv", ["x", "W"], ["c"], name="atrous", dilations=[64, 64],
                                strides=[64, 64])  # dilation 1 left: every 64th row, no more
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, [W], [1, 1, 1024, 1024], [1, 2048])
    assert main(["info", str(model)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("node,inits,part", [
    (helper.make_node("Conv", ["x", "W"], ["c"], name="layer"),
     [numpy_helper.from_array(np.ones((2, 2, 1, 3), np.float32), "W")],
     "filters of shape [2, 2, 1, 3] on a sequence of shape [2, 10]: the ranks differ"),
    (helper.make_node("MaxPool", ["x"], ["c"], name="layer", kernel_shape=[1, 2]), [],
     "kernel_shape [1, 2] on a sequence of shape [2, 10]: the ranks differ"),
])
def test_a_2d_conv_or_pool_on_a_sequence_is_refused(tmp_path, capsys, node, inits, part):
    """4-D filters (or a 2-D kernel_shape) on an N×C×L input, which every runtime refuses,
    ran as a 1×k operator over the C×1×L map the sequence is stored as (the ConvTranspose
    refuses it since stop 25)."""
    flat = helper.make_node("Flatten", ["c"], ["out"], name="flat")
    model = save_onnx_graph(tmp_path / "m.onnx", [node, flat], inits, [1, 2, 10], [1, 16])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "'layer'", part)


@pytest.mark.parametrize("dilations", [[1, 1], [2, 2]])
def test_a_conv_of_empty_filters_is_refused(tmp_path, capsys, dilations):
    """Filters of 0 rows (2×2×0×3) loaded as a layer whose window spans −1 rows: an 11×7
    output from a 9×9 input (10×7 undilated), and an IndexError when it was computed."""
    W = numpy_helper.from_array(np.ones((2, 2, 0, 3), np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", dilations=dilations),
             helper.make_node("Flatten", ["c"], ["out"], name="flat")]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, [W], [1, 2, 9, 9], [1, 2])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "'conv'", "filters of shape [2, 2, 0, 3] are empty")


def test_keras_norm_arithmetic_with_an_empty_optional_axes_input_still_reads(tmp_path):
    """ReduceMean(x, '') (the optional second input named empty, as ONNX allows) has its axes
    in the attribute alone: still the normalisation, not axes given twice."""
    from test_keras_norms import _norm_nodes  # noqa: PLC0415

    import lrpcore  # noqa: PLC0415

    nodes, inits, y = _norm_nodes("x", "ln/", [1], gamma=np.ones(6), beta=np.zeros(6))
    for node in nodes:
        if node.op_type == "ReduceMean":
            node.input.append("")
    nodes.append(helper.make_node("Flatten", [y], ["out"], name="flat"))
    model = lrpcore.load_model(save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 6], [1, 6]))
    assert [layer.kind for layer in model.layers] == ["ChannelNorm", "Flatten"]
