"""Found by the eighth hostile review (the importer's new paths, activations, settings, ...):
each test writes the input it needs and failed before the fix it guards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

from lrpcore import ModelFormatError, load_model
from lrpcore.cli.main import main


def _gemm_head(features, classes=3):
    """Flatten + Gemm from tensor ``p`` to the output ``y``, and the Gemm's weights."""
    from onnx import helper, numpy_helper

    W = numpy_helper.from_array(np.full((features, classes), 0.1, np.float32), "W")
    return [helper.make_node("Flatten", ["p"], ["f"]),
            helper.make_node("Gemm", ["f", "W"], ["y"])], [W]


def test_many_folded_constants_are_refused_before_they_exhaust_memory(tmp_path, monkeypatch,
                                                                      capsys):
    """Each folded constant was bounded (16 M values), all of them together not: a 43-KB file
    of 200 ConstantOfShape nodes of 4096×4095 float64 asked for 25 GB (here: a budget of
    4 MB and 20 constants of 512 KB). Views of a constant (Reshape) cost nothing."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from lrpcore.io import onnx_graph

    monkeypatch.setattr(onnx_graph, "MAX_FOLDED_BYTES", 4 << 20)
    shape = helper.make_node("Constant", [], ["s"], value=helper.make_tensor(
        "v", TensorProto.INT64, [2], [256, 256]))
    flat = helper.make_node("Constant", [], ["flat"], value=helper.make_tensor(
        "v", TensorProto.INT64, [1], [65536]))
    one = helper.make_tensor("f", TensorProto.DOUBLE, [1], [1.0])
    head, inits = _gemm_head(4)
    first = helper.make_node("ConstantOfShape", ["s"], ["z"], value=one)
    views = [helper.make_node("Reshape", ["z", "flat"], [f"r{i}"]) for i in range(40)]
    relu = helper.make_node("Relu", ["x"], ["p"])
    ok = save_onnx_graph(tmp_path / "views.onnx", [shape, flat, first, *views, relu, *head],
                         inits, [1, 4], [1, 3])
    assert load_model(ok).n_classes == 3  # 40 views of one 512-KB constant: within 4 MB
    bombs = [helper.make_node("ConstantOfShape", ["s"], [f"z{i}"], value=one)
             for i in range(20)]
    path = save_onnx_graph(tmp_path / "bomb.onnx", [shape, *bombs, relu, *head], inits,
                           [1, 4], [1, 3])
    with pytest.raises(ModelFormatError, match="bomb.onnx: node 9 .*(ConstantOfShape).*"
                                               "folded so far hold"):
        load_model(path)
    assert main(["info", str(path)]) == 2
    one_line(capsys, str(path), "more than shape arithmetic needs")


@pytest.mark.parametrize("op,count", [("MaxPool", None), ("AveragePool", 0),
                                      ("AveragePool", 1)])
def test_a_pool_padded_by_a_whole_window_is_refused(tmp_path, capsys, op, count):
    """pads ≥ the kernel make windows of padding alone: a MaxPool's −10³⁰ reached the
    classifier (ΣR ×−1e−33, 'cause not recognised'), an uncounted average divided nothing
    (ONNX's reference answers NaN); both loaded and explained without a word."""
    pytest.importorskip("onnx")
    from onnx import helper

    extra = {} if count is None else {"count_include_pad": count}
    pool = helper.make_node(op, ["x"], ["p"], name="pool", kernel_shape=[2, 2],
                            strides=[2, 2], pads=[0, 0, 2, 0], **extra)
    head, inits = _gemm_head(2 * 3)  # 1×4×4 padded below by 2 → 6×4 → 3×2
    path = save_onnx_graph(tmp_path / "m.onnx", [pool, *head], inits, [1, 1, 4, 4], [1, 3])
    assert main(["info", str(path)]) == 2
    one_line(capsys, str(path), "'pool'", "pads [0, 2, 0, 0] (top, bottom, left, right) must "
              "be smaller than the 2×2 kernel")
    ok = helper.make_node(op, ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2],
                          pads=[0, 1, 0, 0], **extra)  # a pad smaller than the kernel loads
    head, inits = _gemm_head(2 * 3)
    assert load_model(save_onnx_graph(tmp_path / "ok.onnx", [ok, *head], inits,
                                      [1, 1, 4, 5], [1, 3])).n_classes == 3


