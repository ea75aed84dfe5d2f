"""A late hostile review (sidecars, native graphs, degenerate SpRAy data, ...): each test builds
the input it needs and failed before the fix it guards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from lrpcore import ModelFormatError, load_model
from lrpcore.cli.main import main

MODELS = Path(__file__).resolve().parents[1] / "lrpcore" / "models"


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
    onnx = pytest.importorskip("onnx")
    from test_onnx_graph_hostile import _model

    def softmax_inside(m):
        m.graph.node[1].op_type = "Softmax"

    path = tmp_path / "softmax.onnx"
    onnx.save(_model(mutate=softmax_inside), str(path))
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "Softmax" in text and "\n" not in text


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
    import lrpcore
    from lrpcore import relmax
    from lrpcore.explain import Explainer

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    computed = []

    def fake(explainer, images, k, rule=None, target="pred", labels=None, n=8, **kw):
        computed.append(k)
        return relmax.References(k, np.zeros((2, 1), np.int64), np.zeros((2, 1)),
                                 np.zeros((2, 1, 4), np.int32),
                                 np.ones((2, 1, 4, 4), np.float32), np.zeros((3, 2)))

    monkeypatch.setattr(relmax, "compute_references", fake)
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    relmax.references(ex, None, 3, rule="epsilon", dataset_id="d")
    (entry,) = (tmp_path / "relmax").glob("*.npz")
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
    from lrpcore.distributed import prepare_store

    key = {"n": 4, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float32", "model_sha256": "0" * 64}
    out = tmp_path / "R.zarr"
    g = prepare_store(out, key, (4, 28, 28, 1), 10, "float32", {"model": "m.npz"}, False)
    g["relevance"][:] = np.random.RandomState(0).rand(4, 28, 28, 1).astype(np.float32)
    g["done"][:] = 1
    png = tmp_path / "r.png"
    assert main(["render", str(out), "--out", str(png)]) == 0  # as written: drawn
    png.unlink()
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
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.ones((0, 4), np.float32), "W"),
             numpy_helper.from_array(np.zeros(0, np.float32), "B")]
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="fc", transB=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 0])], inits)
    path = tmp_path / "empty.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
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
