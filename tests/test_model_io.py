"""Model files: text round trip, native format, .mat refusal, sidecars, load/save dispatch."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile

import numpy as np
import pytest
from conftest import shared_path

import lrpcore
from lrpcore import ExportError, ModelFormatError, load_model, save_model
from lrpcore.io.native import native_bytes, read_native
from lrpcore.io.toolbox_txt import format_toolbox_text, parse_toolbox_text
from lrpcore.layers import Convolution, Flatten, Linear, MaxPool, Rect, SoftMax, SumPool, Tanh
from lrpcore.model import Sequential
from lrpcore.spec import InputSpec


def _awkward_values(rng, shape):
    """Floats whose decimal form is easy to get wrong: -0.0, subnormals, extremes, 1/3."""
    v = rng.standard_normal(int(np.prod(shape)))
    special = [-0.0, 0.0, 5e-324, -2.2250738585072014e-308, 1e308, -1.7976931348623157e308,
               1 / 3, 0.1, 123456789.123456789, -1e-300]
    v[:len(special)] = special[:v.size]
    return v.reshape(shape)


def _all_layers_model(rng):
    layers = [
        Convolution(_awkward_values(rng, (3, 3, 2, 4)), _awkward_values(rng, (4,)), (1, 2)),
        Rect(), SumPool((2, 2), (1, 1)), Tanh(), MaxPool((2, 1), (1, 1)), Flatten(),
        Linear(_awkward_values(rng, (12, 5)), _awkward_values(rng, (5,))), SoftMax(),
    ]
    spec = InputSpec(shape=(7, 5, 2), raw_shape=(7, 5, 2), layout="NHWC", pad=0)
    return Sequential(layers, spec)


def _same_layers(a, b):
    assert [layer.kind for layer in a.layers] == [layer.kind for layer in b.layers]
    for x, y in zip(a.layers, b.layers, strict=True):
        if x.weighted:
            assert x.W.shape == y.W.shape and x.W.tobytes() == y.W.tobytes()
            assert x.B.shape == y.B.shape and x.B.tobytes() == y.B.tobytes()
        for attr in ("stride", "pool"):
            assert getattr(x, attr, None) == getattr(y, attr, None)


# --- toolbox text ----------------------------------------------------------------------------

def test_txt_round_trip_is_bit_exact(tmp_path):
    model = _all_layers_model(np.random.default_rng(1))
    save_model(model, tmp_path / "m.txt")
    back = load_model(tmp_path / "m.txt")
    _same_layers(model, back)
    assert np.signbit(back.layers[0].W.ravel()[0])  # -0.0 stays negative zero


def test_txt_writer_matches_toolbox_layout():
    model = Sequential([Linear(np.array([[1.5, -0.0], [2.0, 3.25]]), np.array([0.1, -0.0])),
                        Tanh(), MaxPool((2, 3), (4, 5))])
    text = format_toolbox_text(model).splitlines()
    assert text[0] == "Linear 2 2"
    assert [float(t) for t in text[1].split()] == [1.5, -0.0, 2.0, 3.25]
    assert text[2].split()[1] == "-0.0"
    assert text[3:] == ["Tanh", "MaxPool 2 3 4 5"]


def test_lenet_txt_rewrites_to_identical_parameters(tmp_path, lenet_txt):
    model = load_model(lenet_txt)
    save_model(model, tmp_path / "copy.txt")
    _same_layers(model, load_model(tmp_path / "copy.txt"))
    lenet_biases = np.concatenate([layer.B for layer in model.layers if layer.weighted])
    assert np.any(np.signbit(lenet_biases) & (lenet_biases == 0))  # the file's -0.000 values


def test_txt_legacy_row_per_line_layout():
    text = "Linear 2 3\n1 2 3\n4 5 6\n0 0 1\nSoftMax\n"
    (lin, soft) = parse_toolbox_text(text)
    np.testing.assert_array_equal(lin.W, [[1, 2, 3], [4, 5, 6]])
    assert soft.kind == "SoftMax"


def test_xor_net_reads(tmp_path):
    model = load_model(shared_path("models", "lrp_toolbox", "xor_net_small.txt"))
    assert [layer.kind for layer in model.layers] == ["Linear", "Tanh", "Linear", "Tanh",
                                                      "Linear", "SoftMax"]
    assert model.shapes((2,))[-1] == (2,)
    # two features are no image: fed as given, not scaled like pixels
    spec = model.input_spec
    assert (spec.divide, spec.offset, spec.raw_shape) == (1.0, 0.0, (2,))
    x = np.array([[0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(lrpcore.predict(model, x), lrpcore.predict(model, x, raw=True))


def test_txt_write_float32(tmp_path):
    model = _all_layers_model(np.random.default_rng(2))
    model.layers[0].W[...] = np.clip(model.layers[0].W, -1e30, 1e30)
    model.layers[0].B[...] = np.clip(model.layers[0].B, -1e30, 1e30)
    model.layers[6].W[...] = np.clip(model.layers[6].W, -1e30, 1e30)
    model.layers[6].B[...] = np.clip(model.layers[6].B, -1e30, 1e30)
    save_model(model, tmp_path / "m.txt", dtype="float32")
    back = load_model(tmp_path / "m.txt")
    np.testing.assert_array_equal(back.layers[6].W, model.layers[6].W.astype(np.float32))


# --- saving: overwrite policy, unknown formats, atomicity --------------------------------------

def test_save_refuses_to_overwrite(tmp_path):
    model = _all_layers_model(np.random.default_rng(3))
    path = tmp_path / "m.npz"
    path.write_bytes(b"precious")
    with pytest.raises(ExportError, match="exists"):
        save_model(model, path)
    assert path.read_bytes() == b"precious"
    save_model(model, path, overwrite=True)
    _same_layers(model, load_model(path))


def test_save_unknown_format_and_missing_folder(tmp_path):
    model = _all_layers_model(np.random.default_rng(4))
    with pytest.raises(ModelFormatError, match=r"\.onnx"):
        save_model(model, tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="does not exist"):
        save_model(model, tmp_path / "no" / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        load_model(tmp_path / "missing.txt")
    with pytest.raises(ModelFormatError, match="folder"):
        load_model(tmp_path)
    (tmp_path / "m.h5").write_bytes(b"x")
    with pytest.raises(ModelFormatError, match=r"m\.h5.*unknown model format"):
        load_model(tmp_path / "m.h5")


# --- native ------------------------------------------------------------------------------------

def test_native_round_trip_with_metadata(tmp_path):
    model = _all_layers_model(np.random.default_rng(5))
    model.meta.update(class_names=list("abcde"), provenance={"trained_by": "test", "epochs": 3},
                      accuracy=0.875, note="kept")
    save_model(model, tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    _same_layers(model, back)
    assert back.meta["class_names"] == list("abcde")
    assert back.meta["provenance"] == {"trained_by": "test", "epochs": 3}
    assert back.meta["accuracy"] == 0.875 and back.meta["note"] == "kept"
    assert back.input_spec == model.input_spec
    header = json.loads(str(np.load(tmp_path / "m.npz")["header"]))
    assert header["layers"][0] == {"type": "Convolution", "filters": [3, 3, 2, 4],
                                   "stride": [1, 2]}
    assert header["input"]["shape"] == list(model.input_spec.shape)


def test_native_lenet_spec_round_trip(tmp_path, lenet_txt):
    model = load_model(lenet_txt)
    save_model(model, tmp_path / "lenet.npz")
    back = load_model(tmp_path / "lenet.npz")
    assert back.input_spec == model.input_spec
    assert back.input_spec.pad == 2 and back.input_spec.raw_shape == (28, 28, 1)
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype(np.uint8)
    np.testing.assert_array_equal(back.forward(back.input_spec.preprocess(x)),
                                  model.forward(model.input_spec.preprocess(x)))


def test_native_float32(tmp_path):
    model = _all_layers_model(np.random.default_rng(6))
    for i in (0, 6):
        model.layers[i].W[...] = np.clip(model.layers[i].W, -1e30, 1e30)
        model.layers[i].B[...] = np.clip(model.layers[i].B, -1e30, 1e30)
    save_model(model, tmp_path / "m.npz", dtype="float32")
    back = load_model(tmp_path / "m.npz")
    assert back.layers[0].W.dtype == np.float32
    np.testing.assert_array_equal(back.layers[6].W, model.layers[6].W.astype(np.float32))
    with pytest.raises(ExportError, match="float32 or float64"):
        save_model(model, tmp_path / "m16.npz", dtype="float16")


def test_native_reads_compressed_files(tmp_path):
    model = _all_layers_model(np.random.default_rng(7))
    path = tmp_path / "c.npz"
    path.write_bytes(native_bytes(model, compress=True))
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    _same_layers(model, read_native(path))


def _rewrite(src, dst, replace=None, drop=()):
    """Copy an .npz, replacing or dropping some arrays (raw .npy bytes or arrays)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            key = item.filename[:-4]
            if key in drop:
                continue
            data = zin.read(item)
            if replace and key in replace:
                value = replace[key]
                if isinstance(value, bytes):
                    data = value
                else:
                    buf = io.BytesIO()
                    np.save(buf, value)
                    data = buf.getvalue()
            zout.writestr(item.filename, data)


