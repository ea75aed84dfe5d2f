"""Found by the ninth hostile review (sidecars, rule strings, sessions, CLI options, ...):
each test writes the input it needs and failed before the fix it guards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

from lrpcore.cli.main import main

ZOO = Path(__file__).parent / "data" / "zoo"



def _conv_net(tmp_path, side=6):
    """A PyTorch-style N×3×side×side ONNX export: Conv → Relu → GlobalAveragePool → Gemm."""
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rng.randn(4, 3, 3, 3).astype(np.float32), "W"),
             numpy_helper.from_array(rng.randn(4, 2).astype(np.float32), "G")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "G"], ["y"])]
    return save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 3, side, side], [1, 2])


def test_a_sidecar_raw_shape_of_another_form_than_the_images_is_refused(tmp_path, capsys):
    """A sidecar's flat "raw_shape": [108] for a 3×6×6 PyTorch export loaded, and the first
    image explained ended in an internal error (the H×W×C → C×H×W transpose of a flat
    sample); [12, 9, 1] fed images scrambled. Refused at load, naming the field."""
    pytest.importorskip("onnx")
    path = _conv_net(tmp_path)
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (2, 6, 6, 3)).astype(np.uint8))
    for raw in ([108], [12, 9, 1]):
        (tmp_path / "m.json").write_text(json.dumps({"input": {"raw_shape": raw}}))
        assert main(["explain", str(path), str(x), "--out", str(tmp_path / "R.npy")]) == 2
        one_line(capsys, "m.json", "raw_shape", "[6, 6, 3]")
        assert not (tmp_path / "R.npy").exists()
    (tmp_path / "m.json").write_text('{"input": {"raw_shape": [6, 6, 3]}}')
    assert main(["explain", str(path), str(x), "--out", str(tmp_path / "R.npy")]) == 0


def _npy_claiming(path, shape, payload):
    """A version-1.0 ``.npy`` of uint8 whose header claims ``shape``, followed by ``payload``."""
    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}"
    header = header.ljust(117) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                     + header.encode() + payload)
    return path


def test_a_npy_claiming_a_negative_dimension_is_one_line_everywhere(tmp_path, capsys):
    """`lrp data info` (and the explorer's Open dataset) read the header of a .npy claiming
    shape (-1, 28, 28) into a row reader of negative length: "internal error: ValueError:
    __len__() should return >= 0". The claim is checked before any reader is made."""
    from lrpcore import DatasetError, load_labels, open_dataset

    path = _npy_claiming(tmp_path / "neg.npy", (-1, 28, 28), bytes(2 * 784))
    assert main(["data", "info", str(path)]) == 2
    err = one_line(capsys, "neg.npy", "negative size")
    assert err.count("neg.npy") == 1, err  # not wrapped in a second message naming it
    for read in (open_dataset, load_labels):  # as labels: "internal error: negative count"
        with pytest.raises(DatasetError, match="negative size"):
            read(path)


def _conv_then(tmp_path, between, inits):
    """The conv net of :func:`_conv_net` with the nodes ``between`` (reading "c", writing
    "n") between its Conv and Relu."""
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]), *between,
             helper.make_node("Relu", ["n"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "G"], ["y"])]
    inits = [numpy_helper.from_array(rng.randn(4, 3, 3, 3).astype(np.float32), "W"),
             numpy_helper.from_array(rng.randn(4, 2).astype(np.float32), "G"), *inits]
    return save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 3, 6, 6], [1, 2])


