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


def test_a_npy_of_images_uses_the_labels_file_beside_it(tmp_path, capsys):
    """``X_images.npy`` with ``X_labels.npy`` beside it carries labels for every command, as
    ``lrp spray``/``sweep`` and the explorer already read them: ``--target true`` of
    ``lrp explain`` and ``lrp evaluate`` needs no ``--labels`` (it failed before)."""
    ds = lrpcore.open_dataset("mnist-test")
    np.save(tmp_path / "few_images.npy", ds.images(slice(0, 4)))
    labels = (ds.labels[:4] + 1) % 10  # not the predictions: the true class must be read
    np.save(tmp_path / "few_labels.npy", labels)
    model = default_model_path()
    out = tmp_path / "R.npy"
    rc = main(["explain", str(model), str(tmp_path / "few_images.npy"), "--target", "true",
               "--out", str(out), "--rule", "epsilon:0.01"])
    assert rc == 0, capsys.readouterr().err
    want = lrpcore.explain(lrpcore.load_model(model), ds.images(slice(0, 4)),
                           rule="epsilon:0.01", target="true", labels=labels)
    np.testing.assert_allclose(np.load(out), want, rtol=1e-10, atol=1e-12)
    rc = main(["evaluate", str(model), str(tmp_path / "few_images.npy"), "--target", "true",
               "--rule", "epsilon:0.01", "--steps", "3", "--csv", str(tmp_path / "f.csv")])
    assert rc == 0, capsys.readouterr().err
    x, found = load_samples(tmp_path / "few_images.npy")
    np.testing.assert_array_equal(found, labels)
    from lrpcore.distributed import open_source  # lrp explain --out R.zarr: the same labels

    np.testing.assert_array_equal(open_source(tmp_path / "few_images.npy")[1], labels)


def test_scores_beside_an_input_are_not_taken_for_its_labels(tmp_path, capsys):
    """``lrp explain M x.npy --outputs y.npy`` run twice: the first run's scores in ``y.npy``
    (``x`` → ``y`` is a label file's name) must not stop the second run."""
    np.save(tmp_path / "x.npy", lrpcore.open_dataset("mnist-test").images(slice(0, 3)))
    args = ["explain", str(default_model_path()), str(tmp_path / "x.npy"), "--out",
            str(tmp_path / "R.npy"), "--outputs", str(tmp_path / "y.npy"), "--overwrite"]
    assert main(args) == 0, capsys.readouterr().err
    assert np.load(tmp_path / "y.npy").shape == (3, 10)
    assert main(args) == 0, capsys.readouterr().err
    assert load_samples(tmp_path / "x.npy")[1] is None