@pytest.fixture
def native_file(tmp_path):
    model = Sequential([Linear(np.ones((4, 3)), np.zeros(3)), Rect(), Linear(np.ones((3, 2)),
                                                                             np.zeros(2))])
    path = tmp_path / "good.npz"
    save_model(model, path)
    return path


def _npy_header(shape, dtype="<f8"):
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


@pytest.mark.parametrize("case, message", [
    ({"drop": ["layer2.W"]}, "'layer2.W' is missing"),
    ({"drop": ["header"]}, "no 'header'"),
    ({"replace": {"layer0.W": np.ones((3, 4))}}, r"shape \(3, 4\).*header says \(4, 3\)"),
    ({"replace": {"layer0.B": np.array([0.0, np.nan, 0.0])}}, "NaN"),
    ({"replace": {"layer0.B": np.array([0.0, np.inf, 0.0])}}, "infinite"),
    ({"replace": {"layer0.B": np.zeros(3, dtype=np.int64)}}, "dtype"),
    ({"replace": {"layer0.B": np.array(["a", "b", "c"])}}, "dtype"),
    ({"replace": {"layer0.B": _npy_header((3,)) + b"\x00" * 5}}, "truncated"),
    ({"replace": {"layer0.W": _npy_header((10**6, 10**6))}}, "shape"),
    ({"replace": {"layer0.W": b"\x93NUMPY\x09\x00garbage"}}, "layer0.W"),
    ({"replace": {"layer0.W": b"not an npy file at all"}}, "layer0.W"),
    ({"replace": {"header": np.array("{not json")}}, "not valid JSON"),
    ({"replace": {"header": np.array(["{}", "{}"])}}, "header"),
    ({"replace": {"header": np.array("[" * 100000 + "]" * 100000)}}, "header"),
    ({"replace": {"header": np.zeros(3)}}, "header"),
])
def test_native_damaged_files(tmp_path, native_file, case, message):
    bad = tmp_path / "bad.npz"
    _rewrite(native_file, bad, **case)
    with pytest.raises(ModelFormatError, match=message) as err:
        load_model(bad)
    assert str(bad) in str(err.value)