@pytest.mark.parametrize("mode", [0, 1])
def test_an_onnx_export_in_training_mode_is_refused_at_load(tmp_path, mode):
    """A PyTorch model exported while in train mode (TrainingMode.PRESERVE) writes
    BatchNormalization with training_mode=1 (each batch normalised by its own statistics)
    and Dropout with a training_mode input of True (units zeroed at random). Both loaded as
    the eval-mode layers: the outputs differed from what the file computes (ONNX's reference
    evaluator: 4.06 against -0.29) and every explanation was of another model. Refused, one
    line naming the file and the node; the eval-mode forms load as before."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from lrpcore import ModelFormatError, load_model

    stats = [numpy_helper.from_array(np.full(4, v, np.float32), k)
             for k, v in (("s", 1.0), ("b", 0.0), ("mu", 0.0), ("var", 1.0))]
    bn = helper.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"], ["n"],
                          name="bn", training_mode=mode)
    drop = [helper.make_node("Cast", ["mode"], ["train"], to=TensorProto.BOOL),  # a bool
            helper.make_node("Dropout", ["c", "ratio", "train"], ["n"], name="drop")]
    drop_inits = [numpy_helper.from_array(np.array(0.5, np.float32), "ratio"),
                  numpy_helper.from_array(np.array(float(mode), np.float32), "mode")]
    for nodes, inits, name in (([bn], stats, "bn"), (drop, drop_inits, "drop")):
        path = _conv_then(tmp_path, nodes, inits)
        if not mode:
            load_model(path)
            continue
        with pytest.raises(ModelFormatError) as info:
            load_model(path)
        text = str(info.value)
        assert text.startswith(str(path)) and f"'{name}'" in text and "\n" not in text
        assert "training mode" in text and "eval" in text


def test_onnx_nodes_of_the_wrong_number_of_inputs_or_outputs_are_refused(tmp_path):
    """An Add of three tensors loaded as their sum, a Conv's fourth and fifth inputs were
    ignored, a Relu without output was an internal IndexError turned "malformed", and an
    opset of 0 or -5 loaded: files every ONNX runtime refuses. Each is refused at load naming
    the file, the node and what the operator takes at the model's opset."""
    pytest.importorskip("onnx")
    import onnx

    from lrpcore import ModelFormatError, load_model

    def variant(name, change):
        proto = onnx.load(str(_conv_net(tmp_path)))
        change(proto.graph.node, proto)
        path = tmp_path / f"{name}.onnx"
        onnx.save(proto, str(path))
        return path

    cases = {
        "three summed": (lambda nodes, _: (setattr(nodes[1], "op_type", "Add"),
                                           nodes[1].input.extend(["c", "c"])),
                         "3 inputs; Add (opset 17) takes 2"),
        "conv of five": (lambda nodes, _: nodes[0].input.extend(["", "x", "x"]),
                         "5 inputs; Conv (opset 17) takes 2 to 3"),
        "no output": (lambda nodes, _: nodes[1].ClearField("output"),
                      "0 outputs; Relu (opset 17) takes 1"),
        "opset 0": (lambda _, proto: setattr(proto.opset_import[0], "version", 0),
                    "opset 0; ONNX opsets start at 1"),
    }
    for name, (change, phrase) in cases.items():
        path = variant(name.replace(" ", "_"), change)
        with pytest.raises(ModelFormatError) as info:
            load_model(path)
        text = str(info.value)
        assert text.startswith(str(path)) and phrase in text and "\n" not in text, text
    load_model(variant("plain", lambda nodes, _: None))  # the file as exported loads


