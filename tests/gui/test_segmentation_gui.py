"""The explorer opens a segmentation model (an output map N×K×H×W; tests/data/zoo/segment,
a small FCN) and explains the pixels of the chosen class: the target chooser lists the map's
K classes, the predicted class is the one at the most pixels, and a class predicted nowhere
is an error in the window, which stays up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import lrpcore
from lrpcore.map_targets import class_scores, predicted_classes

pytest.importorskip("onnx")

MODEL = Path(__file__).resolve().parents[1] / "data" / "zoo" / "segment_ts.onnx"


def _explained(window, qtbot, target):
    """Choose ``target`` in the window and wait for its explanation (or its error)."""
    with qtbot.waitSignal(window.state.events.explanation, timeout=20000):
        window.rules.target_selector.setCurrentIndex(
            window.rules.target_selector.findData(target))


def _photos(tmp_path):
    """Sample 0 misses a class of its map; three noise images after it."""
    from segment_photos import photo_with_an_absent_class

    first, _ = photo_with_an_absent_class(lrpcore.load_model(MODEL))
    noise = np.random.default_rng(3).integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    data = tmp_path / "photos.npy"
    np.save(data, np.concatenate([first[None], noise]))
    return data, np.load(data)


def test_window_explains_the_pixels_of_a_class(make_window, qtbot, tmp_path):
    data, images = _photos(tmp_path)
    window = make_window(model=str(MODEL), dataset=data)
    s = window.state
    model = s.model
    y = lrpcore.Explainer(model, dtype=s.dtype).forward(images).outputs()
    # the chooser offers the map's 4 classes, not its 16×16×4 values
    selector = window.rules.target_selector
    assert [selector.findData(str(k)) >= 0 for k in range(5)] == [True] * 4 + [False]
    result = s.explanation
    assert result.prediction == predicted_classes(y)[0]
    np.testing.assert_allclose(result.scores, class_scores(y)[0])  # pixel shares, sum 1
    assert abs(float(np.sum(result.scores)) - 1) < 1e-12
    assert window.scores.getAxis("left").labelText == "share of pixels"
    assert s.relevance.shape == (16, 16, 3)
    want = lrpcore.explain(model, images[:1], rule=s.rule, dtype=s.dtype, target="pred")[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-9, atol=1e-12)
    # the dataset's predictions: the class at the most pixels of each sample
    qtbot.waitUntil(lambda: s.predictions is not None and (s.predictions >= 0).all(),
                    timeout=20000)
    np.testing.assert_array_equal(s.predictions, predicted_classes(y))

    counts = np.bincount(y[0].argmax(-1).ravel(), minlength=4)
    other = int(np.argsort(counts)[-2])  # predicted at some pixels, not the most
    assert counts[other] > 0
    _explained(window, qtbot, str(other))
    want = lrpcore.explain(model, images[:1], rule=s.rule, dtype=s.dtype, target=other)[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-9, atol=1e-12)
    assert not np.allclose(s.relevance, 0)

    figure = window.export_figure(path=str(tmp_path / "figure.png"), scale=4)
    title = json.loads(Path(f"{figure[0]}.json").read_text())["title"]
    assert title[0].endswith(f"relevance for class {other}")  # no "(score …)": a share
    absent = int(np.flatnonzero(counts == 0)[0])  # predicted nowhere: said, not drawn
    selector.setCurrentIndex(selector.findData(str(absent)))
    qtbot.waitUntil(lambda: bool(window.last_error), timeout=20000)
    assert f"class {absent} is predicted at no pixel" in window.last_error
    assert window.isVisible() and s.model is model


def test_tools_on_a_segmentation_model_compare_its_classes_or_say_why_not(make_window, qtbot,
                                                                          tmp_path):
    """Compare explains each class the map predicts; pixel-flipping follows one class score
    per sample, which a map has not: one sentence in the panel, the window stays up."""
    data, images = _photos(tmp_path)
    window = make_window(model=str(MODEL), dataset=data)
    predicted = int(window.state.explanation.prediction)
    panel = window.insight.panels["pixelflip"]
    window.insight.actions["pixelflip"].trigger()
    qtbot.waitUntil(lambda: panel.last_error is not None, timeout=20000)
    assert "pixel-flipping follows one class score per sample; this segmentation model's " \
           "output is a 16×16×4 map per sample" in panel.last_error
    compare = window.insight.panels["compare"]
    window.insight.actions["compare"].trigger()
    qtbot.waitUntil(lambda: compare.last_error is not None or compare.result is not None,
                    timeout=20000)
    assert compare.last_error is None, compare.last_error
    y = lrpcore.Explainer(window.state.model, dtype=window.state.dtype).forward(
        images[:1]).outputs()
    assert predicted == predicted_classes(y)[0]  # the class at the most pixels
    assert f"predicted {predicted} " in compare.info.text()
    # the number beside it is the class's share of the pixels, not an output score
    assert f"(share of pixels {class_scores(y)[0].max():.4g})" in compare.info.text()
    assert window.isVisible()


def test_spray_clusters_the_pixels_of_the_class_at_the_most_pixels(make_window, qtbot,
                                                                     tmp_path):
    """SpRAy of a segmentation model explains each sample's class at the most pixels (as
    'lrp spray' does): on labelled data it asked for target 'true', which says nothing about
    pixels, and was then refused outright; the labels still choose the samples of a class."""
    data, images = _photos(tmp_path)
    labelled = tmp_path / "photos_images.npy"
    np.save(labelled, images)
    np.save(tmp_path / "photos_labels.npy", np.arange(len(images)) % 4)
    window = make_window(model=str(MODEL), dataset=labelled)
    assert window.state.labels is not None
    panel = window.insight.show("spray")
    panel.k_spin.setValue(2)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.run_button.click()
    assert panel.last_error is None, panel.last_error
    r = panel.result
    assert r.meta["target"] == "pred" and r.indices.tolist() == list(range(len(images)))
    want = lrpcore.explain(window.state.model, images, rule=r.meta["rule"], target="pred",
                           dtype="float64").sum(axis=1)
    np.testing.assert_allclose(r.heatmaps, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    assert "each explained for its predicted class" in panel.summary.text()
    assert window.isVisible()


def test_the_accuracy_line_says_what_it_compares_on_a_segmentation_model(make_window, qtbot,
                                                                          tmp_path):
    """Per-sample labels say nothing about a map's pixels: the line compared the class at the
    most pixels with them under the name "accuracy"; it now says what it compares."""
    _, images = _photos(tmp_path)
    labelled = tmp_path / "photos_images.npy"
    np.save(labelled, images)
    labels = np.arange(len(images)) % 4
    np.save(tmp_path / "photos_labels.npy", labels)
    window = make_window(model=str(MODEL), dataset=labelled)
    s = window.state
    qtbot.waitUntil(lambda: s.accuracy is not None, timeout=20000)
    y = lrpcore.Explainer(s.model, dtype=s.dtype).forward(images).outputs()
    agree = float(np.mean(predicted_classes(y) == labels))
    label = window.browser.accuracy_label
    assert label.text() == f"class at the most pixels = label on photos_images.npy: " \
                           f"{100 * agree:.2f} %"
    assert "not the model's accuracy" in label.toolTip()
    assert "accuracy on" not in label.text()
    # the grid's filter and tiles say the same: no sample is "misclassified"
    grid = window.grid
    assert grid.mis_only.text() == "most-pixels class ≠ label only"
    assert "no misclassification" in grid.mis_only.toolTip()
    qtbot.waitUntil(lambda: s.predictions is not None and (s.predictions >= 0).all(),
                    timeout=20000)
    grid.set_order("dataset")  # row r is sample r
    wrong = int(np.flatnonzero(predicted_classes(y) != labels)[0])
    tip = grid.model.data(grid.model.index(wrong, 0), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("(class at the most pixels ≠ label)") and "misclassified" not in tip


def test_concepts_references_of_a_class_leave_out_samples_without_it(make_window, qtbot,
                                                                     tmp_path):
    """RelMax references explain every sample of the dataset for the class: the first one
    whose map predicts it nowhere ended the search with 'class … is predicted at no pixel'."""
    data, images = _photos(tmp_path)
    window = make_window(model=str(MODEL), dataset=data)
    y = lrpcore.Explainer(window.state.model, dtype=window.state.dtype).forward(
        images).outputs()
    has = np.stack([(y.argmax(-1) == k).reshape(len(y), -1).any(axis=1) for k in range(4)])
    absent = next(k for k in range(4) if not has[k, 0] and has[k, 1:].sum() >= 1)
    panel = window.insight.show("concepts")
    qtbot.waitUntil(lambda: panel.result is not None or panel.last_error is not None,
                    timeout=60000)
    window.state.target = str(absent)
    panel.clear_error()
    assert panel.find_references()
    qtbot.waitUntil(lambda: panel.references is not None or panel.last_error is not None,
                    timeout=60000)
    assert panel.last_error is None, panel.last_error
    refs = panel.references
    assert 0 not in refs.samples and not refs.channel_relevance[0].any()
    assert set(refs.samples.ravel().tolist()) <= set(np.flatnonzero(has[absent]).tolist())
    assert window.isVisible()


def test_misclassified_option_says_what_it_shows_of_a_segmentation_model(make_window, capsys,
                                                                        tmp_path):
    """lrp-explorer's --misclassified said 'misclassified' of a map model in its help and in
    its refusal without labels, where the grid's filter says 'most-pixels class ≠ label'."""
    from argparse import Namespace

    from lrpgui.app import _apply_options, parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(of a segmentation model: those whose class at the most pixels is not their " \
           "label)" in help_text
    data, _ = _photos(tmp_path)
    window = make_window(model=str(MODEL), dataset=data)
    assert window.state.labels is None
    options = Namespace(rule=None, colormap=None, sample=None, dtype=None, misclassified=True)
    problems = _apply_options(window, options)
    assert problems == ["--misclassified: photos.npy has no labels, so no sample's class at "
                        "the most pixels can be compared with a label"]
    assert not window.state.misclassified_only


# -- the region control: the target's pixels in a box of the map (lrp explain --region) -----
def _region_window(make_window, qtbot, tmp_path, labelled=False):
    data, images = _photos(tmp_path)
    if labelled:
        data = tmp_path / "photos_images.npy"
        np.save(data, images)
        np.save(tmp_path / "photos_labels.npy", np.arange(len(images)) % 4)
    window = make_window(model=str(MODEL), dataset=data)
    return window, images


def _whole_and_region(window, images, region):
    s = window.state
    kw = dict(rule=s.rule, dtype=s.dtype, target="pred")
    whole = lrpcore.explain(s.model, images[:1], **kw)[0].transpose(1, 2, 0)
    boxed = lrpcore.explain(s.model, images[:1], region=region, **kw)[0].transpose(1, 2, 0)
    return whole, boxed


def _drag(monkeypatch, widget, box, start, end):
    """A left-button drag on a pyqtgraph view from image point ``start`` to ``end`` (x, y),
    through the viewport's mouse events (pyqtgraph drops moves that come faster than a
    hand's, as a test's do)."""
    import pyqtgraph as pg
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    port = widget.viewport()
    points = [QPointF(widget.mapFromScene(box.mapViewToScene(QPointF(*p)))) for p in
              (start, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), end)]
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier
    monkeypatch.setitem(pg.CONFIG_OPTIONS, "mouseRateLimit", 0)

    def send(kind, pos, button, buttons):
        QApplication.sendEvent(port, QMouseEvent(kind, pos, port.mapToGlobal(pos), button,
                                                 buttons, mods))

    send(QEvent.Type.MouseMove, points[0], none, none)
    send(QEvent.Type.MouseButtonPress, points[0], left, left)
    for p in points[1:]:
        send(QEvent.Type.MouseMove, p, none, left)
    send(QEvent.Type.MouseButtonRelease, points[-1], left, none)


