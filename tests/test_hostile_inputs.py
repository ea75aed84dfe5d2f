"""Hostile inputs found by the second hostile review (arrays, ONNX graphs): each ends in one
line naming the file (exit 2) or is explained, never an internal error or an allocation of
what a header merely claims."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _npy(path, shape, payload=bytes(100)):
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload)
    return path


@pytest.mark.parametrize("shape, words", [((2 ** 40, 784), "claims shape 1099511627776×784"),
                                          ((-1, 784), "negative size")])
@pytest.mark.parametrize("command", ["render", "explain"])
def test_a_npy_header_is_checked_against_the_file_before_loading(tmp_path, capsys, shape,
                                                                 words, command):
    # 100 bytes claiming 3 PiB: "out of memory" without the file's name; a negative size:
    # an internal error (OverflowError from mmap)
    path = _npy(tmp_path / "claims.npy", shape)
    out = tmp_path / ("x.png" if command == "render" else "r.npy")
    argv = ([command, str(path), "--out", str(out)] if command == "render"
            else [command, "mnist-lenet5", str(path), "--out", str(out)])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and words in err[0], err
    assert not out.exists()


def test_an_onnx_graph_without_an_output_is_refused_in_one_line(tmp_path, capsys):
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 4])], [])
    path = tmp_path / "no_output.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "declares no output" in err and str(path) in err


def test_a_long_chain_of_recomputed_layers_is_explained(tmp_path):
    # 1,500 ReLUs in a row: each output was recomputed from the one before, recursively
    # (RecursionError, and quadratic time for the 100,000 nodes a graph may have)
    n = 1500
    nodes = [helper.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}"], name=f"n{i}")
             for i in range(n)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, 8])], [helper.make_tensor_value_info(
            f"t{n}", TensorProto.FLOAT, [1, 8])])
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    x = tmp_path / "x.npy"
    np.save(x, np.linspace(0.1, 1, 16, dtype=np.float32).reshape(2, 8))
    out = tmp_path / "r.npy"
    assert main(["explain", str(path), str(x), "--raw", "--out", str(out)]) == 0
    assert np.load(out).shape == (2, 8)


def test_a_file_of_another_format_named_png_is_never_decoded(tmp_path, monkeypatch):
    # Pillow opens by content: an EPS named photo.png went to Ghostscript (a PostScript
    # interpreter) on load, on every machine that has it installed
    from PIL import EpsImagePlugin, Image

    from lrpcore import DatasetError
    from lrpcore.io.image_folder import read_image

    ran = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    eps = tmp_path / "photo.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    gif = tmp_path / "other.png"
    Image.new("RGB", (8, 8), "red").save(gif, format="GIF")
    for path, kind in ((eps, "EPS"), (gif, "GIF")):
        with pytest.raises(DatasetError, match=f"not a valid PNG or JPEG file \\(it holds {kind}"):
            read_image(str(path))
    assert ran == []


def test_an_extreme_aspect_ratio_is_refused_before_resizing(tmp_path, monkeypatch):
    # a 1×60,000,000 strip (60 MP, allowed) resized to 256 on its shorter side asked for
    # 256×15,360,000,000 pixels: an internal OverflowError, or gigabytes before failing
    from lrpcore import DatasetError
    from lrpcore.io import image_folder

    monkeypatch.setattr(image_folder, "MAX_PIXELS", 100_000)
    strip = np.zeros((1, 2000, 3), np.uint8)
    with pytest.raises(DatasetError, match="would be 256×512000"):
        image_folder.resize_crop(strip, 256, 224)
    assert image_folder.resize_crop(np.zeros((300, 400, 3), np.uint8), 256, 224).shape == \
        (224, 224, 3)


def test_a_sidecar_with_a_5000_digit_integer_is_one_line(tmp_path):
    from lrpcore import ModelFormatError
    from lrpcore.io.sidecar import read_sidecar

    path = tmp_path / "m.json"
    path.write_text('{"input": {"pad": ' + "9" * 5000 + "}}")
    with pytest.raises(ModelFormatError, match="m.json: sidecar is not usable JSON"):
        read_sidecar(path)  # was an internal ValueError (Python's int digit limit)


@pytest.mark.parametrize("fields, key", [({"std": [1e-300], "mean": [0.0]}, "std"),
                                         ({"std": [1.0], "mean": [1e300]}, "mean"),
                                         ({"offset": 1e308}, "offset"),
                                         ({"pad_value": -1e200}, "pad_value"),
                                         ({"value_range": [-1e308, 1e308]}, "value_range"),
                                         ({"raw_range": [0, 1e40]}, "raw_range")])
def test_sidecar_scales_beyond_float32_are_refused_naming_the_field(fields, key):
    # std 1e-300 and offset 1e308 overflowed the float32 engine, which then blamed the input
    # for NaN; value_range ±1e308 made zB blame the rule
    from lrpcore import ModelFormatError
    from lrpcore.io.spec_json import spec_from_json

    with pytest.raises(ModelFormatError, match=f"m.json: input '{key}' holds"):
        spec_from_json({"shape": [4], **fields}, "m.json")
    assert spec_from_json({"shape": [4], "std": [0.229], "mean": [0.485]}, "m.json").std


def test_a_crafted_spray_result_is_refused_before_the_window_counts_its_clusters(tmp_path):
    # clusters [0, 0, 1, 10¹²]: the window asked for 10¹² cluster sizes and prototypes
    import json

    from lrpcore import DatasetError
    from lrpcore.spray import FORMAT, SprayResult

    n = 4
    good = dict(format=FORMAT, indices=np.arange(n), labels=np.zeros(n, np.int64),
                heatmaps=np.zeros((n, 8, 8), np.float32), features=np.zeros((n, 64), np.float32),
                clusters=np.array([0, 0, 1, 1]), eigenvalues=np.zeros(3),
                embedding=np.zeros((n, 2)), meta=json.dumps({"class": 3}))
    np.savez(tmp_path / "good.npz", **good)
    assert SprayResult.load(tmp_path / "good.npz").k == 2
    for name, change in [("clusters", np.array([0, 0, 1, 10 ** 12])),
                         ("heatmaps", np.full((n, 8, 8), np.nan, np.float32)),
                         ("embedding", np.zeros((n, 3))), ("meta", json.dumps([1])),
                         ("format", np.array([FORMAT, FORMAT]))]:
        np.savez(tmp_path / "bad.npz", **{**good, name: change})
        with pytest.raises(DatasetError, match="bad.npz"):
            SprayResult.load(tmp_path / "bad.npz")


def test_samples_beyond_float32_are_named_not_cast_to_infinity(tmp_path, capsys):
    # 1e300 in a float64 input with --dtype float32: numpy's overflow warning, then "input
    # contains NaN or infinite values" as if the file held them
    x = tmp_path / "x.npy"
    np.save(x, np.full((2, 784), 1e300))
    out = tmp_path / "r.npy"
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(out), "--dtype", "float32"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(x) in err[0] and "beyond float32" in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("body", ["1 " * 2_000_000, "1\n" * 2_000_000])
def test_a_toolbox_text_file_is_parsed_in_memory_of_its_claims(body):
    # 4 MB of words or lines held ~25× the file as lists of lines and words (a 60 MB file
    # took 3.9 GB); now a line is split only as far as the layer needs
    import tracemalloc

    from lrpcore import ModelFormatError
    from lrpcore.io.toolbox_txt import parse_toolbox_text

    text = "Linear 10 10\n" + body + "0\n"
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match="line 2:|line 112:"):
            parse_toolbox_text(text, "m.txt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


@pytest.mark.parametrize("where", ["input", "store"])
def test_a_zarr_codec_that_unpickles_chunks_is_refused_before_reading(tmp_path, capsys, where):
    # numcodecs' Pickle codec runs pickle.loads on every chunk it decodes: zarr 3.1 refuses
    # it, earlier zarr 3 releases did not; refused from the metadata, nothing is read
    import json

    pytest.importorskip("zarr")
    marker = tmp_path / "ran"
    array = tmp_path / ("in.zarr" if where == "input" else "R.zarr/relevance")
    array.mkdir(parents=True)
    (array / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [1, 784], "chunks": [1, 784], "dtype": "<f8",
        "compressor": None, "filters": [{"id": "pickle", "protocol": 4}], "fill_value": 0,
        "order": "C"}))
    (array / "0.0").write_bytes(b"\x80\x04cos\nsystem\n(V touch " + str(marker).encode()
                                + b"\ntR.")
    if where == "input":
        argv = ["explain", "mnist-lenet5", str(array), "--out", str(tmp_path / "R2.zarr")]
    else:
        argv = ["render", str(tmp_path / "R.zarr"), "--out", str(tmp_path / "h.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would unpickle every chunk" in err[0], err
    assert not marker.exists()
