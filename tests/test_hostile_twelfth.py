"""Found by the twelfth hostile review (file names longer than the file system allows, ...):
each test writes the input it needs and failed before the fix it guards."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import one_line, save_digits

from lrpcore.cli.main import main

TOO_LONG = "n" * 300  # one name component beyond the 255 bytes of ext4, tmpfs, XFS, btrfs


@pytest.mark.parametrize("command", ["render", "figure", "demo"])
def test_an_output_name_too_long_for_the_file_system_is_one_line(tmp_path, capsys, command):
    """``Path.exists`` raises for such a name where ``os.path.exists`` says False: 'lrp
    render --out NAME.png' and 'lrp figure' stopped in an internal error ('OSError: [Errno
    36] File name too long'), 'lrp demo --out NAME' too, after its accuracy run."""
    x = save_digits(tmp_path / "x.npy")
    out = tmp_path / (TOO_LONG + (".png" if command != "demo" else ""))
    if command == "demo":
        argv = ["demo", "--dataset", str(x), "--labels", str(_labels(tmp_path)),
                "--count", "2", "--out", str(out)]
    else:
        r = tmp_path / "r.npy"
        np.save(r, np.random.RandomState(1).randn(3, 28, 28))
        argv = [command, str(r), "--out", str(out)]
    assert main(argv) == 2
    one_line(capsys, TOO_LONG, "too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x.npy", "y.npy" if command == "demo" else "r.npy"])


def _labels(tmp_path):
    np.save(tmp_path / "y.npy", np.arange(3))
    return tmp_path / "y.npy"


@pytest.mark.parametrize("command", ["explain", "info", "convert", "sweep"])
def test_a_model_name_too_long_for_the_file_system_is_one_line(tmp_path, capsys, monkeypatch,
                                                             command):
    """A model file named without a folder whose name is too long was looked up as a bundled
    model's name (``Path.is_file`` on models/NAME.npz), which raised: an internal error, not
    'no such file'."""
    monkeypatch.chdir(tmp_path)
    model = TOO_LONG + ".npz"
    save_digits(tmp_path / "x.npy")
    argv = {"explain": ["explain", model, str(tmp_path / "x.npy"), "--out",
                        str(tmp_path / "r.npy")],
            "info": ["info", model],
            "convert": ["convert", model, str(tmp_path / "m.txt")],
            "sweep": ["sweep", model, str(tmp_path / "x.npy"), "--rule", "epsilon"]}[command]
    assert main(argv) == 2
    one_line(capsys, TOO_LONG)
    assert not (tmp_path / "r.npy").exists() and not (tmp_path / "m.txt").exists()


def test_a_checkpoint_name_too_long_is_refused_before_training(tmp_path, capsys):
    """``--out`` of a name that fits but whose checkpoint ``NAME.ckpt.npz`` does not: the
    whole run was trained, then lost ('cannot check: File name too long' at the first
    checkpoint)."""
    x = save_digits(tmp_path / "x.npy", n=20)
    np.save(tmp_path / "y.npy", np.arange(20) % 10)
    out = tmp_path / ("n" * 250 + ".npz")  # 254 bytes; its checkpoint's name, 259
    assert main(["train", "--layers", "flatten,linear:10", "--dataset", str(x), "--labels",
                 str(tmp_path / "y.npy"), "--epochs", "1", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "epoch" not in captured.out, captured.out  # refused before the first epoch
    assert captured.err.count("\n") == 1 and "internal" not in captured.err
    assert ".ckpt.npz: cannot check: File name too long" in captured.err
    assert not out.exists()


def test_the_w2_rule_passes_nothing_through_a_pruned_neuron_and_stays_finite():
    """A neuron whose weights are all zero (a pruned filter or unit) made the toolbox's
    w²-rule divide 0 by 0: relevance NaN for every sample, refused as 'a division by zero
    (e.g. epsilon:0 ...)' though ww has no ε. It now passes nothing, as the padded path (and
    the γ-rule for z_j = 0) already did; the other neurons' shares are unchanged."""
    import lrpcore
    from lrpcore.layers import Linear

    W = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, -1.0]])  # neuron 1 pruned
    model = lrpcore.Sequential([Linear(W, np.zeros(3))])
    x = np.array([[1.0, 2.0]])
    R = lrpcore.explain(model, x, rule="ww", target="output", raw=True)
    z = x @ W
    live = [0, 2]
    expected = sum(W[:, j] ** 2 / (W[:, j] ** 2).sum() * z[0, j] for j in live)
    np.testing.assert_allclose(R[0], expected, rtol=1e-12)


