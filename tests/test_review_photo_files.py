"""A new user's first photographs: one JPEG given as it is (not a folder holding it), and
heatmaps of a folder that say which photograph they explain."""

from __future__ import annotations

import json

import numpy as np
from colour_models import colour_graph_model, write_photos

import lrpcore
from lrpcore.cli.main import main


def _files(tmp_path):
    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), model)
    photos = tmp_path / "photos"
    write_photos(photos / "cats", sizes=((40, 30), (20, 26)))
    write_photos(photos / "cups", sizes=((33, 17),))
    return model, photos


def test_one_photograph_is_a_dataset_of_one_sample_fitted_like_a_folder(tmp_path, capsys):
    """`lrp explain MODEL photo.jpg` said "unknown dataset format (expected …, MNIST IDX or
    a folder of images)": a single photograph had to be put in a folder first."""
    model, photos = _files(tmp_path)
    one = photos / "cats" / "p1.png"
    ds = lrpcore.open_dataset(one, model=lrpcore.load_model(model))
    assert len(ds) == 1 and ds.sample_shape == (16, 16, 3) and ds.labels is None
    folder = lrpcore.open_dataset(tmp_path / "photos", model=lrpcore.load_model(model))
    k = folder.sample_files(range(len(folder))).index("cats/p1.png")
    np.testing.assert_array_equal(ds.images([0])[0], folder.images([k])[0])
    out = tmp_path / "R.npy"
    assert main(["explain", str(model), str(one), "--out", str(out)]) == 0
    assert np.load(out).shape == (1, 3, 16, 16)
    capsys.readouterr()
    assert main(["data", "info", str(one)]) == 0
    assert "(image file)" in capsys.readouterr().out
    assert main(["render", str(out), "--side-by-side", "--out", str(tmp_path / "r.png")]) == 0


def test_a_file_that_is_no_image_still_names_what_is_read(tmp_path, capsys):
    bad = tmp_path / "notes.bin"
    bad.write_bytes(b"\x00\x01\x02" * 10)
    assert main(["data", "info", str(bad)]) == 2
    assert "a PNG/JPEG image" in capsys.readouterr().err


def test_heatmaps_of_a_folder_name_their_photograph(tmp_path):
    """`lrp explain … photos/ --png DIR` wrote heatmap_2_bwr.png with a sidecar naming the
    sample's number only: which of the folder's files it explains was left to guess (the
    sorted order of subfolders and files)."""
    model, photos = _files(tmp_path)
    png = tmp_path / "png"
    assert main(["explain", str(model), str(photos), "--out", str(tmp_path / "R.npy"),
                 "--png", str(png)]) == 0
    named = {json.loads(p.read_text())["sample"]: json.loads(p.read_text())["sample_file"]
             for p in png.glob("*.json")}
    assert named == {0: "cats/p0.png", 1: "cats/p1.png", 2: "cups/p0.png"}
    assert lrpcore.open_dataset(photos).sample_files([2, 0]) == ["cups/p0.png", "cats/p0.png"]
    assert lrpcore.open_dataset(photos / "cups" / "p0.png").sample_files([0]) == ["p0.png"]


def test_arrays_have_no_sample_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.uint8))
    assert lrpcore.open_dataset(tmp_path / "x.npy").sample_files([0, 1]) is None


def test_photos_beside_class_folders_are_named_not_dropped_silently(tmp_path, capsys):
    """A folder with class subfolders takes only their images; a photo lying beside them was
    left out without a word (`lrp data info` counted 1 sample of 2, `lrp explain` explained
    1), and "1 classes" was said of one class."""
    model, photos = _files(tmp_path)
    write_photos(photos, sizes=((30, 30),))  # photos/p0.png beside cats/ and cups/
    assert main(["data", "info", str(photos)]) == 0
    out = capsys.readouterr().out
    assert "samples: 3" in out and "yes (2 classes: cats, cups)" in out
    assert "note:    1 image beside the class subfolders left out (p0.png)" in out
    assert main(["explain", str(model), str(photos), "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "left out (p0.png); put it into a class subfolder" in err
    (photos / "cups" / "p0.png").unlink()
    (photos / "cups").rmdir()
    assert main(["data", "info", str(photos)]) == 0
    out = capsys.readouterr().out
    assert "yes (1 class: cats)" in out


def test_a_photograph_of_another_size_points_to_its_file(tmp_path):
    """A 40×30 photo array for a 16×16 model was told to "open the folder with the model":
    one photograph needs no folder now."""
    import pytest

    from lrpcore.errors import ShapeError

    model = colour_graph_model()
    with pytest.raises(ShapeError, match=r"open the folder \(or the photo's file\) with"):
        lrpcore.explain(model, np.zeros((1, 30, 40, 3), np.uint8))
