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
                 "--outputs", str(tmp_path / "Y.npy")]) == 0
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