def test_a_cluster_run_that_cannot_write_its_store_names_it_and_is_the_users_to_fix(tmp_path):
    """A store on a full disk (here: a file-size limit, EFBIG, as ENOSPC would be) failed
    every chunk with a bare 'OSError: [Errno 27] File too large', named no store and exited
    1, the status of a bug in LRP Explorer; its hint said to rerun as if nothing could be
    done. Each chunk's error now names the store; exit 2."""
    import os
    import resource
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (128, 28, 28)).astype(np.uint8))
    out = tmp_path / "R.zarr"

    def small_files():  # the store's metadata fits; a chunk of 64 relevance maps does not
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "LRP_IGNORE_CPU_LOAD": "1"}
    run = subprocess.run([sys.executable, "-m", "lrpcore", "explain", "mnist-dense-rect",
                          str(x), "--out", str(out), "--batch-size", "64", "--workers", "1"],
                         capture_output=True, text=True, env=env, preexec_fn=small_files,
                         timeout=300, check=False)
    assert run.returncode == 2, run.stderr
    partial = f"{out}.partial"
    assert f"failed: StoreWriteError: {partial}: cannot write samples 0..63: File too large" \
        in run.stderr, run.stderr
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr
    assert "fix what the errors above name and rerun" in run.stderr
    assert not out.exists()


def test_a_run_diverged_by_its_weight_decay_names_the_weight_decay(tmp_path, capsys):
    """--weight-decay 1e300 (the learning rate at its default) diverged at the second step
    with 'lower --lr (it is 0.001)': the one option left at its default was blamed, the
    one that drove the weights beyond float range not named."""
    x = save_digits(tmp_path / "x.npy", n=20)
    np.save(tmp_path / "y.npy", np.arange(20) % 10)
    out = tmp_path / "m.npz"
    assert main(["train", "--layers", "flatten,linear:10", "--dataset", str(x), "--labels",
                 str(tmp_path / "y.npy"), "--epochs", "1", "--batch-size", "4",
                 "--weight-decay", "1e300", "--out", str(out)]) == 2
    one_line(capsys, "training diverged", "--weight-decay (it is 1e+300)")
    assert not out.exists()


def test_no_test_writes_the_users_explorer_settings(tmp_path_factory):
    """The suite wrote pytest's temporary files into the user's recent models and datasets
    (tests/test_batch_export.py opens a MainWindow outside tests/gui, whose conftest alone
    gave each test a private settings file): every test now gets one."""
    pytest.importorskip("PySide6")
    from lrpgui.settings import open_settings

    where = open_settings().fileName()
    assert where.startswith(str(tmp_path_factory.getbasetemp())), where