def _with_header(tmp_path, native_file, edit):
    header = json.loads(str(np.load(native_file)["header"]))
    edit(header)
    bad = tmp_path / "bad.npz"
    _rewrite(native_file, bad, replace={"header": np.array(json.dumps(header))})
    return bad


@pytest.mark.parametrize("edit, message", [
    (lambda h: h.update(format="other"), "format"),
    (lambda h: h.update(version=2), "version"),
    (lambda h: h.update(version=True), "version"),
    (lambda h: h.update(layers=[]), "no layers"),
    (lambda h: h["layers"][0].update(inputs=-4), "positive"),
    (lambda h: h["layers"][0].update(inputs=10**12), "positive"),
    (lambda h: h["layers"][0].update(type="Dense"), "unknown layer type"),
    (lambda h: h["layers"].__setitem__(1, {"type": "SumPool", "pool": [2, 2], "stride": [2, 2]}),
     "image input"),
    (lambda h: h.update(class_names=["a"]), "1 class names for a model with 2 outputs"),
    (lambda h: h.update(class_names="ab"), "class_names"),
    (lambda h: h.update(accuracy="high"), "accuracy"),
    (lambda h: h.update(meta=[1, 2]), "meta"),
    (lambda h: h.update(provenance=3), "provenance"),
    (lambda h: h["input"].update(shape=[5]), r"'shape' \[5\] holds 5"),
    (lambda h: h["input"].update(shape=[2, 2, 1], raw_shape=[2, 2, 1]), "does not fit"),
    (lambda h: h["input"].update(shape="abc"), "shape"),
    (lambda h: h["input"].update(divide=0), "divide"),
    (lambda h: h["input"].update(value_range=[1, -1]), "value_range"),
])
def test_native_bad_headers(tmp_path, native_file, edit, message):
    bad = _with_header(tmp_path, native_file, edit)
    with pytest.raises(ModelFormatError, match=message) as err:
        load_model(bad)
    assert str(bad) in str(err.value)


