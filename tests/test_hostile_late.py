"""A late hostile review (sidecars, native graphs, degenerate SpRAy data, ...): each test builds
the input it needs and failed before the fix it guards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hostile_files import finished_relevance_store, save_onnx_graph

from lrpcore import ModelFormatError, load_model
from lrpcore.cli.main import main

MODELS = Path(__file__).resolve().parents[1] / "lrpcore" / "models"


def _refused_naming(path, model, *words):
    """``model`` saved at ``path`` fails to load with one line that starts with the path and
    holds every one of ``words``."""
    import onnx  # noqa: PLC0415 (the callers skip without it)

    onnx.save(model, str(path))
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "\n" not in text, text
    for word in words:
        assert word in text, (word, text)


def test_a_sidecar_mean_for_more_channels_than_the_model_has_is_refused(tmp_path, capsys):
    # mean/std of three values beside a greyscale model broadcast every digit to three
    # channels: 'lrp explain' ended in an internal ValueError from the reshape
    model = tmp_path / "m.npz"
    shutil.copy(MODELS / "mnist-lenet5.npz", model)
    (tmp_path / "m.json").write_text(json.dumps({"input": {"mean": [0.1, 0.2, 0.3],
                                                           "std": [1, 1, 1]}}))
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    code = main(["explain", str(model), str(x), "--out", str(out / "R.npy")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert list(out.iterdir()) == []
    assert len(err.splitlines()) == 1 and str(tmp_path / "m.json") in err
    assert "3 values" in err and "1 channel" in err
    # one value for every channel, or one per channel, still loads
    (tmp_path / "m.json").write_text(json.dumps({"input": {"mean": [0.5], "std": [2]}}))
    assert load_model(model).input_spec.mean == (0.5,)


def test_a_native_graph_of_doubling_concats_is_refused_at_load(tmp_path):
    # a 14-KB native file of 36 Concats of a tensor with itself declared 2³⁶ outputs: it
    # loaded, and an explanation then tried to allocate terabytes (ONNX files were bounded)
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import Concat
    from lrpcore.io.native import save_native
    from lrpcore.layers import Linear
    from lrpcore.spec import InputSpec

    nodes = [Node("lin", Linear(np.ones((4, 1)), np.zeros(1)), ("x",), "t0")]
    nodes += [Node(f"c{i}", Concat(), (f"t{i}", f"t{i}"), f"t{i + 1}") for i in range(36)]
    spec = InputSpec(shape=(4,), raw_shape=(4,), layout="flat", divide=1.0, offset=0.0)
    path = tmp_path / "bomb.npz"
    save_native(GraphModel(nodes, "x", "t36", spec), path)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "values per sample" in text and "\n" not in text
    # a few doublings are a model like any other
    save_native(GraphModel(nodes[:4], "x", "t3", spec), path)
    assert load_model(path).n_classes == 8


def test_spray_of_identical_heatmaps_is_one_cluster_and_does_not_crash():
    # all-zero relevance (or one image repeated): scikit-learn's t-SNE divided by a spread of
    # 0 and crashed the process (segmentation fault; in the explorer, the whole window), and
    # the clustering split identical heatmaps into clusters drawn by lot. Run in a child: a
    # crash must fail this test, not end the suite.
    code = ("import numpy as np\n"
            "from lrpcore.spray import analyse\n"
            "r = analyse(np.zeros((20, 28, 28)), embed='tsne')\n"
            "assert r['embedding'].shape == (20, 2) and np.isfinite(r['embedding']).all()\n"
            "print(sorted(set(r['clusters'].tolist())))\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[0]"


def test_an_onnx_softmax_inside_the_graph_is_refused_not_taken_along_the_height(tmp_path):
    # a Softmax on a C×H×W tensor (ONNX: along W by default) loaded as the engine's SoftMax,
    # which normalises axis 1 of the stored H×W×C array, the height: a silently wrong model
    pytest.importorskip("onnx")
    from test_onnx_graph_hostile import _model

    def softmax_inside(m):
        m.graph.node[1].op_type = "Softmax"

    _refused_naming(tmp_path / "softmax.onnx", _model(mutate=softmax_inside), "Softmax")


def test_concepts_into_a_read_only_folder_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    # the temporary output folder could not be made (a read-only or full disk): 'lrp
    # concepts' ended in an internal OSError. (Root ignores permissions: the refusal is
    # simulated where the folder is made.)
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 28, 28), np.uint8))
    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    out = tmp_path / "cc"
    code = main(["concepts", "mnist-lenet5", str(x), "--layer", "convolution1",
                 "--references", "0", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and str(out) in err and "Read-only" in err
    assert not out.exists()


@pytest.mark.parametrize("damage", ["empty", "cut short", "inconsistent shapes"])
def test_a_damaged_relmax_cache_entry_is_computed_again(tmp_path, monkeypatch, damage):
    # the cache meant "damaged or old: compute again", but an empty entry (EOFError) or one
    # cut short (BadZipFile) ended every later 'lrp concepts' and concepts panel of that
    # model, rule and layer in an internal error; one of wrong shapes failed later, in crops
    from hostile_files import cached_relmax_entry

    from lrpcore import relmax

    entry, computed, ex = cached_relmax_entry(tmp_path, monkeypatch)
    if damage == "empty":
        entry.write_bytes(b"")
    elif damage == "cut short":
        entry.write_bytes(entry.read_bytes()[:200])
    else:
        refs = relmax.References.load(entry)
        refs.boxes = np.zeros((2, 1, 3), np.int32)
        entry.unlink()
        refs.save(entry)
    refs = relmax.references(ex, None, 3, rule="epsilon", dataset_id="d")
    assert computed == [3, 3] and refs.boxes.shape == (2, 1, 4)
    assert relmax.References.load(entry).boxes.shape == (2, 1, 4)  # the good one kept


@pytest.mark.parametrize("ext", ["npz", "txt"])
def test_convert_to_float32_refuses_parameters_beyond_float32(tmp_path, capsys, ext):
    # a weight of 1e300 cast to float32 became inf: 'lrp convert --dtype float32' printed a
    # RuntimeWarning, exited 0, and wrote a model file that no reader accepts
    import lrpcore
    from lrpcore.layers import Linear
    from lrpcore.spec import InputSpec

    W = np.ones((4, 2))
    W[0, 0] = 1e300
    src = tmp_path / "big.npz"
    lrpcore.save_model(lrpcore.Sequential([Linear(W, np.zeros(2))],
                                          InputSpec(shape=(4,), raw_shape=(4,), layout="flat",
                                                    divide=1.0, offset=0.0)), src)
    out = tmp_path / f"small.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning of an overflowing cast either
        code = main(["convert", str(src), str(out), "--dtype", "float32"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and str(out) in err and "float32" in err
    assert not out.exists() and not (tmp_path / "small.json").exists()
    assert main(["convert", str(src), str(out)]) == 0  # as read (float64): kept
    assert load_model(out).layers[0].W[0, 0] == 1e300



def test_a_relevance_store_whose_samples_were_edited_smaller_than_its_chunks_is_refused(
        tmp_path, capsys):
    # relevance of 28×28 maps in chunks of 28×28, edited (or crafted) to declare 20×20
    # samples: zarr read each map's top-left 20×20 corner and 'lrp render' drew it, exit 0
    zarr = pytest.importorskip("zarr")

    out = finished_relevance_store(tmp_path / "R.zarr")
    png = tmp_path / "r.png"
    assert main(["render", str(out), "--out", str(png)]) == 0  # as written: drawn
    png.unlink()
    Path(f"{png}.json").unlink()  # its sidecar too: an existing output is refused first
    capsys.readouterr()
    meta = out / "relevance" / "zarr.json"
    doc = json.loads(meta.read_text())
    assert doc["shape"] == [4, 28, 28, 1] and zarr.open_group(str(out), mode="r")
    doc["shape"] = [4, 20, 20, 1]
    meta.write_text(json.dumps(doc))
    assert main(["render", str(out), "--out", str(png)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "damaged" in err, err
    assert not png.exists()


def test_a_sweep_of_blank_images_names_no_best(tmp_path, capsys):
    # blank digits: flipping their pixels changes nothing, every setting scored 0, and the
    # first of the grid was printed as "best: --rule epsilon:0.01"
    x = tmp_path / "blank.npy"
    np.save(x, np.zeros((4, 28, 28), np.uint8))
    args = ["sweep", "mnist-lenet5", str(x), "--rule", "epsilon", "--param",
            "epsilon=0.01,1", "--n", "4", "--steps", "4", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "\nbest:" not in out and "no best: every setting scores 0" in out
    np.save(x, np.random.RandomState(0).randint(0, 256, (4, 28, 28)).astype(np.uint8))
    assert main(args) == 0
    assert "best: --rule epsilon:" in capsys.readouterr().out


def test_an_onnx_layer_of_zero_units_is_refused_at_load(tmp_path, capsys):
    # a Gemm of 0 outputs loaded as a model of 0 classes; 'lrp explain' then ended in an
    # internal "argmax of an empty sequence" (the text and native readers refuse 0 units)
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.ones((0, 4), np.float32), "W"),
             numpy_helper.from_array(np.zeros(0, np.float32), "B")]
    path = tmp_path / "empty.onnx"
    save_onnx_graph(path, [helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="fc", transB=1)],
                    inits, [1, 4], [1, 0])
    x = tmp_path / "x.npy"
    np.save(x, np.ones((2, 4)))
    out = tmp_path / "R.npy"
    assert main(["explain", str(path), str(x), "--raw", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "empty tensor" in err, err
    assert not out.exists()


def test_the_explorer_refuses_a_model_of_more_classes_than_it_can_list(tmp_path):
    # a 14-KB native graph of 27 doubling Concats declares 134 M outputs (within the
    # activation bound); the explorer made a list entry per class in three lists: frozen,
    # then out of memory. A model of a few classes still opens.
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import Concat
    from lrpcore.io.native import save_native
    from lrpcore.layers import Linear
    from lrpcore.spec import InputSpec
    from lrpgui.session import OpenError, Session
    from lrpgui.state import AppState

    nodes = [Node("lin", Linear(np.ones((4, 1)), np.zeros(1)), ("x",), "t0")]
    nodes += [Node(f"c{i}", Concat(), (f"t{i}", f"t{i}"), f"t{i + 1}") for i in range(27)]
    spec = InputSpec(shape=(4,), raw_shape=(4,), layout="flat", divide=1.0, offset=0.0)
    wide, narrow = tmp_path / "wide.npz", tmp_path / "narrow.npz"
    save_native(GraphModel(nodes, "x", "t27", spec), wide)
    save_native(GraphModel(nodes[:4], "x", "t3", spec), narrow)
    assert load_model(wide).n_classes == 2 ** 27  # lrp explain takes it
    session = Session(AppState())
    session.open_model(narrow)
    with pytest.raises(OpenError) as info:
        session.open_model(wide)
    text = str(info.value)
    assert text.startswith(str(wide)) and "134,217,728 outputs" in text and "\n" not in text
    assert session.state.model_path == str(narrow)  # the open model stays


def test_a_dilated_onnx_pooling_is_not_read_undilated(tmp_path):
    # MaxPool 2×2 with dilations 2 (a 3×3 reach: 6×6 out of 8×8) was read as a plain 2×2
    # pool (7×7): before a global pooling the shapes still fitted and the model was wrong.
    # (zoo2: a dilated max pool is now read as one; a dilated average pool stays refused.)
    pytest.importorskip("onnx")
    import onnx
    from onnx import helper
    from test_onnx_graph_hostile import _model

    def dilated(op):
        def mutate(m):
            m.graph.node.insert(3, helper.make_node(op, ["a"], ["mp"], name="mp",
                                                    kernel_shape=[2, 2], strides=[1, 1],
                                                    dilations=[2, 2]))
            m.graph.node[4].input[0] = "mp"
        return mutate

    onnx.save(_model(mutate=dilated("MaxPool")), str(tmp_path / "max.onnx"))
    model = load_model(tmp_path / "max.onnx")
    k = next(i for i, n in enumerate(model.nodes) if n.name == "mp")
    assert model.shapes()[k][:2] == (6, 6)
    _refused_naming(tmp_path / "avg.onnx", _model(mutate=dilated("AveragePool")),
                    "dilated average pooling")


def _conv_plus_constant(path, bias, nhwc=False):
    """x → 1×1 Conv (4 channels of a 4×4 map: C = W) → Add(bias) → Flatten → Gemm, in NCHW or,
    with ``nhwc``, transposed to NHWC before the Add (as tf2onnx exports)."""
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rng.randn(4, 2, 1, 1).astype(np.float32), "W"),
             numpy_helper.from_array(np.asarray(bias, np.float32), "c"),
             numpy_helper.from_array(rng.randn(2, 64).astype(np.float32), "G")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", kernel_shape=[1, 1])]
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["y"], ["yt"], name="t", perm=[0, 2, 3, 1]))
    nodes += [helper.make_node("Add", ["yt" if nhwc else "y", "c"], ["z"], name="bias"),
              helper.make_node("Flatten", ["z"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "G"], ["o"], name="fc", transB=1)]
    save_onnx_graph(path, nodes, inits, [1, 2, 4, 4], [1, 2])
    W = numpy_helper.to_array(inits[0]).astype(float)[:, :, 0, 0]
    G = numpy_helper.to_array(inits[2]).astype(float)
    return W, G


def test_an_onnx_constant_added_along_the_width_is_not_read_as_a_channel_bias(tmp_path):
    # Conv output N×4×4×4 plus a constant of shape (4,): ONNX adds it along the width, the
    # importer folded it into the convolution as one bias per channel, another model
    pytest.importorskip("onnx")
    path = tmp_path / "width.onnx"
    _conv_plus_constant(path, [0, 10, 20, 30])
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "nor one per channel (4×1×1)" in text
    # the channel bias PyTorch writes (4×1×1), and (4,) after a transpose to NHWC, still fold
    x = np.random.RandomState(1).rand(1, 2, 4, 4)
    for bias, nhwc in (([[[0]], [[10]], [[20]], [[30]]], False), ([0, 10, 20, 30], True)):
        W, G = _conv_plus_constant(path, bias, nhwc)
        y = np.einsum("oc,nchw->nohw", W, x) + np.array([0, 10, 20, 30.])[:, None, None]
        if nhwc:
            y = y.transpose(0, 2, 3, 1)
        np.testing.assert_allclose(load_model(path).forward(x), y.reshape(1, -1) @ G.T,
                                   rtol=1e-5)


@pytest.mark.parametrize("include", [0, 1])
def test_an_average_pool_padded_by_auto_pad_counts_as_onnx_does(tmp_path, include):
    # AveragePool 3×3 with auto_pad SAME_UPPER and count_include_pad 0 (ONNX's default):
    # ONNX averages a border window over its real pixels only; the importer checked only the
    # 'pads' attribute, padded with zeros and divided by 9: another model, loaded silently
    onnx = pytest.importorskip("onnx")
    from onnx import helper
    from test_onnx_graph_hostile import _model

    def same_pool(m):
        m.graph.node.insert(3, helper.make_node("AveragePool", ["a"], ["ap"], name="ap",
                                                kernel_shape=[3, 3], strides=[1, 1],
                                                auto_pad="SAME_UPPER",
                                                count_include_pad=include))
        m.graph.node[4].input[0] = "ap"

    path = tmp_path / "pool.onnx"
    proto = _model(mutate=same_pool)
    onnx.save(proto, str(path))
    model = load_model(path)
    assert [n.name for n in model.nodes][-5:-3] == ["ap/pad", "ap"]
    # without counting the zeros the border windows divide by their real pixels only (a
    # PartialMeanPool since the zoo work; was refused), with them by 9: ONNX's own answer
    from onnx.reference import ReferenceEvaluator

    x = np.random.RandomState(2).rand(1, 3, 8, 8).astype(np.float32)
    want = ReferenceEvaluator(proto).run(None, {"x": x})[0]
    np.testing.assert_allclose(model.forward(x.astype(np.float64)), want, rtol=1e-5)


@pytest.mark.parametrize("kind", ["BatchNormalization", "bias"])
def test_a_fold_into_a_conv_whose_identity_is_read_elsewhere_keeps_that_reader(tmp_path, kind):
    # Conv → Identity → BatchNormalization (or Add of a per-channel constant), the Identity
    # also read by a residual Add: the importer counted the Conv's own readers only (one),
    # folded the normalisation into the Conv, and the residual Add got the normalised map
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    W, G = rng.randn(3, 3).astype(np.float32), rng.randn(2, 3).astype(np.float32)
    inits = [numpy_helper.from_array(W[:, :, None, None], "W"),
             numpy_helper.from_array(G, "G")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", kernel_shape=[1, 1]),
             helper.make_node("Identity", ["c"], ["c2"], name="id")]
    if kind == "bias":
        inits.append(numpy_helper.from_array(np.full((3, 1, 1), 7, np.float32), "k"))
        nodes.append(helper.make_node("Add", ["c2", "k"], ["n"], name="bias"))
    else:
        inits += [numpy_helper.from_array(np.full(3, v, np.float32), k)
                  for k, v in (("s", 2), ("b", 5), ("mu", 1), ("var", 1))]
        nodes.append(helper.make_node("BatchNormalization", ["c2", "s", "b", "mu", "var"],
                                      ["n"], name="bn", epsilon=0.0))
    nodes += [helper.make_node("Relu", ["n"], ["r"], name="relu"),
              helper.make_node("Add", ["r", "c2"], ["a"], name="add"),
              helper.make_node("GlobalAveragePool", ["a"], ["p"], name="gap"),
              helper.make_node("Flatten", ["p"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "G"], ["o"], name="fc", transB=1)]
    path = tmp_path / "residual.onnx"
    save_onnx_graph(path, nodes, inits, [1, 3, 4, 4], [1, 2])
    x = rng.rand(1, 3, 4, 4)
    c = np.einsum("oc,nchw->nohw", W.astype(float), x)
    if kind == "bias":  # not folded: an Affine of its own (was refused before the zoo work)
        expected = (np.maximum(c + 7, 0) + c).mean(axis=(2, 3)) @ G.T.astype(float)
        np.testing.assert_allclose(load_model(path).forward(x), expected, rtol=1e-5)
        return
    expected = (np.maximum((c - 1) * 2 + 5, 0) + c).mean(axis=(2, 3)) @ G.T.astype(float)
    np.testing.assert_allclose(load_model(path).forward(x), expected, rtol=1e-5)


def test_an_onnx_concat_of_maps_of_different_sizes_is_refused_at_load(tmp_path, capsys):
    # Concat of a 6×6 Conv output with the 8×8 input: the model loaded ('lrp info' showed it)
    # and every explanation failed blaming the input file, not the model
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rng.randn(3, 3, 3, 3).astype(np.float32), "W"),
             numpy_helper.from_array(rng.randn(2, 6).astype(np.float32), "G")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Concat", ["c", "x"], ["k"], name="cat", axis=1),
             helper.make_node("GlobalAveragePool", ["k"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G"], ["o"], name="fc", transB=1)]
    path = tmp_path / "concat.onnx"
    save_onnx_graph(path, nodes, inits, [1, 3, 8, 8], [1, 2])
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "Concat" in err, err


def test_an_onnx_shape_with_start_and_end_gives_those_dimensions(tmp_path):
    # Shape(end=1) → Concat(-1) → Reshape: a flatten as newer exporters write it (opset 15).
    # start and end were ignored, so the target became [0, 3, 1, 1, -1] and a valid model
    # was refused (or, with Gather after it, read other dimensions)
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper
    from test_onnx_graph_hostile import _model

    def flatten_by_shape(m):
        m.graph.node.remove(m.graph.node[4])
        m.graph.node.insert(4, helper.make_node("Shape", ["p"], ["s"], name="shape", start=0,
                                                end=1))
        m.graph.node.insert(5, helper.make_node("Concat", ["s", "minus1"], ["to"], name="to",
                                                axis=0))
        m.graph.node.insert(6, helper.make_node("Reshape", ["p", "to"], ["f"], name="reshape"))
        m.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "minus1"))

    plain, reshaped = tmp_path / "plain.onnx", tmp_path / "reshaped.onnx"
    onnx.save(_model(), str(plain))
    onnx.save(_model(mutate=flatten_by_shape), str(reshaped))
    x = np.random.RandomState(2).rand(2, 3, 8, 8)
    np.testing.assert_allclose(load_model(reshaped).forward(x), load_model(plain).forward(x))


@pytest.mark.parametrize("case", ["filters computed as W / 0", "a bias that is data"])
def test_onnx_layer_parameters_computed_at_import_are_checked(tmp_path, case):
    # Conv filters folded from Div(W, 0) were inf: the model loaded and every explanation
    # blamed "parameters too large for float32 … or use float64"; a Conv bias naming a data
    # tensor was dropped silently (the filters and biases read from initializers were checked)
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper
    from test_onnx_graph_hostile import _model

    def divided(m):
        m.graph.node.insert(0, helper.make_node("Div", ["W0", "zero"], ["W"], name="div"))
        m.graph.initializer[0].name = "W0"
        m.graph.initializer.append(numpy_helper.from_array(np.zeros(1, np.float32), "zero"))

    def data_bias(m):
        m.graph.node[0].input[2] = "x"

    _refused_naming(tmp_path / "computed.onnx",
                    _model(mutate=divided if case.startswith("filters") else data_bias), "'conv'",
                    "NaN or infinite" if case.startswith("filters") else "must be a constant")


@pytest.mark.parametrize("key", ["raw_range", "value_range"])
def test_a_sidecar_range_of_zero_width_is_refused(tmp_path, capsys, key):
    # "value_range": [1, 1] was accepted: zB's bounds coincided and 'lrp explain --rule zb'
    # warned of relevance blowing up 2,000-fold "for no recognised cause"
    model = tmp_path / "m.npz"
    shutil.copy(MODELS / "mnist-lenet5.npz", model)
    (tmp_path / "m.json").write_text(json.dumps({"input": {key: [1, 1]}}))
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    out = tmp_path / "R.npy"
    assert main(["explain", str(model), str(x), "--rule", "zb", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "m.json") in err
    assert key in err and "low < high" in err and not out.exists()


def test_concepts_of_an_image_folder_whose_photo_was_replaced_are_computed_again(
        tmp_path, monkeypatch):
    # the reference cache knew a folder by its own size and time, which a file overwritten in
    # place leaves as they were: the references of the old image were shown
    from PIL import Image

    from lrpcore import relmax

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    computed = []
    real = relmax.compute_references
    monkeypatch.setattr(relmax, "compute_references",
                        lambda *a, **k: computed.append(1) or real(*a, **k))
    folder = tmp_path / "digits"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for i in range(3):
        Image.fromarray(rng.randint(0, 256, (28, 28)).astype(np.uint8)).save(folder / f"{i}.png")
    st = os.stat(folder)

    def run(out):
        assert main(["concepts", "mnist-lenet5", str(folder), "--layer", "convolution1",
                     "--top", "1", "--references", "2", "--out", str(tmp_path / out)]) == 0

    run("a")
    run("b")
    assert len(computed) == 1  # the same images: from the cache
    Image.fromarray(rng.randint(0, 256, (28, 28)).astype(np.uint8)).save(folder / "1.png")
    newer = os.stat(folder / "1.png").st_mtime_ns + 10**9
    os.utime(folder / "1.png", ns=(newer, newer))
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))  # the folder's own time as before
    run("c")
    assert len(computed) == 2


def test_spray_prototypes_of_a_cluster_without_samples_are_blank_not_nan():
    # clusters numbered 0 and 5 of six samples (a saved result opened again): the window drew
    # NaN prototypes for clusters 1…4 with numpy's "Mean of empty slice" warnings
    from lrpcore.spray import SprayResult

    n = 6
    r = SprayResult(np.arange(n), np.zeros(n, np.int64), np.ones((n, 4, 4)),
                    np.ones((n, 16)), np.array([0, 0, 5, 5, 5, 5]), np.zeros(5),
                    np.zeros((n, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        protos = r.prototypes()
    assert protos.shape == (6, 4, 4) and np.isfinite(protos).all()
    assert protos[0].max() == protos[5].max() == 1 and not protos[1:5].any()
    assert r.sizes().tolist() == [2, 0, 0, 0, 0, 4]


def test_ctrl_c_swallowed_inside_a_callback_is_still_an_interruption(monkeypatch, capsys):
    # Ctrl-C while numba compiled a kernel (the first run after installing) struck inside an
    # llvmlite ctypes callback, which swallows exceptions; numba then raised "RuntimeError:
    # no compiled object yet" and lrp printed "internal error … please report it", exit 1
    import os
    import signal

    from lrpcore.cli import cmd_info

    def compiling(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        except KeyboardInterrupt:
            pass  # what the callback does with it
        raise RuntimeError("no compiled object yet for <Library '_pad'>")

    monkeypatch.setattr(cmd_info, "run", compiling)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert main(["info", "mnist-lenet5"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "internal" not in err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back