def test_region_control_explains_the_pixels_of_a_box_typed_or_drawn(make_window, qtbot,
                                                                     tmp_path, monkeypatch):
    """A researcher explains the target's pixels in a box of the map (lrp explain
    --region): typed as Y0:Y1,X0:X1 or dragged on a view, 'whole map' goes back; a bad box
    is said and the explanation on display stays."""
    window, images = _region_window(make_window, qtbot, tmp_path)
    s, control = window.state, window.rules.region
    assert control.isVisibleTo(window.rules) and s.region is None
    assert control.edit.placeholderText() == "whole map"
    y = lrpcore.Explainer(s.model, dtype=s.dtype).forward(images[:1]).outputs()
    region = (2, 10, 3, 12)
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region):
        control.edit.setText("2:10,3:12")
        control.edit.editingFinished.emit()
    assert s.region == region
    whole, boxed = _whole_and_region(window, images, region)
    np.testing.assert_allclose(s.relevance, boxed, rtol=1e-9, atol=1e-12)
    assert not np.allclose(boxed, whole)
    inside = int(predicted_classes(y, region=region)[0])  # pred: the most pixels inside
    title = window.views.heat_title.text
    assert f"predicted class {inside} in rows 2:10, columns 3:12" in title
    frame = window.views.region_frames[1]
    assert frame.isVisible() and frame.rect().getCoords() == (3, 2, 12, 10)

    # exports record the region as lrp explain's sidecars do
    png = window.export_png(path=str(tmp_path / "boxed.png"))
    npy = window.export_npy(path=str(tmp_path / "boxed.npy"))
    for paths in (png, npy):
        side = json.loads(Path(f"{paths[0]}.json").read_text())
        assert side["region"] == list(region) and side["explained_class"] == inside
    np.testing.assert_allclose(np.load(npy[0]), boxed.transpose(2, 0, 1), rtol=1e-9,
                               atol=1e-12)
    folder = tmp_path / "batch"
    folder.mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=60000):
        window.batch_export(folder=str(folder), scope="filtered", formats=("npy",))
    side = json.loads((folder / "relevance_0.npy.json").read_text())
    assert side["region"] == list(region)
    want = lrpcore.explain(s.model, images, rule=s.rule, dtype=s.dtype, region=region)
    np.testing.assert_allclose(np.load(folder / "relevance_0.npy"), want[0], rtol=1e-9,
                               atol=1e-12)

    # drawn: a drag on the heatmap view over rows 0:8, columns 8:16 of the 16×16 map
    control.draw_button.click()
    assert window.views.drawing
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None
                          and r.request.region == (0, 8, 8, 16)):
        _drag(monkeypatch, window.views.heat_widget, window.views.heat_box, (8.2, 0.3), (15.6, 7.7))
    assert s.region == (0, 8, 8, 16) and control.edit.text() == "0:8,8:16"
    assert not window.views.drawing and not control.draw_button.isChecked()
    np.testing.assert_allclose(s.relevance, _whole_and_region(window, images, s.region)[1],
                               rtol=1e-9, atol=1e-12)

    # a box outside the map: said, the one explained stays
    control.edit.setText("5:20,0:4")
    control.edit.editingFinished.emit()
    assert "not a box inside the 16×16 output map" in window.last_error
    assert s.region == (0, 8, 8, 16) and control.edit.text() == "0:8,8:16"

    # whole map again
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region is None):
        control.reset_button.click()
    assert s.region is None and control.edit.text() == "" and not frame.isVisible()
    np.testing.assert_allclose(s.relevance, whole, rtol=1e-9, atol=1e-12)
    assert window.isVisible()