def test_native_not_a_zip(tmp_path):
    for data in (b"", b"PK\x03\x04broken", np.random.default_rng(0).bytes(500)):
        path = tmp_path / "x.npz"
        path.write_bytes(data)
        with pytest.raises(ModelFormatError, match="x.npz"):
            load_model(path)


def _big_model(rng):
    return Sequential([Linear(rng.standard_normal((2500, 2000)), np.zeros(2000)), Rect(),
                       Linear(rng.standard_normal((2000, 10)), np.zeros(10))])


def test_native_open_5m_parameters(benchmark, tmp_path):
    """Opening a 5 M-parameter model (timed by pytest-benchmark; no timing assertion)."""
    model = _big_model(np.random.default_rng(0))
    assert model.param_count() > 5_000_000
    path = tmp_path / "big.npz"
    save_model(model, path)
    back = benchmark(read_native, path)
    _same_layers(model, back)


# --- MATLAB .mat refusal -------------------------------------------------------------------------

def test_mat_model_refused_with_export_hint(tmp_path):
    header = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan 1 2024".ljust(116)
    path = tmp_path / "lenet.mat"
    path.write_bytes(header + b"\x00" * 8 + b"\x00\x01IM" + b"\x00" * 64)
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    msg = str(err.value)
    assert str(path) in msg and "outside MATLAB" in msg and "model.save('file.txt')" in msg


@pytest.mark.parametrize("data", [b"", b"\x89HDF\r\n\x1a\n" + b"\x00" * 600,
                                  bytes(range(256)) * 3])
def test_mat_other_content_refused(tmp_path, data):
    path = tmp_path / "m.mat"
    path.write_bytes(data)
    with pytest.raises(ModelFormatError, match=r"m\.mat.*\.txt"):
        load_model(path)


# --- sidecars ----------------------------------------------------------------------------------

@pytest.fixture
def lenet_copy(tmp_path, lenet_txt):
    path = tmp_path / "LeNet-5.txt"
    shutil.copyfile(lenet_txt, path)
    return path


def test_sidecar_overrides_spec_and_adds_class_names(lenet_copy):
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    lenet_copy.with_suffix(".json").write_text(json.dumps({
        "input": {"divide": 255.0, "offset": 0.0, "pad_value": 0.0, "value_range": [0, 1]},
        "class_names": names}))
    model = load_model(lenet_copy)
    spec = model.input_spec
    assert (spec.divide, spec.offset, spec.pad_value, spec.value_range) == (255.0, 0.0, 0.0,
                                                                             (0.0, 1.0))
    assert spec.shape == (32, 32, 1) and spec.pad == 2  # kept from the inferred spec
    assert spec.source == "sidecar"
    assert model.class_names == names
    x = np.full((1, 28, 28, 1), 255, dtype=np.uint8)
    fed = spec.preprocess(x)
    assert fed[0, 0, 0, 0] == 0.0 and fed[0, 16, 16, 0] == 1.0
    assert load_model(lenet_copy, sidecar=False).input_spec.divide == 127.5


def test_sidecar_applies_to_every_format(tmp_path, lenet_copy):
    model = load_model(lenet_copy, sidecar=False)
    side = {"input": {"shape": [32, 32, 1], "raw_shape": [32, 32, 1], "pad": 0}}
    for ext in (".npz", ".txt"):
        path = tmp_path / f"other{ext}"
        save_model(model, path)
        path.with_suffix(".json").write_text(json.dumps(side))
        spec = load_model(path).input_spec
        assert spec.raw_shape == (32, 32, 1) and spec.pad == 0


def test_sidecar_for_nn(tmp_path):
    src = shared_path("models", "lrp_toolbox", "LeNet-5.nn")
    path = tmp_path / "LeNet-5.nn"
    shutil.copyfile(src, path)
    path.with_suffix(".json").write_text('{"accuracy": 0.9924, "provenance": "LRP Toolbox"}')
    model = load_model(path)
    assert model.meta["accuracy"] == 0.9924 and model.meta["provenance"] == "LRP Toolbox"


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON.*line 1"),
    ("[1, 2]", "JSON object"),
    ('{"imput": {}}', "unknown sidecar key.*imput"),
    ('{"input": {"shape": [32, 32, 1], "divide": "x"}}', "divide"),
    ('{"input": {"shape": [31, 31, 1], "raw_shape": [31, 31, 1], "pad": 0}}', "does not fit"),
    ('{"input": {"shape": [31, 31, 1], "pad": 0}}', "holds 961"),
    ('{"input": {"shape": [32, 32, 1], "raw_shape": [30, 30, 1], "pad": 2}}', "holds 1024"),
    ('{"input": {"shap": [32, 32, 1]}}', "unknown input field"),
    ('{"input": {"layout": "CHWN"}}', "layout"),
    ('{"input": {"pad": -1}}', "pad"),
    ('{"class_names": ["a", "b"]}', "2 class names for a model with 10 outputs"),
    ('{"class_names": [1, 2]}', "list of strings"),
    ('{"accuracy": 7}', "accuracy"),
    ("\xff\xfe", "UTF-8|JSON"),
])
def test_bad_sidecar_names_the_sidecar(lenet_copy, text, message):
    side = lenet_copy.with_suffix(".json")
    side.write_bytes(text.encode("latin1"))
    with pytest.raises(ModelFormatError, match=message) as err:
        load_model(lenet_copy)
    assert str(side) in str(err.value)


# --- lrp info / lrp convert ---------------------------------------------------------------------

def _lrp(*argv):
    from lrpcore.cli.main import main

    return main([str(a) for a in argv])


def test_cli_info(capsys, lenet_copy):
    lenet_copy.with_suffix(".json").write_text(json.dumps(
        {"class_names": list("abcdefghij"), "accuracy": 0.9924, "provenance": "LRP Toolbox"}))
    assert _lrp("info", lenet_copy) == 0
    out = capsys.readouterr().out
    assert "Convolution 5×5×10×25" in out and "→ 1×1×10" in out
    assert "47,645" in out and "padded by 2" in out
    assert "a, b, c, d, e, f, g, h, i, j" in out
    assert "99.24 %" in out and "LRP Toolbox" in out
    assert _lrp("info", lenet_copy, "--no-sidecar") == 0
    assert "10 outputs, unnamed" in capsys.readouterr().out