def test_a_class_folder_named_with_a_line_break_stays_on_its_line_in_data_info(tmp_path,
                                                                                 capsys):
    """`lrp data info` printed an image folder's class names (its subfolders' names) as they
    are: a folder named "cl\\nass" gave a line "ass, three)" of its own, and the dataset's
    name and source likewise. Model class names were kept on one line already."""
    from PIL import Image

    folder = tmp_path / "pho\ntos"
    for name in ("cl\nass", "three"):
        (folder / name).mkdir(parents=True)
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / name / "a.png")
    assert main(["data", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 7 and [ln.split(":")[0] for ln in lines] == [
        "dataset", "samples", "shape", "dtype", "labels", "source", "storage"], out
    assert "cl ass, three" in out and "pho tos" in out


def test_a_sidecar_image_layout_for_a_model_of_no_image_is_refused(tmp_path, capsys):
    """{"input": {"layout": "NCHW"}} beside a 1-D sequence classifier (N×C×L) or an MLP
    loaded, and the first sample explained ended in "internal error: ValueError: axes don't
    match array" (every sample transposed as a C×H×W image). Refused at load naming the
    field and the shape; "flat" (the layout such models have) loads."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    W = numpy_helper.from_array(np.ones((2, 8), np.float32), "W")
    path = save_onnx_graph(tmp_path / "m.onnx", [helper.make_node("Flatten", ["x"], ["f"]),
                                                  helper.make_node("Gemm", ["f", "W"], ["y"],
                                                                   transB=1)],
                           [W], [1, 2, 4], [1, 2])  # a 2-channel sequence of length 4
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(3, 2, 4))
    (tmp_path / "m.json").write_text(json.dumps({"input": {"layout": "NCHW"}}))
    assert main(["explain", str(path), str(x), "--out", str(tmp_path / "R.npy")]) == 2
    one_line(capsys, "m.json", "'layout' NCHW", "[2, 4]")
    assert not (tmp_path / "R.npy").exists()
    (tmp_path / "m.json").write_text(json.dumps({"input": {"layout": "flat"}}))
    assert main(["explain", str(path), str(x), "--out", str(tmp_path / "R.npy")]) == 0


def test_onnx_constants_of_a_form_onnx_refuses_are_not_read_another_way(tmp_path):
    """A Clip whose min and max are vectors ([0, 1] and [5, 6]) loaded as Clip(0, 5), their
    first values; a Reshape to [-1, -1] loaded as a flatten: files ONNX refuses (one -1 at
    most, scalar bounds), read as some other model. Refused at load naming the node; a
    scalar bound and one -1 load as before."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    from lrpcore import ModelFormatError, load_model

    def clip(lo, hi):
        return ([helper.make_node("Clip", ["c", "lo", "hi"], ["n"], name="clip")],
                [numpy_helper.from_array(np.array(lo, np.float32), "lo"),
                 numpy_helper.from_array(np.array(hi, np.float32), "hi")])

    def reshape(shape):  # a no-op Reshape of the map to its own shape (or the crafted one)
        return ([helper.make_node("Reshape", ["c", "s"], ["n"], name="reshape")],
                [numpy_helper.from_array(np.array(shape, np.int64), "s")])

    for (nodes, inits), phrase in ((clip([0, 1], [5, 6]), "Clip's min must be one number"),
                                   (reshape([-1, -1]), "more than one -1")):
        path = _conv_then(tmp_path, nodes, inits)
        with pytest.raises(ModelFormatError) as info:
            load_model(path)
        text = str(info.value)
        assert text.startswith(str(path)) and phrase in text and "\n" not in text, text
    load_model(_conv_then(tmp_path, *clip(0, 6)))
    load_model(_conv_then(tmp_path, *reshape([1, 4, 6, 6])))


def test_a_sidecar_raw_shape_of_a_sequence_in_the_other_order_is_refused(tmp_path, capsys):
    """A sidecar's "raw_shape": [4, 2] (L×C) beside a C×L sequence classifier (2 channels of
    4 steps) loaded, and every sample was reshaped into 2×4, not transposed: fed scrambled,
    while `lrp info` said "raw 4×2 → as given → 2×4". Refused at load naming the field; a
    flat [8] (reshaped, as for an MLP) still loads."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    W = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(2, 8), "W")
    path = save_onnx_graph(tmp_path / "m.onnx", [helper.make_node("Flatten", ["x"], ["f"]),
                                                  helper.make_node("Gemm", ["f", "W"], ["y"],
                                                                   transB=1)],
                           [W], [1, 2, 4], [1, 2])
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(3, 4, 2))
    (tmp_path / "m.json").write_text(json.dumps({"input": {"raw_shape": [4, 2]}}))
    assert main(["explain", str(path), str(x), "--out", str(tmp_path / "R.npy")]) == 2
    one_line(capsys, "m.json", "'raw_shape' [4, 2]", "[2, 4]", "never transposed")
    assert not (tmp_path / "R.npy").exists()
    (tmp_path / "m.json").write_text(json.dumps({"input": {"raw_shape": [8]}}))
    assert main(["info", str(path)]) == 0


@pytest.mark.parametrize("change, phrase", [
    ({"location": "w\x00.bin"}, "only a file in the model's own folder"),  # ValueError
    ({"dims": [-3, 3, 3, 12]}, "negative dimension"),  # read(-432): ValueError
    ({"location": "."}, "'.': is a folder, not a file"),  # named the folder alone
    ({"location": "w\n.bin"}, "'w .bin': cannot read"),  # a second line, no model named
    ({"location": "a" * 5000}, "cannot read: File name too long"),  # 5,000 characters
])
def test_external_onnx_weights_of_a_hostile_location_or_shape_areone_line(tmp_path, change,
                                                                          phrase):
    """ONNX weights kept in a file beside the model (read since a7ea353): a location naming
    a folder, a missing name with a line break or of 5,000 characters gave a message naming
    that path alone, whole and on two lines. Each is now one short line naming the model
    and the tensor (a NUL byte and negative dimensions, internal errors, are 734fa56's)."""
    pytest.importorskip("onnx")
    import onnx

    from lrpcore import ModelFormatError, load_model

    proto = onnx.load(str(_conv_net(tmp_path)))
    weights = proto.graph.initializer[0]
    (tmp_path / "w.bin").write_bytes(weights.raw_data)
    weights.ClearField("raw_data")
    weights.data_location = onnx.TensorProto.EXTERNAL
    weights.external_data.add(key="location", value=change.get("location", "w.bin"))
    if "dims" in change:
        del weights.dims[:]
        weights.dims.extend(change["dims"])
    path = tmp_path / "ext.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(f"{path}: initializer: tensor 'W'"), text
    assert phrase in text and "\n" not in text and len(text) < 400, text


@pytest.mark.parametrize("under", ["notes.txt", "notes.txt/deeper"])
def test_an_output_under_a_file_says_it_is_a_file(tmp_path, capsys, under):
    """``--out notes.txt/R.npy`` beside the file notes.txt said 'folder notes.txt does not
    exist' (the hostile review's note): the file is named as a file, and nothing is written."""
    path = _conv_net(tmp_path)
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).random((1, 3, 6, 6)))
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / under / "R.npy"
    assert main(["explain", str(path), str(x), "--raw", "--out", str(out)]) == 2
    one_line(capsys, f"{tmp_path / 'notes.txt'} is a file, not a folder")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    main(["explain", str(path), str(x), "--raw", "--out", str(tmp_path / "none" / "R.npy")])
    one_line(capsys, "does not exist")


def test_an_onnx_celu_of_alpha_zero_is_refused(tmp_path):
    """ONNX's Celu divides by alpha (its reference evaluator gives NaN for alpha = 0); the
    engine computed finite outputs of another function. Refused at load, naming the node."""
    import onnx

    from lrpcore import load_model
    from lrpcore.errors import ModelFormatError

    proto = onnx.load(str(ZOO / "smooth_ts.onnx"))
    node = next(n for n in proto.graph.node if n.op_type == "Celu")
    for attr in node.attribute:
        if attr.name == "alpha":
            attr.f = 0.0
    path = tmp_path / "celu0.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ModelFormatError, match="alpha must not be 0"):
        load_model(path)
    assert load_model(ZOO / "smooth_ts.onnx") is not None
