"""Dataset names (and every dataset format) wherever a command takes samples:
``lrp explain MODEL mnist-sample``, ``lrp evaluate MODEL mnist-test --n 5``."""

from __future__ import annotations

import gzip
import struct

import numpy as np

import lrpcore
from lrpcore.bundled import default_model_path
from lrpcore.cli.common import DatasetArray, load_samples
from lrpcore.cli.main import main


def test_names_open_as_sample_arrays_with_their_labels():
    x, labels = load_samples("mnist-sample")
    assert isinstance(x, DatasetArray) and x.shape == (5000, 28, 28, 1)
    assert labels is not None and labels.shape == (5000,)
    np.testing.assert_array_equal(x[3:5], lrpcore.open_dataset("mnist-sample").images([3, 4]))
    x, labels = load_samples("mnist-test")
    assert x.shape[0] == 10000 and labels[0] == 7


def test_explain_reads_an_idx_file_and_uses_its_labels(tmp_path, capsys):
    images = lrpcore.open_dataset("mnist-test").images(slice(0, 6))[..., 0]
    path = tmp_path / "six-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 6, 28, 28)
                + images.tobytes())
    model = default_model_path()
    rc = main(["explain", str(model), str(path), "--out", str(tmp_path / "R.npy"),
               "--rule", "epsilon:0.01"])
    assert rc == 0, capsys.readouterr().err
    R = np.load(tmp_path / "R.npy")
    want = lrpcore.explain(lrpcore.load_model(model), images[..., None], rule="epsilon:0.01")
    np.testing.assert_allclose(R, want, rtol=1e-10, atol=1e-12)


def test_evaluate_takes_a_dataset_name(tmp_path, capsys):
    rc = main(["evaluate", str(default_model_path()), "mnist-test", "--n", "4", "--rule",
               "epsilon:0.01", "--target", "true", "--steps", "3", "--csv",
               str(tmp_path / "f.csv")])
    assert rc == 0, capsys.readouterr().err
    assert "4 samples" in capsys.readouterr().out


def test_explain_a_dataset_by_name_uses_its_labels_for_the_true_class(tmp_path, capsys):
    """``lrp explain MODEL mnist-sample``: the issue's example, with --target true and no
    --labels (the name carries them)."""
    model = default_model_path().parent / "mnist-dense-rect.npz"
    out = tmp_path / "R.npy"
    assert main(["explain", str(model), "mnist-sample", "--target", "true", "--out",
                 str(out), "--dtype", "float32"]) == 0
    assert "explained 5000 samples" in capsys.readouterr().out
    ds = lrpcore.open_dataset("mnist-sample")
    idx = np.array([0, 2500, 4999])
    want = lrpcore.explain(lrpcore.load_model(model), ds.images(idx), target="true",
                           labels=ds.labels[idx], dtype="float32")
    np.testing.assert_allclose(np.load(out)[idx], want, rtol=1e-4, atol=1e-6)


def test_a_mistyped_dataset_or_model_name_lists_the_names_that_exist(tmp_path, capsys):
    """'mnist-tset: no such file' did not say that names are accepted, nor which."""
    model = str(default_model_path())
    assert main(["explain", model, "mnist-tset", "--out", str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "mnist-tset: no such file, folder or built-in dataset" in err and "mnist-test" in err
    assert main(["explain", "mnist-lenet6", "mnist-test", "--out", str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "mnist-lenet6: no such file or bundled model" in err and "mnist-lenet5" in err
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []
