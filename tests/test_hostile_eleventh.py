"""Found by the eleventh hostile review (signalling NaNs, ONNX attributes of the wrong type,
...): each test writes the input it needs and failed before the fix it guards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hostile_files import one_line, save_digits

from lrpcore.cli.main import main

# a float32 NaN with the quiet bit clear: any cast or rounding of it raises numpy's "invalid
# value" warning, printed on stderr before the command's own one-line refusal
SIGNALLING_NAN = np.array([0x7FA00000], np.uint32).view(np.float32)[0]


def _run_warnings_as_errors(argv):
    """The command's exit status with numpy's RuntimeWarnings raised (pytest records warnings
    instead of printing them, so a stray one is seen only this way: as an internal error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return main(argv)


@pytest.mark.parametrize("where", ["samples", "raw samples", "labels"])
def test_a_signalling_nan_is_refused_without_numpy_warnings(tmp_path, capsys, where):
    """A float32 file holding a signalling NaN (random bytes, a damaged file) printed
    'RuntimeWarning: invalid value encountered in cast' (or 'in rint', for labels) over two
    lines before the refusal: the cast to float64 and the rounding of labels ran before the
    finiteness check."""
    x = tmp_path / "x.npy"
    if where == "labels":
        save_digits(x)
        labels = np.arange(3, dtype=np.float32)
        labels[0] = SIGNALLING_NAN
        np.save(tmp_path / "y.npy", labels)
        args = ["--labels", str(tmp_path / "y.npy"), "--target", "true"]
        expected = "label 0 is nan"
    else:
        raw = where == "raw samples"
        a = np.zeros((3, 32, 32, 1) if raw else (3, 28, 28), np.float32)
        a[(0, 5, 5, 0) if raw else (0, 5, 5)] = SIGNALLING_NAN
        np.save(x, a)
        args = ["--raw"] if raw else []
        expected = "NaN or infinite"
    out = tmp_path / "r.npy"
    assert _run_warnings_as_errors(["explain", "mnist-lenet5", str(x), "--out", str(out),
                                    *args]) == 2
    one_line(capsys, "x", expected)
    assert not out.exists()


def test_an_onnx_weight_holding_a_signalling_nan_is_refused_without_warnings(tmp_path, capsys):
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    W = np.ones((4, 3), np.float32)
    W[1, 1] = SIGNALLING_NAN
    model = save_onnx_graph(tmp_path / "m.onnx",
                            [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)],
                            [numpy_helper.from_array(W, "W")], [1, 3], [1, 4])
    assert _run_warnings_as_errors(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "'W' contains NaN or infinite values")


@pytest.mark.parametrize("op", ["Constant", "ConstantOfShape"])
@pytest.mark.parametrize("value", [3, b"text", [1, 2]])
def test_an_onnx_constant_value_that_is_no_tensor_is_refused_in_one_line(tmp_path, capsys, op,
                                                                         value):
    """A Constant (or ConstantOfShape) whose 'value' attribute is an int, a string or a list
    instead of a tensor was 'internal error: AttributeError: 'int' object has no attribute
    'name'' (found by fuzzing ONNX graphs)."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    ins = [] if op == "Constant" else ["s"]
    node = helper.make_node(op, ins, ["c"], name="the_constant")
    node.attribute.append(helper.make_attribute("value", value))
    inits = [numpy_helper.from_array(np.array([4], np.int64), "s")]
    nodes = [node, helper.make_node("Add", ["x", "c"], ["y"])]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 4], [1, 4])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "the_constant", "'value' must be a tensor")


@pytest.mark.parametrize("command", [["figure"], ["render", "--colormap", "gray-red2"]])
def test_relevance_beyond_1e154_is_drawn_in_gray_red2_without_overflow(tmp_path, capsys,
                                                                       command):
    """gray-red2 cuts values above 10·var(R); the variance of a map reaching 1e300 (a damaged
    R.npy, found by fuzzing) overflowed, and 'lrp figure' (which draws gray-red2 among its
    colormaps) printed 'RuntimeWarning: overflow encountered in square'. The variance is
    then infinite and nothing is cut."""
    R = np.random.RandomState(0).rand(2, 28, 28, 1)
    R[0, 3, 3, 0] = 1e300
    np.save(tmp_path / "R.npy", R)
    out = tmp_path / "h.png"
    assert _run_warnings_as_errors([command[0], str(tmp_path / "R.npy"), "--out", str(out),
                                    *command[1:]]) == 0, capsys.readouterr().err
    assert out.exists()


@pytest.mark.parametrize("command", [
    ["explain", "{m}", "{x}", "--raw", "--out", "{out}.zarr"],  # a cluster's store
    ["demo", "--model", "{m}", "--dataset", "{x}", "--out", "{out}"],
    ["bench", "--models", "{m}", "--quick"],
])
def test_a_model_whose_output_is_a_map_is_refused_naming_the_model(tmp_path, capsys, command):
    """A feature extractor (an ONNX backbone) was refused in a message naming no file
    ('lrp sweep: error: the model's output is a 6×6×4 map per sample, …', lrp bench too; lrp
    evaluate's named the samples): the refusal came from the first batch.
    io.models.load_classifier refuses it when it is loaded, naming the model file. lrp explain
    to an .npy file, lrp concepts and lrp spray explain a map's pixels; lrp evaluate, sweep and
    sanity say why they cannot (test_segmentation_commands.py)."""
    pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor  # noqa: PLC0415

    model = save_feature_extractor(tmp_path / "backbone.onnx", 8)
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(4, 1, 8, 8).astype(np.float32))
    np.save(tmp_path / "x_labels.npy", np.array([0, 1, 0, 1]))
    out = tmp_path / "out"
    assert main([a.format(m=model, x=x, out=out) for a in command]) == 2
    one_line(capsys, f"{model}: the model's output is a 6×6×4 map per sample (4 class scores "
             "per pixel, the last axis), not a vector of class scores, which this command "
             "needs (lrp explain with --out R.npy, lrp concepts, lrp spray and the explorer "
             "explain a segmentation model's pixels)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backbone.onnx", "x.npy",
                                                            "x_labels.npy"]


@pytest.mark.parametrize("mirror", ["http://[::1", "https://[example.org/mnist/",
                                    "http://127.0.0.1:99999/", "http://example.org:port/"])
@pytest.mark.parametrize("given", ["--mirror", "LRP_MNIST_MIRROR"])
def test_a_mirror_url_that_does_not_parse_is_refused_before_any_request(tmp_path, capsys,
                                                                        monkeypatch, mirror,
                                                                        given):
    """LRP_MNIST_MIRROR=http://[::1 (an IPv6 address not closed) ended lrp data download in
    'internal error: ValueError: Invalid IPv6 URL'; a port beyond 65535 was tried and 'broke
    off (Failed to parse: …)'. Both are no mirror address, said before any request."""
    import lrpcore.io.download as download

    def no_request(*_a, **_k):
        raise AssertionError("a request was made")

    monkeypatch.setattr(download, "_fetch_one", no_request)
    args = ["data", "download", "--kind", "test", "--quiet", "--cache-dir", str(tmp_path)]
    if given == "--mirror":
        args += ["--mirror", mirror]
    else:
        monkeypatch.setenv("LRP_MNIST_MIRROR", mirror)
    assert main(args) == 2
    one_line(capsys, f"{given}: {mirror!r} is not a mirror address")


@pytest.mark.parametrize("output", ["link/m.npz", "bundled"])
def test_convert_refuses_writing_over_its_input_reached_another_way(tmp_path, capsys,
                                                                    monkeypatch, output):
    """lrp convert m.npz link/m.npz --dtype float32 --overwrite, 'link' a link to the folder
    itself, converted the model over itself (the check compared the paths as written) and
    its float64 weights were gone; so did a bundled model named by its name, written to its
    file."""
    import shutil  # noqa: PLC0415

    from lrpcore import bundled  # noqa: PLC0415

    m = tmp_path / "m.npz"
    shutil.copy(bundled.MODELS_DIR / "mnist-dense-rect.npz", m)
    (tmp_path / "link").symlink_to(".")
    source = str(m)
    if output == "bundled":
        monkeypatch.setattr(bundled, "MODELS_DIR", tmp_path)
        source = "m"
    else:
        m = tmp_path / output
    before = m.read_bytes()
    assert main(["convert", source, str(m), "--dtype", "float32", "--overwrite"]) == 2
    one_line(capsys, "input and output are the same file")
    assert m.read_bytes() == before


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e300])
def test_spray_of_a_store_holding_relevance_that_is_not_finite_is_refused(tmp_path, value):
    """SpRAy over a damaged relevance store (a bit flipped in a chunk, found by fuzzing
    stores): a NaN reached scikit-learn ('internal error: ValueError: Input X contains NaN')
    and 1e300 in a float64 store printed numpy's 'overflow encountered in cast' on the way to
    float32. The store's maps are checked; the refusal names the store and the sample."""
    pytest.importorskip("zarr")
    from lrpcore.distributed import prepare_store  # noqa: PLC0415
    from lrpcore.errors import DatasetError  # noqa: PLC0415
    from lrpcore.io.relevance_store import open_relevance_store  # noqa: PLC0415
    from lrpcore.spray import spray_precomputed  # noqa: PLC0415

    key = {"n": 6, "chunk": 6, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float64", "model_sha256": "0" * 64}
    out = tmp_path / "R.zarr"
    g = prepare_store(out, key, (6, 28, 28, 1), 10, "float64", {"model": "m.npz"}, False)
    R = np.random.RandomState(0).rand(6, 28, 28, 1)
    R[4, 3, 3, 0] = value
    g["relevance"][:] = R
    g["done"][:] = 1
    store = open_relevance_store(out)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DatasetError, match="relevance of sample 4 holds NaN") as exc:
            spray_precomputed(store, labels=np.zeros(6, np.int64), cls=0, embed=None)
    assert str(out) in str(exc.value)


@pytest.mark.parametrize("perm", [1.5, "0312", 7])
def test_a_first_transpose_whose_perm_is_no_list_is_refused_in_one_line(tmp_path, capsys,
                                                                       perm):
    """The importer looks at the Transpose that reads an image input (a Keras export's NHWC to
    NCHW) before any node is read: a 'perm' of another type ended lrp info in 'internal error:
    TypeError: 'float' object is not iterable' (found by fuzzing ONNX graphs); the Transpose
    itself refuses it, naming the file and the node."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415
    from onnx import helper  # noqa: PLC0415

    node = helper.make_node("Transpose", ["x"], ["y"], name="to_nchw")
    node.attribute.append(helper.make_attribute("perm", perm))
    model = save_onnx_graph(tmp_path / "m.onnx", [node], [], [1, 8, 8, 3], [1, 3, 8, 8])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "to_nchw")


@pytest.mark.parametrize("array", ["param.0.W", "opt.m.0.W"])
def test_resuming_a_checkpoint_beyond_the_runs_dtype_is_refused(tmp_path, capsys, array):
    """lrp train --dtype float32 --resume of a checkpoint holding 1e300 (float64: finite, so
    the reader took it) cast it to inf with numpy's overflow warning, trained on, and wrote a
    model and a checkpoint no reader opens ('layer0.W contains NaN or infinite values')."""
    x, y = save_digits(tmp_path / "x.npy", 20), tmp_path / "y.npy"
    np.save(y, np.arange(20) % 10)
    train = ["train", "--arch", "short-rect", "--dataset", str(x), "--labels", str(y),
             "--dtype", "float32", "--optimizer", "adam"]
    assert main([*train, "--epochs", "1", "--out", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    arrays = dict(np.load(tmp_path / "m.ckpt.npz"))
    arrays[array] = arrays[array].astype(np.float64)
    arrays[array][0, 0] = 1e300
    np.savez(tmp_path / "big.ckpt.npz", **arrays)
    out = tmp_path / "resumed.npz"
    assert _run_warnings_as_errors([*train, "--epochs", "2", "--out", str(out), "--resume",
                                    str(tmp_path / "big.ckpt.npz")]) == 2
    one_line(capsys, "big.ckpt.npz", "1e+300, beyond float32")
    assert not out.exists() and not (tmp_path / "resumed.ckpt.npz").exists()


@pytest.mark.parametrize("command", ["explain", "evaluate", "sanity"])
def test_relevance_overflowing_from_a_huge_weight_blames_the_model(tmp_path, capsys, command):
    """A float64 model file with a weight of 1e300 where the input is 0 gives finite outputs
    in float32, but its relevance overflows: --dtype float32 blamed 'a division by zero (e.g.
    epsilon:0 …); choose a rule with a stabiliser > 0' for the rule 'simple', which has
    none. The parameters are named, as when the outputs overflow (lrp bench said so)."""
    import lrpcore  # noqa: PLC0415
    from lrpcore.io.models import save_model  # noqa: PLC0415

    model = lrpcore.load_model("mnist-dense-rect")
    model.layers[0].W = model.layers[0].W.astype(np.float64)
    model.layers[0].W[0, 0] = 1e300  # pixel 0 of a digit is 0: the outputs stay finite
    save_model(model, tmp_path / "m.npz", dtype="float64")
    x = np.zeros((4, 28, 28), np.uint8)
    x[:, 10:18, 10:18] = 200
    np.save(tmp_path / "x.npy", x)
    args = {"explain": ["--out", str(tmp_path / "r.npy")], "evaluate": ["--steps", "2"],
            "sanity": []}[command]
    assert main([command, str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--rule", "simple",
                 "--dtype", "float32", *args]) == 2
    one_line(capsys, "parameters reach 1e+300, too large for float32")


@pytest.mark.parametrize("command", [
    ["sweep", "mnist-lenet5", "{x}", "--rule", "epsilon", "--steps", "2", "--quiet"],
    ["sanity", "mnist-lenet5", "{x}", "--quiet"],
    ["spray", "mnist-lenet5", "{x}", "--embedding", "none", "--out", "{out}.npz"],
    ["demo", "--dataset", "{x}", "--out", "{out}"],
])
def test_samples_of_another_shape_are_refused_naming_their_file(tmp_path, capsys, command):
    """20×20 digits for LeNet-5 (28×28) were refused by lrp sweep, sanity, spray and demo as
    'samples of shape (20, 20, 1) do not fit the model, …', naming no file (lrp explain and
    evaluate named it): the refusal came from the first batch. common.check_samples_fit
    checks the first sample before any work, for them and lrp evaluate."""
    x = tmp_path / "small.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (6, 20, 20)).astype(np.uint8))
    out = tmp_path / "out"
    assert main([a.format(x=x, out=out) for a in command]) == 2
    one_line(capsys, f"{x}: samples of shape 20×20")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.npy"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_raw_samples_near_1e300_are_refused_or_explained_without_warnings(tmp_path, capsys,
                                                                          dtype):
    """--raw float64 samples of 1e300: in float32 the cast printed numpy's 'overflow
    encountered in cast', then blamed NaN or infinite input; in float64 the explanation
    finished and the conservation check printed 'overflow encountered in multiply'."""
    x = np.zeros((3, 32, 32, 1))
    x[:, 5:20, 5:20, 0] = 1e300
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "r.npy"
    status = _run_warnings_as_errors(["explain", "mnist-lenet5", str(tmp_path / "x.npy"),
                                      "--raw", "--dtype", dtype, "--out", str(out)])
    if dtype == "float32":
        assert status == 2
        one_line(capsys, "x.npy", "samples reach 1e+300, beyond float32; use --dtype float64")
        assert not out.exists()
    else:
        assert status == 0, capsys.readouterr().err
        assert out.exists()


@pytest.mark.parametrize("damage", ["done chunk", "no relevance", "relevance dtype"])
def test_a_damaged_store_is_refused_when_a_run_resumes_it(tmp_path, damage):
    """lrp explain --out R.zarr resumes R.zarr.partial when its run key matches: a damaged
    'done' chunk ended the run in 'internal error: RuntimeError: Zstd decompression error',
    and a store whose relevance array was removed or edited (int8) was resumed ('4 of 4
    chunks already done') and renamed into an R.zarr no reader opens. It is checked as the
    readers check a store, and against this run's arrays."""
    pytest.importorskip("zarr")
    import json  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    from lrpcore.distributed import prepare_store  # noqa: PLC0415
    from lrpcore.errors import DatasetError  # noqa: PLC0415

    key = {"n": 4, "chunk": 2, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float32", "model_sha256": "0" * 64}
    work = tmp_path / "R.zarr.partial"
    args = (key, (4, 28, 28, 1), 10, "float32", {"model": "m.npz"}, False)
    g = prepare_store(work, *args)
    g["done"][:] = 1
    if damage == "done chunk":
        chunks = [p for p in (work / "done").rglob("*") if p.is_file() and p.name != "zarr.json"]
        chunks[0].write_bytes(b"\x28\xb5\x2f\xfd garbage")
    elif damage == "no relevance":
        shutil.rmtree(work / "relevance")
    else:
        meta = json.loads((work / "relevance" / "zarr.json").read_text())
        meta["data_type"] = "int8"
        (work / "relevance" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="R.zarr.partial: .*(damaged|not a relevance store)"):
        prepare_store(work, *args)


@pytest.mark.parametrize("flag", ["--side-by-side", "--outline"])
def test_inputs_near_the_float64_limit_are_drawn_without_overflow(tmp_path, capsys, flag):
    """lrp render --input of samples spanning ±1.7e308 scaled them to [0, 1] by (x − lo) /
    (hi − lo), which overflowed: numpy's warnings, then 'input contains NaN or infinite
    values' for a finite input. spec.span_fraction (on halves) is the one such scaling of
    the command line and the explorer's thumbnails."""
    x = np.zeros((2, 28, 28))
    x[:, 5:20, 5:20] = 1.7e308
    x[:, 0, 0] = -1.7e308
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "R.npy", np.random.RandomState(0).rand(2, 28, 28, 1))
    out = tmp_path / "h.png"
    assert _run_warnings_as_errors(["render", str(tmp_path / "R.npy"), "--input",
                                    str(tmp_path / "x.npy"), "--out", str(out), flag]) == 0, \
        capsys.readouterr().err
    assert out.exists()


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])
def test_a_full_cache_folder_is_named_and_no_other_mirror_is_tried(tmp_path, capsys,
                                                                   monkeypatch, code):
    """A download into a full (or read-only) cache folder was 'could not download
    t10k-images-idx3-ubyte.gz: http://…: [Errno 28] No space left on device (set another
    mirror …)' after trying every mirror: the folder is the problem, not the mirror."""
    import errno  # noqa: PLC0415
    import os  # noqa: PLC0415

    import lrpcore.io.download as download  # noqa: PLC0415

    tried = []

    def full(pooch, url, *args):
        tried.append(url)
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(download, "_retrieve", full)
    monkeypatch.setenv("LRP_MNIST_MIRROR", "http://a.example/ http://b.example/")
    assert main(["data", "download", "--kind", "test", "--quiet", "--cache-dir",
                 str(tmp_path)]) == 2
    one_line(capsys, f"{tmp_path}: cannot store ", os.strerror(getattr(errno, code)),
             "LRP_CACHE_DIR")
    assert len(tried) == 1


def test_a_castlike_without_its_second_input_is_refused_in_one_line(tmp_path, capsys):
    """A constant CastLike whose second input (the tensor whose type it takes) is left empty
    folded into a constant of Python objects, which reached a convolution's bias: 'internal
    error: TypeError: ufunc 'isfinite' not supported for the input types' (found by fuzzing
    ONNX graphs)."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    inits = [numpy_helper.from_array(np.ones((4, 3), np.float32), "W"),
             numpy_helper.from_array(np.ones(4, np.float32), "b")]
    nodes = [helper.make_node("CastLike", ["b", ""], ["b_cast"], name="cast_bias"),
             helper.make_node("Gemm", ["x", "W", "b_cast"], ["y"], transB=1)]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 3], [1, 4])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "cast_bias", "CastLike without its second input")


def test_a_fold_into_a_constant_of_objects_names_the_folded_node(tmp_path, capsys):
    """A Concat of a constant and an input left empty folded into an array holding None,
    refused only by the Gemm that took it as its bias ('malformed (TypeError: unsupported
    operand type(s) for *: 'float' and 'NoneType')'): the folded node is named."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    inits = [numpy_helper.from_array(np.ones((4, 3), np.float32), "W"),
             numpy_helper.from_array(np.ones(3, np.float32), "b")]
    nodes = [helper.make_node("Concat", ["b", ""], ["b4"], name="join_bias", axis=0),
             helper.make_node("Gemm", ["x", "W", "b4"], ["y"], transB=1)]
    model = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 3], [1, 4])
    assert main(["info", str(model)]) == 2
    one_line(capsys, "m.onnx", "join_bias", "not numbers (an input left empty?)")