def test_region_control_only_for_a_model_with_an_output_map(make_window):
    window = make_window()  # the toy classifier
    control = window.rules.region
    assert not control.isVisibleTo(window.rules)
    label = window.rules._form.labelForField(control)
    assert label is not None and not label.isVisibleTo(window.rules)


def test_concepts_and_spray_explain_the_region(make_window, qtbot, tmp_path):
    """The Concepts panel and the SpRAy window explain the pixels of the region on display,
    as lrp concepts and lrp spray --region do."""
    from lrpcore import concepts
    from lrpcore.explain import resolve_rules

    window, images = _region_window(make_window, qtbot, tmp_path, labelled=True)
    s = window.state
    region = (0, 8, 0, 16)
    s.region = region
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    panel = window.insight.show("concepts")
    qtbot.waitUntil(lambda: panel.result is not None or panel.last_error is not None,
                    timeout=60000)
    assert panel.last_error is None, panel.last_error
    ex = lrpcore.Explainer(s.model)
    fwd = ex.forward(ex.prepare(images[:1]), raw=True)
    config = resolve_rules(ex.layers, s.rule, {})
    layer = panel.layer()
    want = concepts.rank_channels(fwd, layer, config, "pred", region=region)
    whole = concepts.rank_channels(fwd, layer, config, "pred")
    np.testing.assert_allclose(panel.result.ranking.relevance, want.relevance, rtol=1e-6,
                               atol=1e-9)
    assert not np.allclose(want.relevance, whole.relevance)

    spray_panel = window.insight.show("spray")
    spray_panel.k_spin.setValue(2)
    with qtbot.waitSignal(spray_panel.updated, timeout=60000):
        spray_panel.run_button.click()
    assert spray_panel.last_error is None, spray_panel.last_error
    r = spray_panel.result
    assert r.meta["region"] == list(region)
    heat = lrpcore.explain(s.model, images[r.indices], rule=r.meta["rule"], target="pred",
                           dtype="float64", region=region).sum(axis=1)
    np.testing.assert_allclose(r.heatmaps, heat, rtol=1e-5, atol=1e-6 * np.abs(heat).max())
    assert "the pixels in rows 0:8, columns 0:16 only" in spray_panel.summary.text()

    # RelMax references of the region's pixels; another region makes them none of its own
    from lrpcore import relmax

    assert panel.find_references()
    qtbot.waitUntil(lambda: panel.references is not None or panel.last_error is not None,
                    timeout=60000)
    assert panel.last_error is None, panel.last_error
    want = relmax.references(ex, images, layer, config, "pred", n=8, use_cache=False,
                             region=region)
    np.testing.assert_allclose(panel.references.channel_relevance, want.channel_relevance,
                               rtol=1e-6, atol=1e-9)
    assert panel.gallery_outlines  # drawn
    s.region = (8, 16, 0, 16)
    assert panel.references is None and not panel.gallery_outlines


