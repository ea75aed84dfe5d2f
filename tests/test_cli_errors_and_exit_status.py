"""Acceptance regressions for the headless contracts: every failure of the `lrp` commands is a
one-line error with exit status 2 (or 130 on Ctrl-C) and leaves no output file behind.

The model is a small random dense network built here, so these tests need nothing from
../shared.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile

import numpy as np
import pytest
from tiny_models import dense_digit_model

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import ShapeError
from lrpcore.model import Sequential
from lrpcore.render import heatmap


@pytest.fixture()
def work(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    lrpcore.save_model(dense_digit_model(rng), tmp_path / "m.npz")
    x = rng.integers(0, 256, size=(6, 784), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "labels.npy", (np.arange(6) % 10).astype(np.float64)[:, None])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lrp(*args, capsys):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # an option argparse refuses (e.g. --scaling 0)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def files_in(folder):
    return sorted(p.name for p in folder.rglob("*"))


def assert_one_line_error(code, err, *words):
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err


# --- lrp explain --png: bad options fail before computing, without leftovers -----------------
def test_png_folder_that_is_a_file_is_a_user_error(work, capsys):
    (work / "taken").write_text("")
    before = files_in(work)
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--png", "taken",
                       capsys=capsys)
    assert_one_line_error(code, err, "taken", "not a folder")
    assert files_in(work) == before


@pytest.mark.parametrize("name", ["heat.png", "Heat.JPG"])
def test_png_named_like_a_picture_file_is_refused_as_no_folder(work, capsys, name):
    # "--png cat.png" made a folder cat.png/ with heatmap_0_bwr.png in it
    before = files_in(work)
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--png", name,
                       capsys=capsys)
    assert_one_line_error(code, err, name, "names a folder", "--png heatmaps/")
    assert files_in(work) == before
    os.mkdir(work / name)  # a folder of that name the user made stays usable
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--png", name,
                       capsys=capsys)
    assert code == 0 and any(p.suffix == ".png" for p in (work / name).iterdir())


@pytest.mark.parametrize("extra, words", [
    (["--colormap", "no-such-map"], ["no-such-map"]),
    (["--scaling", "100000"], ["scaling 100000"]),
    (["--scaling", "0"], ["scaling"]),
])
def test_bad_png_options_leave_no_folder_and_no_relevance(work, capsys, extra, words):
    before = files_in(work)
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--png", "pngs", *extra,
                       capsys=capsys)
    assert_one_line_error(code, err, *words)
    assert files_in(work) == before


def test_ctrl_c_inside_the_png_export_leaves_nothing(work, capsys, monkeypatch):
    import lrpcore.export as export

    real, calls = export.encode_png, []

    def interrupted(image):
        calls.append(1)
        if len(calls) == 4:  # a few PNGs are on disk by now
            raise KeyboardInterrupt
        return real(image)

    monkeypatch.setattr(export, "encode_png", interrupted)
    before = files_in(work)
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--outputs", "Y.npy",
                       "--png", "pngs", "--colormap", "gray-red", "--colormap", "jet",
                       capsys=capsys)
    assert code == 130 and "interrupted" in err
    assert len(calls) == 4
    assert files_in(work) == before


def test_full_disk_during_the_export_is_one_line_and_leaves_nothing(work, capsys, monkeypatch):
    real, calls = os.fsync, []

    def full(fd):
        calls.append(fd)
        if len(calls) == 3:  # R.npy and one PNG written, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", full)
    before = files_in(work)
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--png", "pngs",
                       capsys=capsys)
    assert_one_line_error(code, err, os.strerror(errno.ENOSPC))
    assert files_in(work) == before


def test_read_only_folder_is_one_line_and_leaves_nothing(work, capsys, monkeypatch):
    def denied(*args, **kwargs):  # what a read-only folder does to a non-root user
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    before = files_in(work)
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", capsys=capsys)
    assert_one_line_error(code, err, "R.npy", os.strerror(errno.EACCES))
    assert files_in(work) == before


# --- input shape errors name the file and say what is wrong -------------------------------
def test_single_unbatched_sample_is_explained_as_such(work, capsys):
    np.save(work / "one.npy", np.zeros(784, np.uint8))
    code, _, err = lrp("explain", "m.npz", "one.npy", "--out", "R.npy", capsys=capsys)
    assert_one_line_error(code, err, "one.npy", "(784,)", "batch")
    assert not (work / "R.npy").exists()


def test_text_samples_are_refused_for_their_type(work, capsys):
    np.save(work / "s.npy", np.array([["a"] * 784]))
    code, _, err = lrp("explain", "m.npz", "s.npy", "--out", "R.npy", capsys=capsys)
    assert_one_line_error(code, err, "s.npy", "real numbers")


def test_mismatched_images_name_the_input_file(work, capsys):
    np.save(work / "rgb.npy", np.zeros((2, 32, 32, 3), np.uint8))
    code, _, err = lrp("explain", "m.npz", "rgb.npy", "--out", "R.npy", capsys=capsys)
    assert_one_line_error(code, err, "rgb.npy", "32×32×3", "28×28×1")


# --- lrp evaluate: both outputs or neither; toolbox label layout ---------------------------
def test_evaluate_plot_failure_leaves_no_csv(work, capsys):
    before = files_in(work)
    code, _, err = lrp("evaluate", "m.npz", "x.npy", "--rule", "simple", "--steps", "3",
                       "--csv", "flip.csv", "--plot", "missing/flip.png", "--quiet",
                       capsys=capsys)
    assert_one_line_error(code, err, "missing")
    assert files_in(work) == before


def test_evaluate_plot_write_error_removes_the_csv(work, capsys, monkeypatch):
    compose = sys.modules["lrpcore.render.compose"]  # the package re-exports a function of
    # the same name, so `import lrpcore.render.compose as compose` would give that function

    def broken(*args, **kwargs):
        raise lrpcore.ExportError("flip.png: write failed: No space left on device")

    monkeypatch.setattr(compose, "save_png", broken)
    before = files_in(work)
    code, _, err = lrp("evaluate", "m.npz", "x.npy", "--rule", "simple", "--steps", "3",
                       "--csv", "flip.csv", "--plot", "flip.png", "--quiet", capsys=capsys)
    assert_one_line_error(code, err, "flip.png")
    assert files_in(work) == before


def test_evaluate_reads_toolbox_label_layout(work, capsys):
    code, out, err = lrp("evaluate", "m.npz", "x.npy", "--labels", "labels.npy", "--target",
                         "true", "--rule", "simple", "--steps", "3", "--no-random",
                         "--csv", "flip.csv",
                         "--quiet", capsys=capsys)
    assert code == 0, err
    assert "6 samples" in out
    rows = (work / "flip.csv").read_text().splitlines()
    assert rows[0].startswith("rule,step") and len(rows) == 1 + 4


def test_evaluate_mismatched_input_names_the_file(work, capsys):
    np.save(work / "rgb.npy", np.zeros((2, 32, 32, 3), np.uint8))
    code, _, err = lrp("evaluate", "m.npz", "rgb.npy", "--rule", "simple", "--csv", "f.csv",
                       "--quiet", capsys=capsys)
    assert_one_line_error(code, err, "rgb.npy", "32×32×3")
    assert not (work / "f.csv").exists()


# --- rendering refuses sizes that would exhaust memory ------------------------------------
def test_heatmap_refuses_a_scaling_that_cannot_fit_in_memory():
    with pytest.raises(ShapeError, match="scaling"):
        heatmap(np.ones((28, 28)), scaling=10_000)
    assert heatmap(np.ones((2, 2)), scaling=5).shape == (10, 10, 3)


# --- lrp bench: bad settings fail before any timing -----------------------------------------
@pytest.mark.parametrize("extra, words", [
    (["--batch-sizes", "0"], ["--batch-sizes"]),
    (["--dtypes", "float32,float16"], ["float16"]),
    (["--json", "missing/bench.json"], ["missing", "does not exist"]),
    (["--repeat", "0"], ["--repeat", "0"]),  # was one quiet timing, as if --repeat 1
    (["--repeat", "-3"], ["--repeat", "-3"]),
    (["--batch-sizes", "1,x"], ["--batch-sizes", "1,x", "whole numbers"]),  # was "cannot
    (["--batch-sizes", "1.5"], ["--batch-sizes", "1.5", "whole numbers"]),  # parse list"
])
def test_bench_settings_fail_before_timing(work, capsys, extra, words):
    code, out, err = lrp("bench", "--models", "lenet5", "--repeat", "1", *extra, capsys=capsys)
    assert_one_line_error(code, err, *words)
    assert out == ""  # not even the table header: nothing was timed


def test_bench_json_is_not_replaced_without_overwrite(work, capsys):
    old = work / "bench.json"
    old.write_text("{}")
    code, out, err = lrp("bench", "--models", "lenet5", "--repeat", "1", "--json", str(old),
                         capsys=capsys)
    assert_one_line_error(code, err, "exists", "--overwrite")
    assert out == "" and old.read_text() == "{}"


# --- sidecars and label files: messages say what is wrong ---------------------------------
def test_sidecar_with_a_new_shape_drops_the_inferred_padding(tmp_path):
    from lrpcore.layers import Convolution, Flatten

    rng = np.random.default_rng(1)
    conv = Sequential([Convolution(rng.normal(size=(32, 32, 1, 3)), np.zeros(3), (1, 1)),
                       Flatten()])
    assert conv.input_spec.pad == 2  # inferred like the toolbox's LeNet-5: 28×28 padded by 2
    lrpcore.save_model(conv, tmp_path / "c.txt")
    # a sidecar that gives a 36×36 input and no padding means no padding
    (tmp_path / "c.json").write_text('{"input": {"shape": [36, 36, 1]}}')
    spec = lrpcore.load_model(tmp_path / "c.txt").input_spec
    assert spec.shape == (36, 36, 1) and spec.pad == 0 and spec.raw_shape == (36, 36, 1)
    (tmp_path / "c.json").write_text('{"input": {"shape": [1024]}}')
    with pytest.raises(lrpcore.ModelFormatError, match=r"c\.json: input shape \[1024\] does "
                       "not fit the model"):
        lrpcore.load_model(tmp_path / "c.txt")


def test_non_integer_label_message_shows_the_value(work, capsys):
    np.save(work / "half.npy", np.full(6, 1.5))
    code, _, err = lrp("explain", "m.npz", "x.npy", "--out", "R.npy", "--target", "true",
                       "--labels", "half.npy", capsys=capsys)
    assert_one_line_error(code, err, "half.npy", "label 0 is 1.5")


# --- lrp train: a toolbox-style dataset with its labels in a separate file ------------------
def test_train_takes_labels_from_a_separate_file(work, capsys):
    code, out, err = lrp("train", "--layers", "linear:10", "--dataset", "x.npy", "--labels",
                         "labels.npy", "--epochs", "1", "--batch-size", "3", "--out", "t.npz",
                         capsys=capsys)
    assert code == 0, err
    assert "6 samples" in out
    model = lrpcore.load_model(work / "t.npz")
    assert model.n_classes == 10
    assert "--labels labels.npy" in model.meta["provenance"]["command"]
    code, _, err = lrp("train", "--layers", "linear:10", "--dataset", "x.npy", "--epochs", "1",
                       "--out", "u.npz", capsys=capsys)
    assert_one_line_error(code, err, "x.npy", "no labels")


# --- lrp convert: the CLI's own words, and no model without its sidecar ---------------------
def test_convert_refuses_existing_output_with_the_cli_option_name(work, capsys):
    (work / "out.txt").write_text("keep me")
    code, _, err = lrp("convert", "m.npz", "out.txt", capsys=capsys)
    assert_one_line_error(code, err, "out.txt", "--overwrite")
    assert (work / "out.txt").read_text() == "keep me"


def test_convert_sidecar_failure_removes_the_written_model(work, capsys, monkeypatch):
    import lrpcore.io.sidecar as sidecar

    def broken(*args, **kwargs):
        raise lrpcore.ExportError("out.json: write failed: No space left on device")

    monkeypatch.setattr(sidecar, "write_sidecar", broken)
    before = files_in(work)
    code, out, err = lrp("convert", "m.npz", "out.txt", capsys=capsys)
    assert_one_line_error(code, err, "out.json")
    assert files_in(work) == before and "wrote" not in out


# --- MATLAB v7.3 model files (HDF5 with a 512-byte user block) are recognised --------------
def test_matlab_v73_model_is_refused_as_such(tmp_path):
    path = tmp_path / "net.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ")
                     + b"\x89HDF\r\n\x1a\n" + bytes(64))
    with pytest.raises(lrpcore.ModelFormatError, match=r"net\.mat: a MATLAB v7\.3 \(HDF5\)"):
        lrpcore.load_model(path)


def test_unreadable_model_file_is_a_model_format_error(tmp_path):
    folder_named_txt = tmp_path / "dir.txt"
    folder_named_txt.mkdir()
    with pytest.raises(lrpcore.ModelFormatError, match="dir.txt"):
        lrpcore.load_model(folder_named_txt)


def test_an_action_of_lrp_data_names_itself_in_its_errors(work, capsys):
    """`lrp data info`/`download` errors began "lrp data: error:" (the command without its
    action) while their usage errors began "lrp data info: error:"; now both name the action."""
    code, _, err = lrp("data", "info", "no_such.npy", capsys=capsys)
    assert code == 2 and err.startswith("lrp data info: error: no_such.npy")
    code, _, usage = lrp("data", "info", capsys=capsys)
    assert code == 2 and usage.startswith("lrp data info: error:")
    code, _, err = lrp("info", "no_such.npz", capsys=capsys)
    assert code == 2 and err.startswith("lrp info: error: no_such.npz")