@pytest.mark.parametrize("command", ["info", "sweep"])
def test_a_folder_named_as_a_bundled_model_does_not_hide_it(tmp_path, capsys, monkeypatch,
                                                            command):
    """An output folder named after the model ('--png mnist-lenet5', 'lrp concepts ... --out
    mnist-lenet5') made every later 'lrp ... mnist-lenet5' run in that folder fail with
    'mnist-lenet5: is a folder, not a model file': the name looked for a path first, and a
    folder is never a model."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist-lenet5").mkdir()
    save_digits(tmp_path / "x.npy")
    argv = {"info": ["info", "mnist-lenet5"],
            "sweep": ["sweep", "mnist-lenet5", "x.npy", "--rule", "epsilon", "--n", "2",
                      "--steps", "2", "--quiet"]}[command]
    status, captured = main(argv), capsys.readouterr()
    assert status == 0, captured.err
    assert command == "sweep" or "models/mnist-lenet5.npz" in captured.out


@pytest.mark.parametrize("option", ["--png", "--csv"])
def test_an_output_named_as_a_built_in_dataset_or_model_here_is_refused(tmp_path, capsys,
                                                                        monkeypatch, option):
    """'lrp explain M mnist-test --png mnist-test' wrote the heatmaps into ./mnist-test, and
    every later 'lrp explain M mnist-test' there explained those 10,000 PNGs instead of MNIST,
    without a word (a bare name reads the current folder first); 'lrp evaluate --csv
    mnist-lenet5' made a file that hid the bundled model the same way."""
    monkeypatch.chdir(tmp_path)
    save_digits(tmp_path / "x.npy")
    if option == "--png":
        name = "mnist-test"
        argv = ["explain", "mnist-dense-rect", "x.npy", "--out", "R.npy", "--png", name]
    else:
        name = "mnist-lenet5"
        argv = ["evaluate", "mnist-dense-rect", "x.npy", "--steps", "2", "--csv", name]
    assert main(argv) == 2
    one_line(capsys, f"{name}: would make {name} in this folder", "give the output another")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_an_output_file_named_with_a_trailing_slash_is_refused_before_computing(tmp_path,
                                                                                capsys):
    """'lrp evaluate --csv e.csv/' passed every check (os.path.abspath drops the slash), ran
    the whole evaluation, then failed to name the file ('Not a directory'); 'lrp explain
    --out R.npy/' was refused as 'R.npy/.json: folder ... does not exist'."""
    x = save_digits(tmp_path / "x.npy")
    csv = f"{tmp_path / 'e.csv'}/"
    assert main(["evaluate", "mnist-dense-rect", str(x), "--steps", "2", "--csv", csv]) == 2
    captured = capsys.readouterr()
    assert "AOPC" not in captured.out and "simple" not in captured.out  # nothing was computed
    assert captured.err.strip() == (f"lrp evaluate: error: {csv}: ends in '/', so it names a "
                                    "folder: give the output a file name")
    out = f"{tmp_path / 'R.npy'}/"
    assert main(["explain", "mnist-dense-rect", str(x), "--out", out]) == 2
    one_line(capsys, f"{out}: ends in '/'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_heatmaps_in_a_folder_named_after_the_model_leave_the_model_its_name(tmp_path, capsys,
                                                                             monkeypatch):
    """A folder is never read as a model, so '--png mnist-lenet5' stays allowed, and the
    bundled model is still what 'mnist-lenet5' names afterwards."""
    monkeypatch.chdir(tmp_path)
    save_digits(tmp_path / "x.npy")
    assert main(["explain", "mnist-lenet5", "x.npy", "--out", "R.npy", "--png",
                 "mnist-lenet5"]) == 0
    assert (tmp_path / "mnist-lenet5" / "heatmap_0_bwr.png").is_file()
    capsys.readouterr()
    assert main(["info", "mnist-lenet5"]) == 0
    assert "models/mnist-lenet5.npz" in capsys.readouterr().out


def test_the_sanity_check_of_blank_heatmaps_gives_no_verdict(tmp_path, capsys):
    """A model of zero weights explains every sample with relevance 0; randomising its top
    layer leaves that so, and 'lrp sanity' said 'FAIL: ... (SSIM 1.00): it explains the
    input more than the model' about heatmaps that show nothing at all."""
    import lrpcore
    from lrpcore.layers import Linear, Rect

    model = lrpcore.Sequential([Linear(np.zeros((784, 8)), np.zeros(8)), Rect(),
                                Linear(np.zeros((8, 10)), np.zeros(10))])
    lrpcore.save_model(model, tmp_path / "zero.npz")
    x = save_digits(tmp_path / "x.npy", n=4)
    assert main(["sanity", str(tmp_path / "zero.npz"), str(x), "--rule", "epsilon",
                 "--quiet"]) == 2
    one_line(capsys, "heatmaps are blank", "for all 4 samples")