def test_region_comes_back_after_a_restart_for_the_same_model(make_window, qtbot, tmp_path):
    from lrpgui import MainWindow

    window, _ = _region_window(make_window, qtbot, tmp_path)
    window.state.region = (4, 12, 2, 9)
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    window.close()
    again = MainWindow()  # the last session's files, then its view
    qtbot.addWidget(again)
    again.show()
    s = again.state
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    assert s.region == (4, 12, 2, 9) and s.explanation.request.region == (4, 12, 2, 9)
    assert again.rules.region.edit.text() == "4:12,2:9"
    assert all(frame.isVisible() for frame in again.views.region_frames)
    again.close_dataset()  # the region stays with the model; no frame around nothing
    assert s.region == (4, 12, 2, 9)
    assert not any(frame.isVisible() for frame in again.views.region_frames)
    again.close()


def test_compare_explains_the_region_as_the_main_view(make_window, qtbot, tmp_path):
    """Compare explained the classes' pixels in the whole map while the main view showed a
    region's: its first row is now the main view's heatmap, the gradient baselines start in
    the box too, and 'all' lists the classes predicted inside it."""
    from .insight_helpers import open_tool, rerun

    window, images = _region_window(make_window, qtbot, tmp_path)
    s = window.state
    y = lrpcore.Explainer(s.model, dtype=s.dtype).forward(images[:1]).outputs()
    region = (0, 6, 0, 16)
    s.region = region
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, lambda: view.set_rules([s.rule, "gradxinput"]))
    assert view.last_error is None, view.last_error
    np.testing.assert_allclose(view.cell_maps[(0, 0)], s.relevance.sum(axis=-1), rtol=1e-6,
                               atol=1e-9)
    boxed = view.cell_maps[(1, 0)]
    s.region = None
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    rerun(qtbot, view, view.refresh)
    assert not np.allclose(view.cell_maps[(1, 0)], boxed)  # the baseline followed the box
    s.region = (0, 1, 0, 1)  # one pixel: one class
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    rerun(qtbot, view, lambda: view.set_mode("all"))
    assert view.last_error is None, view.last_error
    assert list(view.result.comparison.classes) == [int(y[0, 0, 0].argmax())]
    assert len(np.unique(y[0].argmax(-1))) > 1


def test_region_launch_option_opens_on_a_box_and_refuses_a_bad_one(make_window, qtbot,
                                                                    tmp_path, capsys):
    """lrp-explorer --region Y0:Y1,X0:X1 starts on a box of the map, as lrp explain --region
    explains (the explorer had no such option: a box was only typed or drawn); a box outside
    the map or a model without one is refused in words, the whole map stays."""
    from argparse import Namespace

    from lrpgui.app import _apply_options, parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    assert "--region Y0:Y1,X0:X1" in capsys.readouterr().out
    assert parse_args(["--region", "2:10,3:12"]).region == "2:10,3:12"

    def options(region):
        return Namespace(rule=None, colormap=None, sample=None, dtype=None,
                         misclassified=False, region=region)

    window, images = _region_window(make_window, qtbot, tmp_path)
    s = window.state
    assert _apply_options(window, options("0:99,0:4")) == [
        "--region 0:99,0:4: region rows 0:99, columns 0:4 is not a box inside the 16×16 "
        "output map (0 ≤ y0 < y1 ≤ 16, 0 ≤ x0 < x1 ≤ 16)"]
    problem, = _apply_options(window, options("2-10"))
    assert problem.startswith("--region 2-10: region '2-10': give rows and columns")
    assert s.region is None
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region):
        assert _apply_options(window, options("2:10,3:12")) == []
    assert s.region == (2, 10, 3, 12)
    np.testing.assert_allclose(s.relevance, _whole_and_region(window, images, s.region)[1],
                               rtol=1e-9, atol=1e-12)


def test_region_launch_option_is_refused_for_a_model_without_a_map(make_window):
    from argparse import Namespace

    from lrpgui.app import _apply_options

    window = make_window()  # the toy classifier
    problems = _apply_options(window, Namespace(rule=None, colormap=None, sample=None,
                                                dtype=None, misclassified=False,
                                                region="0:4,0:4"))
    assert problems == ["--region 0:4,0:4: a region selects pixels of a segmentation model's "
                        "output map; the open model's output is no map"]
    assert window.state.region is None
