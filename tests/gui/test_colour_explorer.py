"""The explorer on colour photographs, with a small synthetic colour model (a convolution on
12×12×3, 30 named classes) and a folder of photographs of mixed sizes: colour input, channel
reductions, the overlay and its export, hover RGB, top-10 scores with names, a target chosen
by typing part of a class name, the busy indicator."""

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

N_CLASSES = 30
NAMES = [f"thing {k}" for k in range(N_CLASSES)]
NAMES[17] = "Egyptian cat"


def colour_model():
    import lrpcore
    from lrpcore.layers import Convolution, Flatten, Linear, Rect
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(5)
    layers = [Convolution(rng.normal(0, 0.3, (3, 3, 3, 4)), rng.normal(0, 0.01, 4)), Rect(),
              Flatten(), Linear(rng.normal(0, 0.1, (400, N_CLASSES)), np.zeros(N_CLASSES))]
    spec = InputSpec.from_dict({"shape": [12, 12, 3], "raw_shape": [12, 12, 3],
                                "divide": 255.0, "offset": 0.0, "mean": [0.5, 0.4, 0.3],
                                "std": [0.2, 0.2, 0.2], "resize": 14, "crop": 12})
    return lrpcore.Sequential(layers, spec, meta={"class_names": NAMES})


@pytest.fixture
def colour_files(tmp_path):
    import lrpcore

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_model(), model)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for k, (w, h) in enumerate([(40, 30), (20, 26), (14, 14), (33, 17)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            photos / f"p{k}.png")
    return model, photos


def test_photographs_in_the_explorer(make_window, colour_files, qtbot, tmp_path):
    import lrpcore
    from lrpgui.widgets.views import shown_classes

    model_path, photos = colour_files
    window = make_window(model=model_path, dataset=photos)
    s = window.state
    assert s.relevance.shape == (12, 12, 3)
    # what lrpcore says for the same resized, cropped photograph
    ds = lrpcore.open_dataset(photos)
    model = lrpcore.load_model(model_path)
    lrpcore.check_fits(model, ds)
    want = lrpcore.explain(model, ds.images([0]), rule=s.rule)[0]
    np.testing.assert_allclose(s.relevance, want, rtol=1e-6, atol=1e-12)

    assert window.colour_dock.isVisibleTo(window)  # shown for a colour model
    # colour input drawn in colour
    img = window.views.input_item.image
    assert img.ndim == 3 and img.shape[2] == 3

    # channel reductions redraw the heatmap and its colour bar from the same relevance
    views = window.views
    count = views.render_count
    s.channels = "max-abs"
    assert views.render_count == count + 1
    R = s.relevance
    k = np.argmax(np.abs(R), axis=-1)
    maxabs = np.take_along_axis(R, k[..., None], -1)[..., 0]
    assert views.colorbar.levels()[1] == pytest.approx(np.abs(maxabs).max())
    s.channels = "sum"
    assert views.colorbar.levels()[1] == pytest.approx(np.abs(R.sum(-1)).max())

    # overlay: the heatmap over the greyscale photograph, opacity adjustable
    panel = window.colour
    assert panel.rendered is not None and panel.rendered.shape == (12, 12, 3)
    panel.opacity.setValue(0)  # no heatmap: the grey photograph alone
    grey = np.asarray(s.explanation.input_unit).mean(-1)
    np.testing.assert_allclose(panel.rendered[..., 0], grey, atol=1e-12)
    panel.opacity.setValue(100)
    assert s.overlay_opacity == 1.0
    assert not np.allclose(panel.rendered[..., 0], grey)

    # overlay export: PNG and .npy, each with a sidecar naming the class
    paths = window.export_overlay(tmp_path / "ov.png")
    suffix = paths[1].name[len("ov.png"):]  # the sidecar suffix
    assert [p.name for p in paths] == ["ov.png", "ov.png" + suffix, "ov.npy", "ov.npy" + suffix]
    np.testing.assert_allclose(np.load(tmp_path / "ov.npy"), panel.rendered, atol=1e-6)
    side = json.loads(paths[3].read_text())
    assert side["layout"] == "overlay" and side["opacity"] == 1.0
    assert side["predicted_name"] == NAMES[s.explanation.prediction]

    # hover reports relevance and the pixel's RGB
    from PySide6.QtCore import QPointF

    text = views.describe_point(QPointF(3.5, 2.5))
    r, g, b = np.round(np.asarray(s.explanation.input_unit)[2, 3] * 255).astype(int)
    assert f"RGB ({r}, {g}, {b})" in text and "relevance" in text

    # scores: the top 10 of 30 classes, named, highest first, explained class marked
    scores = window.scores
    top = shown_classes(s.scores)
    assert scores.shown_classes[:10] == top and len(top) == 10
    assert list(np.argsort(-s.scores)[:10]) == top
    ticks = dict(scores.getAxis("bottom")._tickLevels[0])
    assert ticks[0] == NAMES[top[0]]

    # choose a class by typing part of its name
    combo = window.rules.target_selector
    assert combo.isEditable() and combo.completer() is not None
    combo.completer().setCompletionPrefix("egyptian")
    assert combo.completer().currentCompletion() == "class Egyptian cat"
    combo.setCurrentIndex(combo.findData("17"))
    qtbot.waitUntil(lambda: s.relevance is not None and s.explanation.request.target == "17",
                    timeout=20000)
    assert 17 in scores.shown_classes  # the explained class gets a bar even outside the top
    assert scores.explained == [17]


def test_busy_indicator_shows_while_explaining(make_window, colour_files, qtbot):
    model_path, photos = colour_files
    window = make_window(model=model_path, dataset=photos)
    with qtbot.waitSignal(window.state.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None):
        window.state.sample_index = 1
        assert window.busy.isVisibleTo(window)
    qtbot.waitUntil(lambda: not window.busy.isVisibleTo(window), timeout=20000)


def test_efficientnet_on_natural_images_names_classes_and_exports(make_window, qtbot,
                                                                   tmp_path):
    """lrp-explorer --model efficientnet-lite0 --dataset natural-images: chelsea, coffee and
    rocket as Egyptian cat, espresso and missile, named in the scores plot; heatmap and
    overlay exported as PNG and .npy with sidecars."""
    from lrpcore.io import imagenet

    if not imagenet.available():
        pytest.skip("the [imagenet] extra is not installed")
    window = make_window(model="efficientnet-lite0", dataset="natural-images", wait=False)
    s = window.state
    # a graph model starts from EpsilonPlus in float32 (epsilon:0.01 in float64 gave a
    # near-empty heatmap and a slow first click)
    assert (s.rule, s.dtype) == ("EpsilonPlus", "float32")
    assert window.rules.rule_selector.currentText() == "EpsilonPlus"
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=180000)
    assert (s.explanation.request.rule, s.explanation.request.dtype) == ("EpsilonPlus",
                                                                          "float32")
    qtbot.waitUntil(lambda: not window.controller.pending("predict"), timeout=180000)
    names = s.model.class_names
    for index, want in ((0, 285), (1, 967), (2, 657)):
        s.sample_index = index
        qtbot.waitUntil(lambda i=index: s.relevance is not None and
                        s.explanation.index == i, timeout=120000)
        assert s.explanation.prediction == want
        ticks = dict(window.scores.getAxis("bottom")._tickLevels[0])
        assert ticks[0] == names[want].split(",")[0][:16]
        assert window.scores.shown_classes[0] == want and len(window.scores.shown_classes) == 10
    assert "missile" in window.views.heat_title.text
    written = (window.export_png(tmp_path / "h.png") + window.export_npy(tmp_path / "h.npy")
               + window.export_overlay(tmp_path / "o.png"))
    assert all(p.exists() for p in written) and len(written) == 8
    assert np.load(tmp_path / "o.npy").shape == (224, 224, 3)
    side = json.loads(written[1].read_text())
    assert side["predicted_name"] == "missile" and side["explained_name"] == "missile"
    assert window.colour.rendered.shape == (224, 224, 3)
    grid = window.grid.model
    tiles = [grid.data(grid.index(r)) for r in range(3)]
    assert tiles[0].endswith("→Egyptian cat") and tiles[1].endswith("→espresso")
    thumb = grid.data(grid.index(0), Qt.ItemDataRole.DecorationRole).toImage()
    assert not thumb.isGrayscale()  # colour thumbnails
    combo = window.rules.target_selector
    assert combo.isEditable()
    completer = combo.completer()
    completer.setCompletionPrefix("ESPRESSO")  # anywhere in the name, any case
    found = [completer.completionModel().index(r, 0).data()
             for r in range(completer.completionCount())]
    assert found == ["class espresso maker", "class espresso"]


def test_a_class_name_typed_in_full_and_entered_is_the_target(make_window, colour_files,
                                                               qtbot):
    """Typing "egyptian cat" into the target box and pressing Enter left the box showing it
    while "predicted class" was still explained; text naming no single class ("thing" is
    in 29 names) goes back to the class explained."""
    model_path, photos = colour_files
    window = make_window(model=model_path, dataset=photos)
    s, combo = window.state, window.rules.target_selector
    edit = combo.lineEdit()

    def enter(text):
        edit.selectAll()
        edit.insert(text)
        qtbot.keyClick(edit, Qt.Key.Key_Return)

    enter("egyptian cat")
    qtbot.waitUntil(lambda: s.target == "17", timeout=5000)
    assert combo.itemText(combo.currentIndex()) == edit.text() == "class Egyptian cat"
    qtbot.waitUntil(lambda: s.relevance is not None and s.explanation.request.target == "17",
                    timeout=20000)
    for text in ("thing", "no such class"):
        enter(text)
        assert s.target == "17" and edit.text() == "class Egyptian cat", text
    enter("29")  # a class index
    qtbot.waitUntil(lambda: s.target == "29", timeout=5000)
