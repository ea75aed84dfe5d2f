"""Defects the previous session noticed and left: a dilated convolution described by its taps,
a sequence input described as one, NaN from an operator outside its domain named at its node,
strict native fields of Clip and HardSigmoid/HardSwish, and a final LogSoftmax's by-design
loss reported without a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.graph_dilated import DilatedConvolution, DilatedGroupedConvolution

ZOO = Path(__file__).parent / "data" / "zoo"


def test_a_dilated_convolution_is_described_by_its_kernel_and_dilation():
    """Conv1d(8, 8, 3, dilation=2) read as 'Convolution 1×5×8×8 … dilation 1,2': the span
    of the dilated filter beside the dilation, as if its kernel had five taps."""
    taps = np.ones((1, 3, 8, 8))
    conv = DilatedConvolution(taps, np.zeros(8), dilation=(1, 2))
    assert conv.describe() == "Convolution 1×3×8×8 stride 1,1 dilation 1,2"
    grouped = DilatedGroupedConvolution(np.ones((3, 3, 4, 8)), np.zeros(8), groups=2,
                                        dilation=(2, 3))
    assert grouped.describe().startswith("Grouped convolution 3×3×8×8 groups 2")
    model = lrpcore.load_model(ZOO / "keras_seq_tf2onnx.onnx")  # Conv1D(8, 3, dilation 2)
    dilated = [layer.describe() for layer in model.layers if "dilation" in layer.describe()]
    assert dilated == ["Convolution 1×3×8×8 stride 1,1 dilation 1,2"]


@pytest.mark.parametrize("name, fed", [
    ("sequence_ts.onnx", "→ 4×32 (sequence C×L: 32 steps × 4 channels)"),
    ("keras_seq_tf2onnx.onnx", "→ 32×4 (sequence L×C: 32 steps × 4 channels)"),
])
def test_a_sequence_input_is_described_as_a_sequence(capsys, name, fed):
    """``lrp info``'s 'input:' line and the explorer's model summary said '4×32 (flat)':
    a user would flatten the arrays and be refused."""
    pytest.importorskip("onnx")
    from lrpcore.cli.main import main

    model = lrpcore.load_model(ZOO / name)
    assert fed in model.summary()
    assert main(["info", str(ZOO / name)]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("input: "))
    assert fed in line and "(flat)" not in line
    pytest.importorskip("PySide6")
    from lrpgui.widgets.model_summary import summary_html

    assert fed.replace("→ ", "") in summary_html(model, str(ZOO / name))


def test_a_flat_input_stays_flat():
    model = lrpcore.load_model(ZOO / "mlp_ts.onnx")
    assert model.sequence_layout() is None
    assert "→ 20 (flat)" in model.summary()


def _native_graph(tmp_path, layer):
    """A native graph file of ``layer`` then a dense layer; returns (path, header text)."""
    from lrpcore import save_model
    from lrpcore.graph import GraphModel, Node
    from lrpcore.layers import Linear

    nodes = [Node("act", layer, ("x",), "a"),
             Node("fc", Linear(np.ones((4, 3)), np.zeros(3)), ("a",), "y")]
    path = tmp_path / "g.npz"
    save_model(GraphModel(nodes, "x", "y"), path)
    with np.load(path) as z:
        return path, str(z["header"])


def _with_header(path, old, new):
    with np.load(path) as z:
        members = dict(z)
    header = str(members["header"])
    assert old in header
    members["header"] = np.array(header.replace(old, new))
    np.savez(path, **members)
    return path


@pytest.mark.parametrize("old, new, field", [
    ('"swish": 1', '"swish": 0.5', "'swish' must be 0 or 1"),  # was bool(0.5): a HardSwish
    ('"swish": 1', '"swish": "yes"', "'swish' must be 0 or 1"),
    (', "swish": 1', "", "'swish' is missing"),  # was 0: a HardSigmoid, silently
    ('"alpha": 0.1666', '"alpha_": 0.1666', "'alpha' is missing"),  # was 0.2, silently
    ('"beta": 0.5', '"beta": [0.5]', "'beta' must be a finite number"),
])
def test_a_hardswish_field_missing_or_mistyped_is_named(tmp_path, capsys, old, new, field):
    from lrpcore import ModelFormatError
    from lrpcore.cli.main import main
    from lrpcore.graph_activations import HardSigmoid

    path, header = _native_graph(tmp_path, HardSigmoid(1 / 6, 0.5, swish=True))
    assert lrpcore.load_model(path).layers[0].swish  # the file as written reads back
    _with_header(path, old, new)
    with pytest.raises(ModelFormatError) as err:
        lrpcore.load_model(path)
    assert str(path) in str(err.value) and field in str(err.value)
    assert main(["info", str(path)]) == 2
    assert field in capsys.readouterr().err


@pytest.mark.parametrize("old, new, field", [
    ('"low": null, ', "", "'low' is missing (a number, or null for no bound)"),
    ('"high": 6.0', '"high": "6"', "'high' must be a finite number"),
    ('"high": 6.0', '"high_": 6.0', "'high' is missing"),
])
def test_a_clip_bound_missing_or_mistyped_is_named(tmp_path, old, new, field):
    from lrpcore import ModelFormatError
    from lrpcore.graph_layers import Clip

    path, _ = _native_graph(tmp_path, Clip(None, 6.0))
    _with_header(path, old, new)
    with pytest.raises(ModelFormatError) as err:
        lrpcore.load_model(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_a_clip_without_a_min_is_described_and_read_back(tmp_path, capsys):
    """ONNX Clip's min is optional (ReLU6 written as Clip(x, max=6) alone): lrp info ended in
    an internal error formatting the absent bound."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph
    from onnx import helper, numpy_helper

    from lrpcore.cli.main import main

    nodes = [helper.make_node("Clip", ["x", "", "mx"], ["c"], name="clip"),
             helper.make_node("Flatten", ["c"], ["y"], name="flat")]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes,
                           [numpy_helper.from_array(np.asarray(6.0, np.float32), "mx")],
                           ["N", 4], ["N", 4])
    assert main(["info", str(path)]) == 0
    assert "Clip [−∞, 6]" in capsys.readouterr().out
    assert main(["convert", str(path), str(tmp_path / "m.npz")]) == 0
    clip = lrpcore.load_model(tmp_path / "m.npz").layers[0]
    assert (clip.low, clip.high) == (None, 6.0)


