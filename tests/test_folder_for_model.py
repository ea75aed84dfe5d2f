"""A folder of photographs for a model, from the command line as in the app: photographs of
any size are resized and cropped to the model's input (`lrp explain` refused them: "samples of
shape (300, 451, 3) do not fit the model"), and class subfolders label their images with the
model's classes they name (sorted positions made "cats" ImageNet's class 0, "tench")."""

from __future__ import annotations

import numpy as np
from colour_models import colour_graph_model, write_photos
from PIL import Image

import lrpcore
from lrpcore.cli.main import main


def _folder(root, classes):
    for k, cls in enumerate(classes):
        write_photos(root / cls, sizes=((40 + k, 30), (20, 26 + k)))
    return root


def test_explain_fits_photographs_of_any_size_to_the_model(tmp_path):
    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = write_photos(tmp_path / "photos", sizes=((40, 30), (20, 26), (33, 17)))
    assert main(["explain", str(model), str(photos), "--out", str(tmp_path / "R.npy"),
                 "--outputs", str(tmp_path / "Y.npy"), "--dtype", "float64"]) == 0
    assert np.load(tmp_path / "R.npy").shape == (3, 3, 16, 16)
    ds = lrpcore.open_dataset(photos)
    lrpcore.check_fits(lrpcore.load_model(model), ds)
    want = lrpcore.predict(lrpcore.load_model(model), ds.images())
    np.testing.assert_allclose(np.load(tmp_path / "Y.npy"), want, rtol=1e-6, atol=1e-9)
    assert Image.open(photos / "p0.png").size == (40, 30)  # the files stay as they are


def test_subfolders_label_by_the_models_class_names(tmp_path):
    model = colour_graph_model(16)
    named = lrpcore.open_dataset(_folder(tmp_path / "named", ["Egyptian_cat", "class 3"]))
    lrpcore.check_fits(model, named)
    assert sorted(set(named.labels.tolist())) == [3, 7]
    assert named.label_name(7) == "Egyptian cat"
    other = lrpcore.open_dataset(_folder(tmp_path / "other", ["cats", "cups"]))
    lrpcore.check_fits(model, other)
    assert other.labels is None  # "cats" is not class 0 of a 12-class model


def test_commands_start_from_the_models_rule_and_dtype(tmp_path):
    """``lrp explain`` without --rule/--dtype: EpsilonPlus in float32 for a graph model, the
    engine's simple in float64 for a toolbox model (as before); --help says so."""
    import json

    from lrpcore.bundled import default_model_path

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = write_photos(tmp_path / "photos", sizes=((40, 30), (20, 26)))
    for path, rule, dtype in ((model, "EpsilonPlus", "float32"),
                              (default_model_path(), "simple", "float64")):
        data = photos if path == model else "mnist-sample"
        out = tmp_path / f"R-{rule}.npy"
        assert main(["explain", str(path), str(data), "--out", str(out)]) == 0
        side = json.loads((tmp_path / f"R-{rule}.npy.json").read_text())
        assert side["rules"] == rule and side["dtype"] == dtype
        assert np.load(out).dtype == np.dtype(dtype)


def test_spray_fits_photographs_of_any_size_to_the_model(tmp_path, capsys):
    """``lrp spray`` read a folder of photographs without the model's resize and crop
    ("all images must have the same size"); it takes the loader of ``lrp explain``."""
    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    root = tmp_path / "photos"
    for cls in ("Egyptian_cat", "class 3"):
        write_photos(root / cls, sizes=((40, 30), (20, 26), (33, 17), (16, 16), (50, 21)))
    out = tmp_path / "spray.npz"
    assert main(["spray", str(model), str(root), "--class", "7", "--out", str(out),
                 "--k", "2", "--neighbours", "2", "--embedding", "none"]) == 0
    saved = np.load(out, allow_pickle=False)
    assert sorted(saved["indices"].tolist()) == [0, 1, 2, 3, 4]  # the Egyptian_cat folder
    assert "5 samples" in capsys.readouterr().out


def test_dask_workers_read_a_photo_folder_fitted_to_the_model(tmp_path):
    """``lrp explain --out R.zarr`` listed a folder with the images as they are; its workers
    now read each file as ``lrp explain`` does (resized, centre-cropped, labelled by class)."""
    from lrpcore import distributed

    model = colour_graph_model(16)
    root = _folder(tmp_path / "named", ["Egyptian_cat", "class 3"])
    source, labels = distributed.open_source(str(root), model)
    ds = lrpcore.open_dataset(root, model=model)
    assert source.shape == (4, 16, 16, 3) and sorted(set(labels.tolist())) == [3, 7]
    np.testing.assert_array_equal(source.read(0, 4), ds.images())


def test_render_and_figure_read_the_photo_folder_as_explain_did(tmp_path, capsys):
    """``lrp render R.npy --input photos/`` refused a folder of photographs of mixed sizes
    ("all images must have the same size"), and without --input drew the maps alone: the
    folder is now fitted to the model the maps' sidecar names (while its file is unchanged)."""
    import json

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    photos = write_photos(tmp_path / "photos", sizes=((40, 30), (20, 26), (33, 17)))
    out = tmp_path / "R.npy"
    assert main(["explain", str(model), str(photos), "--out", str(out)]) == 0
    png = tmp_path / "r.png"
    assert main(["render", str(out), "--input", str(photos), "--sample", "1", "--colormap",
                 "bwr", "--out", str(png)]) == 0
    assert json.loads((tmp_path / "r.png.json").read_text())["input_file"] == str(photos)
    fig = tmp_path / "f.png"
    assert main(["figure", str(out), "--colormap", "bwr", "--out", str(fig)]) == 0
    with_inputs = Image.open(fig).size
    lrpcore.save_model(colour_graph_model(18), model, overwrite=True)  # another model now
    assert main(["render", str(out), "--input", str(photos), "--sample", "1", "--colormap",
                 "bwr", "--out", str(tmp_path / "r2.png")]) == 2
    assert "same size" in capsys.readouterr().err
    assert main(["figure", str(out), "--colormap", "bwr", "--out", str(tmp_path / "f2.png")]) == 0
    assert Image.open(tmp_path / "f2.png").size[0] < with_inputs[0]  # maps alone