def test_cli_info_of_a_bundled_name_names_its_file_and_format(capsys):
    """'lrp info mnist-lenet5' said '(? format)': a name has no extension, its file has."""
    from lrpcore.bundled import default_model_path

    assert _lrp("info", "mnist-lenet5") == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"model: mnist-lenet5 = {default_model_path()} (npz format)"


def test_cli_info_bad_file(capsys, tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("Linear 2 2\n1 2\n")
    assert _lrp("info", path) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "line" in err and len(err.strip().splitlines()) == 1


def test_cli_convert_chain_keeps_everything(capsys, tmp_path):
    src = shared_path("models", "lrp_toolbox", "LeNet-5.nn")
    nn = tmp_path / "LeNet-5.nn"
    shutil.copyfile(src, nn)
    nn.with_suffix(".json").write_text(json.dumps(
        {"input": {"divide": 255.0, "offset": 0.0}, "class_names": list("0123456789")}))
    assert _lrp("convert", nn, tmp_path / "a.npz") == 0
    assert _lrp("convert", tmp_path / "a.npz", tmp_path / "b.txt") == 0
    out = capsys.readouterr().out
    assert "b.json" in out  # metadata went to a sidecar
    original, final = load_model(nn), load_model(tmp_path / "b.txt")
    _same_layers(original, final)
    assert final.input_spec.divide == 255.0 and final.class_names == list("0123456789")
    # existing output: refused without --overwrite, replaced with it
    assert _lrp("convert", nn, tmp_path / "a.npz") == 2
    assert "exists" in capsys.readouterr().err
    assert _lrp("convert", nn, tmp_path / "a.npz", "--overwrite", "--dtype", "float32") == 0
    assert load_model(tmp_path / "a.npz").layers[0].W.dtype == np.float32


def test_cli_convert_refuses_unwritable_formats(capsys, tmp_path, lenet_copy):
    assert _lrp("convert", lenet_copy, tmp_path / "x.onnx") == 2
    assert "choose .npz or .txt" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_cli_convert_of_a_graph_to_toolbox_text_names_the_file_and_node(capsys, tmp_path):
    """A residual ONNX network has layers the toolbox's text cannot hold: one line naming the
    output file, the layer and its node, and the way out (.npz); no file left behind."""
    from shared_data import shared_path

    src = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    assert _lrp("convert", src, tmp_path / "r.txt") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "r.txt:" in err and "(node '" in err and ".npz" in err
    assert not list(tmp_path.iterdir())


def test_toolbox_text_written_on_numpy_2_loads(tmp_path, lenet_txt):
    """The toolbox's writer on numpy ≥ 2 writes every number as np.float64(…): such files
    load to the same weights; other wrappers (code) are still refused, nothing is evaluated."""
    import re

    src = lenet_txt.read_text()
    wrapped = re.sub(r"(-?\d+\.\d+(?:e-?\d+)?)", r"np.float64(\1)", src)
    path = tmp_path / "lenet-np2.txt"
    path.write_text(wrapped)
    a, b = load_model(path), load_model(lenet_txt)
    for la, lb in zip(a.layers, b.layers, strict=True):
        if hasattr(la, "W"):
            np.testing.assert_array_equal(la.W, lb.W)
            np.testing.assert_array_equal(la.B, lb.B)
    evil = tmp_path / "evil.txt"
    evil.write_text(wrapped.replace("np.float64(", "__import__(", 1))
    with pytest.raises(ModelFormatError, match="is not a number"):
        load_model(evil)


def test_save_model_over_a_file_says_how_to_replace_it_in_either_interface(tmp_path):
    """Two `lrp convert` runs to one output: the loser, past the command's own check, said
    '(use overwrite …)', the option's name without its dashes (hostile twelfth, noticed)."""
    import pytest

    import lrpcore
    from lrpcore.errors import ExportError

    out = tmp_path / "m.npz"
    out.write_bytes(b"taken")
    with pytest.raises(ExportError, match=r"overwrite=True, or --overwrite"):
        lrpcore.save_model(lrpcore.load_model("mnist-lenet5"), out)
    assert out.read_bytes() == b"taken"