@pytest.mark.parametrize("swish", [False, True])
def test_a_hard_sigmoid_of_extreme_slope_warns_nothing(swish):
    """αx overflowed for an ONNX HardSigmoid of α 3e38 (float32's largest attribute): numpy
    printed its RuntimeWarning with the source line on 'lrp explain's terminal, and the
    HardSwish gradient was NaN where αx = inf met 'outside (0, 1)' (inf · 0)."""
    from lrpcore.graph_activations import HardSigmoid

    layer = HardSigmoid(3e38, -3e38, swish=swish)
    x = np.array([-3.0, -0.5, 0.0, 0.5, 1.0, 3.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer.forward(x, np)
        g = layer.gradient(x, y, np.ones_like(x), np, np.float32)
    h = np.array([0, 0, 0, 0, 0, 1], np.float32)  # α·1 − 3e38 = 0: not above 0
    np.testing.assert_array_equal(y, x * h if swish else h)
    assert np.isfinite(g).all()


def test_outputs_overflowed_by_an_activations_number_blame_the_model(tmp_path, capsys):
    """A Selu of γ 3e38 overflows every output in float32: the error guessed 'input values
    too large for float32?', which no input can fix; the model's numbers are to blame."""
    pytest.importorskip("onnx")
    from onnx import helper

    selu = helper.make_node("Selu", ["x"], ["p"], gamma=3e38)
    head, inits = _gemm_head(4)
    path = save_onnx_graph(tmp_path / "m.onnx", [selu, *head], inits, [1, 4], [1, 3])
    x = tmp_path / "x.npy"
    np.save(x, np.full((2, 4), 3.0, np.float32))
    assert main(["explain", str(path), str(x), "--raw", "--out", str(tmp_path / "R.npy")]) == 2
    one_line(capsys, str(x), "the model's parameters reach 3e+38", "or use float64")
    assert not (tmp_path / "R.npy").exists()


def test_a_deeply_nested_remembered_setting_is_no_memory():
    """The explorer's remembered rule per kind of model (settings key ``other_kinds``, JSON
    text) nested 100,000 deep ended its start in a RecursionError: the window never came up."""
    from lrpgui.session import Session
    from lrpgui.state import AppState

    session = Session(AppState())
    session.restore({"other_kinds": "[" * 100_000, "rule": "alphabeta:2"})
    assert session.other_kinds == {} and session.state.rule == "alphabeta:2"


@pytest.mark.parametrize("damage", ["format of two values", "samples beyond the data",
                                    "float samples"])
def test_a_concepts_cache_entry_of_other_members_is_computed_again(tmp_path, monkeypatch,
                                                                     capsys, damage):
    """A cached RelMax entry with a format member of two values ended 'lrp concepts' in an
    internal TypeError, one whose samples lie beyond the dataset in an internal IndexError:
    both are damaged entries, computed again."""
    from lrpcore import relmax

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.uint8))
    run = ["concepts", "mnist-lenet5", str(x), "--layer", "convolution1", "--top", "1",
           "--references", "2", "--overwrite"]
    assert main([*run, "--out", str(tmp_path / "c1")]) == 0, capsys.readouterr().err
    (entry,) = (tmp_path / "cache" / "relmax").glob("*.npz")
    with np.load(entry) as z:
        members = dict(z)
    if damage == "format of two values":
        members["format"] = np.array([relmax.FORMAT, relmax.FORMAT])
    elif damage == "samples beyond the data":
        members["samples"] = members["samples"] + 1000
    else:
        members["samples"] = members["samples"].astype(np.float64)
    np.savez(entry, **members)
    computed = []
    real = relmax.compute_references
    monkeypatch.setattr(relmax, "compute_references",
                        lambda *a, **kw: computed.append(1) or real(*a, **kw))
    assert main([*run, "--out", str(tmp_path / "c2")]) == 0, capsys.readouterr().err
    assert computed == [1]
    with np.load(entry) as z:  # the damaged entry was replaced by the one computed
        assert z["samples"].max() < 6 and z["format"].shape == ()


def test_a_400_digit_integer_in_a_sidecar_or_header_isone_line(tmp_path, capsys):
    """Python's json reads a 400-digit integer (only beyond 4,300 digits it refuses), and
    math.isfinite of it raised OverflowError: 'lrp info' ended in an internal error for a
    sidecar's accuracy, divide or mean, and for a native header's activation parameter."""
    import shutil

    from lrpcore import save_model
    from lrpcore.bundled import MODELS_DIR
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_activations import Elu
    from lrpcore.layers import Linear

    huge = "9" * 400
    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", tmp_path / "m.npz")
    for field, text in (("'accuracy'", f'{{"accuracy": {{"test": {huge}}}}}'),
                        ("'divide'", f'{{"input": {{"divide": {huge}}}}}'),
                        ("'mean'", f'{{"input": {{"mean": [{huge}], "std": [1]}}}}')):
        (tmp_path / "m.json").write_text(text)
        assert main(["info", str(tmp_path / "m.npz")]) == 2
        one_line(capsys, str(tmp_path / "m.json"), field)
    nodes = [Node("elu", Elu(1.0), ("x",), "e"),
             Node("fc", Linear(np.ones((4, 3)), np.zeros(3)), ("e",), "y")]
    save_model(GraphModel(nodes, "x", "y"), tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as z:
        members = dict(z)
    members["header"] = np.array(str(members["header"]).replace('"alpha": 1.0',
                                                               f'"alpha": {huge}'))
    assert huge in str(members["header"])
    np.savez(tmp_path / "g.npz", **members)
    assert main(["info", str(tmp_path / "g.npz")]) == 2
    one_line(capsys, str(tmp_path / "g.npz"), "'alpha' must be a finite number")


@pytest.mark.parametrize("where", ["fsync", "savez"])
def test_concepts_on_a_full_disk_name_the_output_folder(tmp_path, capsys, monkeypatch, where):
    """On a full disk 'lrp concepts' named its hidden temporary folder
    ('.tmp-lrp-…-concepts/conditional.npy: write failed'), a path the user never sees; the
    references' np.savez failing was blamed on 'cannot give the finished folder its name'."""
    import errno
    import os

    from lrpcore import concepts_export

    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.uint8))
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "fsync":
        monkeypatch.setattr(os, "fsync", full)
    else:
        monkeypatch.setattr(concepts_export.np, "savez", full)
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", str(x), "--layer", "convolution1", "--top", "1",
                 "--references", "2", "--out", str(out)]) == 2
    err = one_line(capsys, str(out), os.strerror(errno.ENOSPC))
    assert ".tmp-" not in err and "its name" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "x.npy"]


def test_a_full_disk_names_the_space_it_lacked(tmp_path, capsys, monkeypatch):
    """The relevance file's space is reserved first; on a full disk 'lrp explain' said
    'cannot reserve 0 MB' for any result under half a megabyte."""
    import errno
    import os

    def full(*_a):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(out)]) == 2
    # two relevance maps of the 32×32 padded input, float64
    one_line(capsys, str(out), f"cannot reserve {2 * 32 * 32 * 8:,} bytes: No space left")
    assert not out.exists()