@pytest.mark.parametrize("op, takes", [("Log", "log takes positive numbers"),
                                       ("Sqrt", "sqrt takes numbers ≥ 0")])
def test_nan_from_an_operator_outside_its_domain_names_the_node(tmp_path, capsys, op, takes):
    """Log or Sqrt of a negative number inside a graph: the NaN outputs were blamed on
    'input values too large for float32?', which sent the user to rescale the input."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph
    from onnx import helper, numpy_helper

    from lrpcore.cli.main import main

    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="fc1"),
             helper.make_node(op, ["h"], ["a"], name="the_op"),
             helper.make_node("MatMul", ["a", "W2"], ["y"], name="fc2")]
    W = numpy_helper.from_array(np.eye(4, dtype=np.float32) * -1, "W")  # h = −x
    W2 = numpy_helper.from_array(np.ones((4, 3), np.float32), "W2")
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, [W, W2], ["N", 4], ["N", 3])
    np.save(tmp_path / "x.npy", np.full((2, 4), 0.5, np.float32))
    assert main(["explain", str(path), str(tmp_path / "x.npy"), "--raw",
                 "--out", str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "node 1 'the_op'" in err and "was out of its domain" in err and takes in err
    assert "too large" not in err
    model = lrpcore.load_model(path)  # the library says the same
    with pytest.raises(lrpcore.ShapeError, match="'the_op'.*out of its domain"):
        lrpcore.explain(model, np.full((2, 4), 0.5), raw=True)
    # a finite run of the same model is untouched
    assert np.isfinite(lrpcore.explain(model, -np.full((2, 4), 0.5), raw=True)).all()


@pytest.mark.parametrize("name", ["logsoftmax_ts.onnx", "logsoftmax_dynamo.onnx"])
def test_a_final_log_softmax_gives_notes_and_no_warning(tmp_path, capsys, name):
    """The layer below the LogSoftmax warned 'ΣR ×1.62e+06 (created)' (its biases' share
    against the zero sum the gradient passes on), and with it the overall 'relevance is not
    conserved' line, beside the note saying the loss is by design."""
    pytest.importorskip("onnx")
    import json

    from lrpcore.cli.main import main

    with np.load(ZOO / "logsoftmax.npz") as data:
        np.save(tmp_path / "x.npy", data["x"])
    out = tmp_path / "R.npy"
    assert main(["explain", str(ZOO / name), str(tmp_path / "x.npy"), "--raw",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert not [line for line in err if "warning" in line]
    notes = [line for line in err if line.startswith("lrp explain: note: ")]
    assert "ΣR at the input is 0.0721× the explained output (median of 4), by design" in notes[0]
    assert notes[1].startswith("lrp explain: note: expected: layer 12: relevance passes")
    assert notes[2].startswith("lrp explain: note: expected: layer 11: the relevance arriving "
                               "here sums to zero")
    diagnosis = json.loads((tmp_path / "R.npy.json").read_text())["diagnosis"]
    assert diagnosis["ok"] and not diagnosis["findings"] and not diagnosis["warnings"]


def test_a_bias_finding_away_from_a_gradient_layer_still_warns():
    """The new cause needs both a gradient layer nearer the output and a zero sum arriving."""
    from lrpcore.insight.diagnose import Site, find_cause
    from lrpcore.layers import Linear

    layer = Linear(np.ones((2, 2)), np.ones(2))
    for arriving, after in ((0.5, True), (0.0, False)):
        site = Site(3, layer, None, "created", 1.3, True, 1.0, arriving, after)
        assert find_cause(site).key == "bias"
    site = Site(3, layer, None, "created", 1.6e6, True, 1.0, 1e-7, True)
    assert find_cause(site).key == "after-gradient-layer" and find_cause(site).expected(site)


def test_lrp_figure_rows_name_the_sample_and_its_class(tmp_path, monkeypatch):
    """Rows were titled '#0', '#3': neither the word 'sample' nor the class the input
    carries."""
    from lrpcore.cli import cmd_figure
    from lrpcore.cli.main import main

    titles = []
    real = cmd_figure.export_figure

    def spy(*args, row_titles=None, **kwargs):
        titles.append(row_titles)
        return real(*args, row_titles=row_titles, **kwargs)

    monkeypatch.setattr(cmd_figure, "export_figure", spy)
    R = np.random.default_rng(0).normal(size=(4, 28, 28))
    np.save(tmp_path / "R.npy", R)
    x = np.zeros((4, 28, 28), np.uint8)
    np.save(tmp_path / "x_images.npy", x)
    run = ["figure", str(tmp_path / "R.npy"), "--colormap", "bwr", "--index", "0", "--index",
           "3", "--overwrite"]
    assert main([*run, "--out", str(tmp_path / "a.png")]) == 0
    x = str(tmp_path / "x_images.npy")
    assert main([*run, "--input", x, "--out", str(tmp_path / "b.png")]) == 0
    np.save(tmp_path / "x_labels.npy", np.array([5, 6, 7, 8]))  # labels beside the inputs
    assert main([*run, "--input", x, "--out", str(tmp_path / "c.png")]) == 0
    assert main([*run, "--input", "mnist-sample", "--out", str(tmp_path / "d.png")]) == 0
    assert titles == [["sample 0", "sample 3"], ["sample 0", "sample 3"],
                      ["sample 0 · class 5", "sample 3 · class 8"],
                      ["sample 0 · class 0", "sample 3 · class 0"]]


def test_sanity_figure_columns_say_what_is_random_and_how_alike():
    """'orig', '-1 rho -0.03': a minus sign and an abbreviation nobody explained."""
    from lrpcore.insight import sanity
    from lrpcore.render.font import line_height, title_scale
    from lrpcore.render.grid import PAD, grid

    step = sanity.SanityStep((9,), ("Linear",), np.array([0.5, -0.1, 0.3]), np.zeros(3),
                             np.zeros((3, 4, 4)))
    assert sanity.step_title(0, step) == "original\n(trained)"
    assert sanity.step_title(1, step) == "top 1 layer random\nSpearman |ρ| 0.30"
    assert sanity.step_title(3, step).startswith("top 3 layers random\n")
    cells = [[np.zeros((28, 28)), np.zeros((28, 28))]]
    one = grid(cells, col_titles=["a", "b"])
    two = grid(cells, col_titles=["top 1 layer random\nSpearman 0.30", "b"])
    scale = title_scale(28)
    assert two.shape[0] - one.shape[0] == line_height(scale)  # a second line, not one long
    assert two.shape[1] > one.shape[1]                        # line through every column
    # titles wider than their maps keep a margin: neighbours never touch
    ink = (two[PAD:PAD + 2 * line_height(scale)] < 128).any(axis=(0, 2))
    first_end = np.nonzero(ink)[0]
    gaps = np.diff(first_end)
    assert gaps.max() > 2 * PAD


def test_a_sixteen_bit_greyscale_photograph_is_read_with_a_note(tmp_path, capsys):
    """16-bit greyscale PNGs were refused; read at 8 bits now, which lrp data info and
    lrp explain say (an 8-bit folder says nothing)."""
    from PIL import Image

    from lrpcore.cli.main import main

    folder = tmp_path / "scans"
    folder.mkdir()
    Image.fromarray(np.full((28, 28), 65535, np.uint16)).save(folder / "a.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "b.png")
    ds = lrpcore.open_dataset(folder)
    assert ds.images(np.array([0])).max() == 255
    note = "1 of 2 images are 16-bit greyscale: read at 8 bits (0…65535 scaled to 0…255"
    assert note in ds.depth_note()
    assert main(["data", "info", str(folder)]) == 0
    assert f"note:    {note}" in capsys.readouterr().out
    assert main(["explain", "mnist-lenet5", str(folder), "--out", str(tmp_path / "R.npy")]) == 0
    assert f"lrp explain: note: {folder}: {note}" in capsys.readouterr().err
    (folder / "a.png").unlink()
    assert lrpcore.open_dataset(folder).depth_note() is None
    single = tmp_path / "one.png"
    Image.fromarray(np.full((28, 28), 300, np.uint16)).save(single)
    assert lrpcore.open_dataset(single).depth_note().startswith("the image is 16-bit")