def test_loading_many_biases_folded_into_one_layer_takes_linear_work(tmp_path, monkeypatch):
    """Each fold into a layer asked whether that layer's output has one reader by summing
    the readers of all its ONNX names, which every folded Add lengthens: one MatMul followed
    by 8,000 Adds of a bias (0.5 MB) took 9 s to load, 100,000 about 20 minutes. Counted here
    as names visited, which grew with the square of the Adds."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    from lrpcore.io import onnx_graph

    visited = [0]

    class Counted(set):
        def __iter__(self):
            for name in set.__iter__(self):
                visited[0] += 1
                yield name

    real = onnx_graph._TensorTable.aliases
    monkeypatch.setattr(onnx_graph._TensorTable, "aliases",
                        lambda self, name: Counted(real(self, name)))
    adds = 2000
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h0"], name="mm")]
    nodes += [helper.make_node("Add", [f"h{i}", "B"], [f"h{i + 1}"], name=f"add{i}")
              for i in range(adds)]
    inits = [numpy_helper.from_array(np.eye(2, dtype=np.float32), "W"),
             numpy_helper.from_array(np.full(2, 0.5, np.float32), "B")]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 2], [1, 2])
    model = onnx_graph.read_onnx_graph(path)
    assert len(model.nodes) == 1  # every Add folded into the MatMul
    np.testing.assert_allclose(model.nodes[0].layer.B, 0.5 * adds)
    assert visited[0] <= 4 * adds, visited[0]


def test_a_second_cluster_run_into_one_store_is_refused_while_the_first_runs(tmp_path,
                                                                            capsys,
                                                                            monkeypatch):
    """Two 'lrp explain x.npy --out R.zarr --workers 1' at once filled one partial store; the
    one finishing first renamed it to R.zarr, and the other's chunks then 'failed:
    FileNotFoundError' (exit 1), leaving R.zarr.partial beside the result. The run now holds
    a lock beside the store from before its cluster starts; a second is refused in one line
    (exit 2), and a run leaves no lock file behind."""
    import fcntl
    import os

    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    from lrpcore import distributed

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 28, 28), np.uint8))
    out = tmp_path / "R.zarr"
    fd = os.open(str(out) + ".lock", os.O_RDWR | os.O_CREAT)  # the first run holds it
    fcntl.flock(fd, fcntl.LOCK_EX)
    started = []
    monkeypatch.setattr(distributed, "connect", lambda *a: started.append(1) or 1 / 0)
    try:
        assert main(["explain", "mnist-lenet5", str(x), "--out", str(out), "--workers",
                     "1"]) == 2
    finally:
        os.close(fd)
    one_line(capsys, str(out), "another lrp explain is writing it")
    assert not started and sorted(p.name for p in tmp_path.iterdir()) == ["R.zarr.lock",
                                                                           "x.npy"]
    (tmp_path / "R.zarr.lock").unlink()
    monkeypatch.undo()
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(out), "--workers", "1"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.zarr", "x.npy"]


def test_concepts_never_replace_a_folder_another_run_finished_without_overwrite(
        tmp_path, capsys, monkeypatch):
    """The output folder is checked before the results are written, but the finished folder
    took its name with 'replace whatever is there': a folder another run of lrp concepts
    finished meanwhile was replaced, exit 0, though --overwrite was not given."""
    from lrpcore import concepts_export

    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.uint8))
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "c"
    real = concepts_export.write_concepts

    def other_run_finishes_first(folder, *args, **kwargs):
        out.mkdir()
        (out / "ranking.csv").write_text("the other run's\n")
        return real(folder, *args, **kwargs)

    monkeypatch.setattr(concepts_export, "write_concepts", other_run_finishes_first)
    assert main(["concepts", "mnist-lenet5", str(x), "--layer", "convolution1", "--top", "1",
                 "--out", str(out)]) == 2
    one_line(capsys, str(out), "nothing was changed")
    assert [p.name for p in out.iterdir()] == ["ranking.csv"]
    assert (out / "ranking.csv").read_text() == "the other run's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "cache", "x.npy"]


def test_trace_shows_onnx_node_names_without_their_escape_sequences(tmp_path, capsys):
    """'lrp info' and the warnings show a node's name printable, 'lrp explain --trace' did not:
    an ONNX node named with ESC [31m (colour), ESC ] 0;… BEL (the terminal's title) and a line
    break reached the terminal as they were, on the node's row and on the merge's branch row."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    evil = "relu\x1b[31m\x1b]0;title\x07\nfake row"
    W = numpy_helper.from_array(np.full((4, 3), 0.1, np.float32), "W")
    nodes = [helper.make_node("Relu", ["x"], ["a"], name=evil),
             helper.make_node("Tanh", ["x"], ["b"], name="tanh"),
             helper.make_node("Add", ["a", "b"], ["p"], name="add"),
             helper.make_node("MatMul", ["p", "W"], ["y"], name="fc")]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, [W], [1, 4], [1, 3])
    x = tmp_path / "x.npy"
    np.save(x, np.full((1, 4), 0.5, np.float32))
    assert main(["explain", str(path), str(x), "--raw", "--trace", "--out",
                 str(tmp_path / "R.npy")]) == 0
    out = capsys.readouterr().out
    assert "relu" in out and not any(c in out for c in "\x1b\x07")
    rows = [line for line in out.splitlines() if "relu" in line]
    assert len(rows) == 2 and all(line.endswith("relu fake row") for line in rows), rows
    assert not any(line.startswith("fake row") for line in out.splitlines())


def test_concepts_name_an_onnx_layer_without_its_escape_sequences(tmp_path, capsys,
                                                                  monkeypatch):
    """'lrp concepts' printed the layer's ONNX node name as it was: a title-setting escape
    sequence and a line break reached the terminal."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rng.randn(3, 1, 3, 3).astype(np.float32), "Wc"),
             numpy_helper.from_array(rng.randn(3 * 6 * 6, 4).astype(np.float32), "Wf")]
    nodes = [helper.make_node("Conv", ["x", "Wc"], ["c"], name="conv\x1b]0;title\x07\nfake"),
             helper.make_node("Relu", ["c"], ["p"], name="relu"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "Wf"], ["y"], name="fc")]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 1, 8, 8], [1, 4])
    x = tmp_path / "x.npy"
    np.save(x, rng.rand(5, 1, 8, 8).astype(np.float32))
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["concepts", str(path), str(x), "--layer", "1", "--top", "1", "--out",
                 str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("layer 1 (conv fake): 3 channels") and len(out.splitlines()) == 1


@pytest.mark.parametrize("labels,problem", [
    (np.array([1, 2, np.nan, 3]), "label 2 is nan"),
    (np.array([1, 2, -3, 3]), "label 2 is negative"),
    (None, "not a .npy file")])
def test_a_broken_label_file_beside_the_images_is_named_not_ignored(tmp_path, capsys, labels,
                                                                    problem):
    """X_labels.npy beside X_images.npy holding a NaN, a negative label or no .npy at all was
    dropped without a word (labels of another count were refused, naming the file): the
    digits counted as unlabelled, and --target true asked for a label file that was there."""
    images = tmp_path / "digits_images.npy"
    np.save(images, np.zeros((4, 28, 28), np.uint8))
    beside = tmp_path / "digits_labels.npy"
    if labels is None:
        beside.write_bytes(b"damaged")
    else:
        np.save(beside, labels)
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(images), "--target", "true", "--out",
                 str(out)]) == 2
    one_line(capsys, str(beside), problem)
    assert not out.exists()


def test_a_checkpoint_whose_epoch_is_infinity_is_still_named_a_checkpoint(tmp_path, capsys):
    """Opening a training checkpoint as a model says what it is, with its epoch when the
    state tells it; a state of "epoch": Infinity (which Python's json reads) ended 'lrp info'
    in an internal OverflowError."""
    path = tmp_path / "run.ckpt.npz"
    np.savez(path, state=np.array('{"epoch": Infinity, "config": {"epochs": 3}}'),
             **{"param.w": np.zeros(2)})
    assert main(["info", str(path)]) == 2
    one_line(capsys, str(path), "a training checkpoint of 'lrp train', not a model")


def test_a_sidecar_resize_no_photograph_can_take_is_refused_naming_the_field(tmp_path,
                                                                            capsys):
    """A sidecar's "resize": 65536 (crop 224) loaded, and then every photograph was refused
    for its 'extreme aspect ratio' ("crop it … first"), blaming the photos for the sidecar."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "K"),
             numpy_helper.from_array(np.full((2 * 4 * 4, 2), 0.1, np.float32), "W")]
    nodes = [helper.make_node("Conv", ["x", "K"], ["c"]),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["y"])]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 3, 4, 4], [1, 2])
    (tmp_path / "m.json").write_text('{"input": {"resize": 65536, "crop": 4}}')
    assert main(["info", str(path)]) == 2
    one_line(capsys, str(tmp_path / "m.json"), "'resize' 65536 would make every photograph")
    (tmp_path / "m.json").write_text('{"input": {"resize": 8000, "crop": 4}}')
    assert main(["info", str(path)]) == 0  # 8000² is 64,000,000 pixels: allowed


def test_a_sidecar_of_a_pytorch_model_that_flattens_its_input_first_is_taken(tmp_path, capsys):
    """A PyTorch MLP on images (N×3×H×W into nn.Flatten) loads as NCHW, but any sidecar with
    "input" was refused: "'layout' NCHW contradicts the model, which takes NHWC input; write
    "layout": "NHWC"" — advice that feeds a colour image's channels scrambled into the
    flatten. The sidecar's mean/std now apply, and images reach the flatten in C, H, W order."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    import lrpcore

    rng = np.random.RandomState(0)
    W = rng.randn(3 * 4 * 5, 2).astype(np.float32)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["y"])]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, [numpy_helper.from_array(W, "W")],
                           [1, 3, 4, 5], [1, 2])
    (tmp_path / "m.json").write_text('{"input": {"mean": [0.5, 0.4, 0.3], '
                                     '"std": [0.2, 0.25, 0.5]}}')
    assert main(["info", str(path)]) == 0, capsys.readouterr().err
    model = lrpcore.load_model(path)
    image = rng.randint(0, 256, (1, 4, 5, 3)).astype(np.uint8)  # H×W×C, as photos come
    chw = ((image / 255 - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.5]).transpose(0, 3, 1, 2)
    want = chw.reshape(1, -1) @ W
    got = lrpcore.Explainer(model, "numpy", "float64").forward(image).outputs()
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_a_dilated_max_pool_may_pad_up_to_its_dilated_window(tmp_path):
    """The pads of a pool must leave a real entry in every window: for a dilated MaxPool (3
    taps 3 apart: a 7-wide window, PyTorch allows padding 3) that is the dilated window,
    not the kernel's 3 taps; padding 7 is refused."""
    pytest.importorskip("onnx")
    from onnx import helper

    def pool(pad):
        node = helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[3, 3],
                                strides=[1, 1], dilations=[3, 3], pads=[pad] * 4)
        side = 9 + 2 * pad - 7 + 1
        head, inits = _gemm_head(2 * side * side)
        return save_onnx_graph(tmp_path / f"p{pad}.onnx", [node, *head], inits,
                               [1, 2, 9, 9], [1, 3])

    assert load_model(pool(3)).n_classes == 3
    with pytest.raises(ModelFormatError, match="must be smaller than the 7×7 dilated window"):
        load_model(pool(7))


def test_an_activation_after_a_long_chain_of_relus_loads_in_linear_work(tmp_path, monkeypatch):
    """An Erf after a chain of Relus made the importer compose element-wise programs back
    through the whole chain (every length, none of them usable beyond MAX_STEPS): 4,000 Relus
    and one Erf (0.3 MB) took 5 s and 1 GB to load, 20,000 about 24 GB. Counted here as the
    program steps composed."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    from lrpcore.graph_elementwise import MAX_STEPS
    from lrpcore.io import onnx_elementwise

    composed = [0]
    real = onnx_elementwise._compose
    monkeypatch.setattr(onnx_elementwise, "_compose",
                        lambda inner, outer: composed.__setitem__(0, composed[0] + len(inner)
                                                                  + len(outer))
                        or real(inner, outer))
    relus = 2000
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"r{i - 1}"], [f"r{i}"])
             for i in range(relus)]
    nodes += [helper.make_node("Erf", [f"r{relus - 1}"], ["e"]),
              helper.make_node("MatMul", ["e", "W"], ["y"])]
    W = numpy_helper.from_array(np.eye(2, dtype=np.float32), "W")
    model = load_model(save_onnx_graph(tmp_path / "m.onnx", nodes, [W], [1, 2], [1, 2]))
    assert len(model.nodes) == relus + 2
    assert composed[0] <= 4 * MAX_STEPS ** 2, composed[0]


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg")])
def test_a_photo_cut_short_is_named_as_damaged_not_as_another_format(tmp_path, capsys, fmt,
                                                                     ext):
    """A photograph cut short (an interrupted copy or download) was reported as 'not a valid
    PNG or JPEG file', though its header says which it is: the user looks for a file of the
    wrong format instead of a damaged one. (Since stop 23 it is left out as the folder opens,
    the others explained, and the warning names it so.)"""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for i in range(2):
        Image.fromarray(rng.randint(0, 255, (28, 28, 3)).astype(np.uint8)).save(
            folder / f"{i}.{ext}", fmt)
    cut = folder / f"1.{ext}"
    data = cut.read_bytes()
    cut.write_bytes(data[:len(data) * 2 // 3])  # its header whole, its pixels cut
    assert main(["explain", "mnist-lenet5", str(folder), "--out", str(tmp_path / "R.npy")]) == 0
    warning = next(line for line in capsys.readouterr().err.splitlines() if "1." in line)
    assert f"1.{ext} (cannot decode the image: its {fmt} data is damaged or cut short)" in warning
    assert np.load(tmp_path / "R.npy").shape[0] == 1
