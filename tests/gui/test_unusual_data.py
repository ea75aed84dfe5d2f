"""The window with data that is not a tidy MNIST set: a 2-feature model (the toolbox's XOR
net), datasets with NaN samples, labels missing, a model with fewer classes than the target;
and the cancel and labelling details a user meets on the way."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QWidget

import lrpcore
from lrpgui import services
from lrpgui.item_models import DATASET_INDEX_ROLE

from .waiting import HeldAfterFirst, settle

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 3, dtype=np.float64)


@pytest.fixture
def xor_files(tmp_path):
    """A 2-3-3-2 tanh net in the toolbox's text format (as ``xor_net_small.txt``) and a float
    N×2 dataset with its labels beside it."""
    from lrpcore.layers import Linear, SoftMax, Tanh

    rng = np.random.default_rng(5)
    layers = [Linear(rng.normal(0, 1.5, (2, 3)), rng.normal(0, 0.5, 3)), Tanh(),
              Linear(rng.normal(0, 1.5, (3, 3)), rng.normal(0, 0.5, 3)), Tanh(),
              Linear(rng.normal(0, 1.5, (3, 2)), rng.normal(0, 0.5, 2)), SoftMax()]
    model = tmp_path / "xor_net.txt"
    lrpcore.save_model(lrpcore.Sequential(layers), model)
    data = tmp_path / "xor_data.npy"
    np.save(data, XOR_INPUTS)
    np.save(tmp_path / "xor_labels.npy", (XOR_INPUTS[:, 0] != XOR_INPUTS[:, 1]).astype(int))
    return model, data


def click_row(qtbot, window, row):
    grid = window.findChild(QWidget, "sampleGrid")
    rect = grid.visualRect(grid.model().index(row))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def tile(window, row) -> QImage:
    grid = window.findChild(QWidget, "sampleGrid")
    return grid.model().data(grid.model().index(row), Qt.ItemDataRole.DecorationRole).toImage()


# -- a model whose input is no image ----------------------------------------------------------
def test_two_feature_model_explains_draws_and_hovers(make_window, qtbot, xor_files,
                                                      dialogs_shown):
    """Before: the views raised "a flat vector of 2 values is not a square image" and the
    grid "not enough values to unpack" (exceptions in Qt's event loop, nothing drawn)."""
    window = make_window(*xor_files)
    window.grid.set_order("dataset")  # row r is sample r
    s = window.state
    assert s.model.input_spec.shape == (2,) and not dialogs_shown
    click_row(qtbot, window, 1)  # sample 1 = (0, 1)
    qtbot.waitUntil(lambda: s.relevance is not None and s.sample_index == 1, timeout=20000)
    want = lrpcore.explain(s.model, XOR_INPUTS[1:2], rule=s.rule)[0]
    np.testing.assert_allclose(s.relevance, want, rtol=1e-12, atol=1e-15)
    qtbot.waitUntil(lambda: window.state.explanation.index == 1, timeout=20000)
    # one cell per feature, in one row, in both views
    scaling = window.views.rendered_rgb.shape[0]
    assert window.views.rendered_rgb.shape[:2] == (scaling, 2 * scaling)
    assert window.views.input_item.image.shape[:2] == (scaling, 2 * scaling)
    text = window.views.describe_point(QPointF(1.5, 0.5))
    assert text == f"row 0, col 1: input 1, relevance {want[1]:+.4g}"
    assert window.views.describe_point(QPointF(2.5, 0.5)) == ""
    # thumbnails are strips drawn like the input view: (0, 1) and (1, 0) differ
    a, b = tile(window, 1), tile(window, 2)
    left, right = strip_cells(a), strip_cells(b)
    assert left[0] != left[1] and left[0] == right[1] and left[1] == right[0]


def strip_cells(image: QImage) -> tuple:
    """The colours at the centres of a centred two-cell strip's cells (thumbnail())."""
    w, h = image.width(), image.height()
    return image.pixelColor(w // 4, h // 2), image.pixelColor(3 * w // 4, h // 2)


def test_two_feature_thumbnails_stand_centred_and_framed(make_window, qtbot, xor_files,
                                                        toy_files):
    """XOR's 2×1 strips were 56×28 pictures drawn at the top of their 56×56 place, with their
    white cells lost in the white tile: (0, 1) looked like a black square shifted right, (0, 0)
    like an empty tile (the input and heatmap views alike). Every tile picture is now the
    square a digit's is, the strip centred in it and framed; the views frame it too."""
    from lrpgui.item_models import THUMB

    window = make_window(*xor_files)
    window.grid.set_order("dataset")  # row r is sample r
    for row in range(4):
        image = tile(window, row)
        assert (image.width(), image.height()) == (THUMB, THUMB)
        alpha = np.array([[image.pixelColor(x, y).alpha() for x in range(THUMB)]
                          for y in range(THUMB)])
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        assert rows[0] > 0 and rows[0] == THUMB - 1 - rows[-1]  # centred top to bottom
        assert (cols[0], cols[-1]) == (0, THUMB - 1)  # the whole width
        assert rows.size == THUMB // 2
    blank = tile(window, 0)  # (0, 0): two white cells, seen by their frame
    edge = blank.pixelColor(0, THUMB // 2)
    assert edge.alpha() == 255 and edge != blank.pixelColor(THUMB // 4, THUMB // 2)
    # the input and heatmap views frame the strip alike (a digit's pictures stay unframed)
    views = window.views
    for item in (views.input_item, views.heat_item):
        assert item.border.style() != Qt.PenStyle.NoPen
    window.close_dataset()
    assert window.open_model(str(toy_files[0]))
    assert window.open_dataset(str(toy_files[1]))
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.input_unit.ndim > 1, timeout=20000)
    for item in (views.input_item, views.heat_item):
        assert item.border.style() == Qt.PenStyle.NoPen


def test_image_exports_of_a_two_feature_model_are_refused_before_asking(
        make_window, xor_files, dialogs_shown, monkeypatch, tmp_path):
    """PNG, figure and all-colormaps exports of the XOR net asked for a file name (and a
    figure scale) first, then failed; the refusal now comes before any question, while the
    .npy export still asks and writes."""
    window = make_window(*xor_files)
    asked = []
    monkeypatch.setattr("lrpgui.dialogs.ask_save_file",
                        lambda parent, title, *a: asked.append(title) or str(tmp_path / "x"))
    monkeypatch.setattr("lrpgui.dialogs.ask_folder",
                        lambda parent, title, *a: asked.append(title) or str(tmp_path))
    monkeypatch.setattr("lrpgui.dialogs.ask_figure_scale",
                        lambda parent, scale: asked.append("scale") or 4)
    for export in (window.export_png, window.export_figure, window.export_all_colormaps,
                   window.export_overlay):
        assert export() == []
    assert asked == [] and len(dialogs_shown) == 4
    assert all("not a square image" in text for _title, text in dialogs_shown)
    monkeypatch.setattr("lrpgui.dialogs.ask_save_file",
                        lambda parent, title, *a: asked.append(title) or str(tmp_path / "r.npy"))
    assert window.export_npy() and asked == ["Export relevance"]


def test_two_feature_model_in_the_compare_view(make_window, qtbot, xor_files):
    """Before: ``imaging.fit`` indexed shape[1] of the 2-vector (IndexError on display)."""
    window = make_window(*xor_files)
    panel = window.insight.show("compare")
    panel.set_rules(["epsilon:0.01", "gradxinput"])
    qtbot.waitUntil(lambda: panel.result is not None and not panel.busy(), timeout=20000)
    assert panel.last_error is None
    assert panel.cell_maps[(0, 0)].shape == (1, 2)
    raw = window.state.dataset.images([window.state.sample_index])
    want = lrpcore.explain(window.state.model, raw, rule="epsilon:0.01")[0]
    np.testing.assert_allclose(panel.cell_maps[(0, 0)][0], want, rtol=1e-10, atol=1e-15)
    # a class-score model's info line gives the predicted output (a map's: its pixel share)
    assert f"(output {np.max(panel.result.comparison.outputs):.4g})" in panel.info.text()


# -- broken samples ---------------------------------------------------------------------------
def test_dataset_whose_first_sample_is_nan_is_refused(make_window, tmp_path, dialogs_shown):
    """Before: the dataset was taken and the DatasetError escaped from ``open_dataset``."""
    window = make_window()
    s = window.state
    before = (s.model, s.dataset, s.dataset_name, s.explanation)
    bad = np.zeros((5, 28, 28))
    bad[0, 4, 4] = np.nan
    np.save(tmp_path / "nan_images.npy", bad)
    assert window.open_dataset(str(tmp_path / "nan_images.npy")) is False
    assert (s.model, s.dataset, s.dataset_name, s.explanation) == before
    assert dialogs_shown[-1][0] == "Cannot open dataset"
    assert "sample 0" in dialogs_shown[-1][1] and "NaN" in dialogs_shown[-1][1]


def test_a_nan_sample_later_in_the_dataset(make_window, qtbot, tmp_path, dialogs_shown):
    """Before: its thumbnail raised inside the item model, clicking it raised from
    ``request_explanation`` and the accuracy pass failed as a whole; now a blank tile, a
    dialog on click (the previous picture stays), predictions for all other samples."""
    images = np.random.default_rng(1).random((12, 28, 28))
    images[3, 10, 10] = np.nan
    path = tmp_path / "part_images.npy"
    np.save(path, images)
    np.save(tmp_path / "part_labels.npy", np.arange(12) % 10)
    window = make_window(dataset=path)
    # the broken sample costs only its own prediction (before: "Accuracy failed", none at all)
    predictions = window.state.predictions
    assert predictions[3] == -1 and np.count_nonzero(predictions >= 0) == 11
    assert window.state.accuracy is not None and not dialogs_shown
    blank = tile(window, 3)
    assert blank.width() > 0 and len({blank.pixelColor(x, y).name() for x in range(0, 50, 7)
                                      for y in range(0, 50, 7)}) == 1
    shown = window.state.explanation
    click_row(qtbot, window, 3)
    assert window.state.sample_index == 3
    qtbot.waitUntil(lambda: any(t == "Explanation failed" for t, _ in dialogs_shown),
                    timeout=20000)
    assert "sample 3" in dialogs_shown[-1][1]
    assert window.state.explanation is shown and window.state.relevance is shown.relevance
    click_row(qtbot, window, 4)  # the next good sample explains as usual
    qtbot.waitUntil(lambda: window.state.relevance is not None
                    and window.state.explanation.index == 4, timeout=20000)


def test_labels_of_classes_the_model_lacks_are_refused(make_window, tmp_path, toy_files,
                                                       dialogs_shown):
    """Before: labels up to 11 for a 10-class model opened; accuracy 0 %, every true-class
    explanation failed, the outlined score pointed nowhere."""
    window = make_window()
    s = window.state
    before = (s.dataset, s.explanation)
    np.save(tmp_path / "other_images.npy", np.load(toy_files[1]))
    np.save(tmp_path / "other_labels.npy", np.arange(120) % 12)
    assert window.open_dataset(str(tmp_path / "other_images.npy")) is False
    assert (s.dataset, s.explanation) == before
    title, message = dialogs_shown[-1]
    assert title == "Dataset does not fit the model"
    assert "other_images.npy" in message and "11" in message and "10 outputs" in message
    # the other way round: a 2-class model for the open 10-class data
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec

    two = tmp_path / "two-classes.npz"
    layers = [Flatten(), Linear(np.full((784, 2), 0.01), np.zeros(2))]
    lrpcore.save_model(lrpcore.Sequential(layers, InputSpec(shape=(28, 28, 1),
                                                            raw_shape=(28, 28, 1))), two)
    model = s.model
    assert window.open_model(str(two)) is False and s.model is model  # question cancelled
    assert "Model does not fit the dataset" in s.status and "2 outputs" in window.last_error


# -- settings that no longer apply ------------------------------------------------------------
def test_target_true_without_labels_falls_back_to_the_prediction(make_window, qtbot, tmp_path,
                                                                  toy_files, dialogs_shown):
    """Before: the selector showed "predicted class", the state kept "true" and every
    explanation of the new dataset failed ("target 'true' needs the samples' labels")."""
    window = make_window()
    window.findChild(QWidget, "targetSelector").setCurrentText("true")
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    np.save(tmp_path / "unlabelled.npy", np.load(toy_files[1])[:8])
    assert window.open_dataset(str(tmp_path / "unlabelled.npy"))
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert window.state.target == "pred" and not dialogs_shown
    assert window.findChild(QWidget, "targetSelector").currentData() == "pred"


def test_class_target_beyond_a_new_models_outputs_falls_back(make_window, qtbot, xor_files,
                                                             dialogs_shown):
    """Class 7 chosen on a 10-class model, then a 2-class model: before, the explanation
    failed ("target class 7 is out of range") while the selector showed "predicted class"."""
    window = make_window()
    window.findChild(QWidget, "targetSelector").setCurrentText("7")
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    window.close_dataset()
    assert window.open_model(str(xor_files[0])) and window.open_dataset(str(xor_files[1]))
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert window.state.target == "pred" and not dialogs_shown


def test_failed_first_explanation_of_a_new_dataset_shows_no_old_picture(
        make_window, qtbot, tmp_path, toy_files, dialogs_shown, monkeypatch):
    """Before: the previous dataset's sample came back as ``state.relevance`` and stayed
    on display, as if it belonged to the new dataset."""
    window = make_window()
    assert window.state.explanation is not None
    np.save(tmp_path / "other_images.npy", np.load(toy_files[1])[:6])

    def fail(*_args, **_kwargs):
        raise lrpcore.RuleError("no explanation today")

    monkeypatch.setattr(window.service, "run", fail)
    assert window.open_dataset(str(tmp_path / "other_images.npy"))
    qtbot.waitUntil(lambda: bool(dialogs_shown), timeout=20000)
    assert dialogs_shown[-1] == ("Explanation failed", "no explanation today")
    assert window.state.explanation is None and window.state.relevance is None
    assert window.views.rendered_rgb is None


def test_remembered_files_that_went_bad_give_way_to_the_defaults(qtbot, tmp_path, toy_files,
                                                                  dialogs_shown):
    """Before: a remembered dataset deleted since the last session left the window without
    a dataset (a remembered model that no longer loads, without a model), while a missing
    remembered model file already fell back to the bundled one."""
    from lrpcore import bundled
    from lrpgui import MainWindow

    data = tmp_path / "gone_images.npy"
    np.save(data, np.load(toy_files[1])[:5])
    first = MainWindow(model=str(toy_files[0]), dataset=str(data))
    qtbot.addWidget(first)
    qtbot.waitUntil(lambda: first.state.relevance is not None, timeout=20000)
    first.close()
    data.unlink()
    second = MainWindow()
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: not second.opening, timeout=20000)  # read on a worker
    assert second.state.model_path == str(toy_files[0])
    assert second.state.dataset_name == bundled.default_dataset()
    qtbot.waitUntil(lambda: second.state.relevance is not None, timeout=20000)
    assert "gone_images.npy" in second.last_error and not dialogs_shown  # reported quietly
    second.close()

    try:
        default_model = str(bundled.default_model_path())
    except lrpcore.LRPError:
        pytest.skip("no bundled model to fall back to")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not a model any more")
    second.settings.set("last/model", str(broken))
    second.settings.sync()
    third = MainWindow()
    qtbot.addWidget(third)
    qtbot.waitUntil(lambda: not third.opening, timeout=20000)  # read on a worker
    assert third.state.model_path == default_model and third.state.dataset is not None
    assert "broken.npz" in third.errors[0] and not dialogs_shown
    qtbot.waitUntil(lambda: third.state.relevance is not None, timeout=20000)
    third.close()


# -- cancel and labels ------------------------------------------------------------------------
def test_progress_dialog_cancel_slot_stops_the_batch_export(make_window, qtbot, tmp_path,
                                                            monkeypatch):
    """``QProgressDialog.cancel()`` emits no ``canceled``: before, the dialog vanished and
    the export went on writing every file."""
    window = make_window()
    window.batch_chunk = 5
    gate = HeldAfterFirst(monkeypatch, services, "model_read")  # stops after chunk 1
    out = tmp_path / "out"
    out.mkdir()
    ends = []
    window.export_finished.connect(lambda _paths: ends.append("finished"))
    window.export_cancelled.connect(lambda: ends.append("cancelled"))
    job = window.batch_export(str(out), scope="filtered", formats=("png", "npy"))
    token = window.controller._jobs[job].token
    dialog = window.findChild(QWidget, "exportProgress")
    dialog.cancel()  # at once: the first chunk's progress carries it to the job
    qtbot.waitUntil(token.cancelled, timeout=20000)
    gate.release()  # the second chunk may start now, and stops at once
    qtbot.waitUntil(lambda: bool(ends), timeout=30000)
    assert ends == ["cancelled"] and list(out.iterdir()) == []


def test_views_and_scores_say_what_they_show(make_window, qtbot):
    """Before: no titles: which sample, rule and class a heatmap explains was nowhere on
    screen, nor what red bars and outlines mean; grid tooltips read "sample 5: 3→8"."""
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    s = window.state
    s.rule = "EpsilonPlus"
    s.target = "3"
    s.sample_index = 5
    qtbot.waitUntil(lambda: s.relevance is not None and s.explanation.index == 5,
                    timeout=20000)
    heat, inp = window.views.heat_title.text, window.views.input_title.text
    assert "class 3" in heat and "EpsilonPlus" in heat
    assert "sample 5" in inp and f"true class {s.labels[5]}" in inp
    assert "predicted" in window.findChild(QWidget, "scoresPlot").plotItem.titleLabel.text
    grid = window.findChild(QWidget, "sampleGrid")
    index = grid.model().index(5)
    assert grid.model().data(index, DATASET_INDEX_ROLE) == 5
    tip = grid.model().data(index, Qt.ItemDataRole.ToolTipRole)
    pred = int(s.predictions[5])
    assert tip.startswith(f"sample 5: true class {s.labels[5]}, predicted {pred}")
    assert isinstance(window.findChild(QLabel, "hoverLabel"), QLabel)


def test_unknown_colormap_is_refused_at_assignment(make_window):
    """Before: ``state.colormap = "nope"`` was stored and every later redraw raised."""
    window = make_window()
    with pytest.raises(lrpcore.LRPError, match="nope"):
        window.state.colormap = "nope"
    assert window.state.colormap in window.findChild(QWidget, "colormapSelector").currentText()
    window.state.colormap = "gray-red"
    window.state.outline = False  # redraws with the valid map
    assert window.views.rendered_rgb is not None


def test_first_window_fits_the_screen(make_window):
    """Before: always 1400×900, so on a 1366×768 laptop the status bar and the sample grid
    lay below the screen's edge. (Offscreen, the screen is 800×800.)"""
    window = make_window()
    free = window.screen().availableGeometry()
    least = window.minimumSizeHint()
    assert window.height() <= max(free.height(), least.height())
    assert window.width() <= max(free.width(), least.width())


def test_profile_of_a_one_sample_dataset_says_why_it_cannot_measure(make_window, tmp_path,
                                                                    capsys):
    """Before: ``lrp-explorer --profile`` died with "no median for empty data"."""
    from PySide6.QtWidgets import QApplication

    from lrpgui.profiling import run_profile

    np.save(tmp_path / "one_images.npy", np.zeros((1, 28, 28), dtype=np.uint8))
    window = make_window(dataset=tmp_path / "one_images.npy")
    assert run_profile(QApplication.instance(), window, timeout=20) == 1
    assert "at least two" in capsys.readouterr().out


def test_missing_mnist_download_points_to_the_button(make_window, monkeypatch, dialogs_shown):
    """Before: the explorer only told its user to run ``lrp data download`` in a shell."""
    import lrpgui.sources

    window = make_window()

    def not_there(name):
        raise lrpcore.DatasetError(f"{name}: MNIST train files are not downloaded yet "
                                   "(missing x.gz); run 'lrp data download --kind train'")

    monkeypatch.setattr(lrpgui.sources, "open_dataset", not_there)
    assert window.open_dataset("mnist-train") is False
    assert "Download MNIST…" in dialogs_shown[-1][1]


def test_insight_tools_on_an_unreadable_sample_say_so_inline(make_window, qtbot, tmp_path,
                                                             dialogs_shown):
    """Before: showing a tool while a NaN sample was selected raised DatasetError from its
    refresh timer (a traceback, nothing on screen)."""
    images = np.random.default_rng(1).random((6, 28, 28))
    images[3, 10, 10] = np.nan
    np.save(tmp_path / "part_images.npy", images)
    window = make_window(dataset=tmp_path / "part_images.npy")
    window.state.sample_index = 3
    for name in ("conservation", "pixelflip"):
        panel = window.insight[name]
        window.insight.actions[name].trigger()
        qtbot.waitUntil(lambda p=panel: p.last_error is not None, timeout=5000)
        assert "sample 3" in panel.last_error and panel.error_label.isVisible()


def test_hidden_compare_view_computes_nothing(make_window, qtbot):
    """Before: the compare view ran a 5-rule comparison at every start although hidden."""
    window = make_window()
    panel = window.insight["compare"]
    qtbot.waitUntil(lambda: not panel._debounce.isActive())  # nothing pending to start
    settle(qtbot, window.controller)
    assert panel.result is None and not panel.busy() and not panel.isVisible()
    window.state.sample_index = 2
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    window.insight.actions["compare"].trigger()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=20000)
    assert panel.result.request.index == 2


def test_accuracy_on_the_training_data_says_so(make_window, toy_files):
    """Before: the bundled LeNet-5 showed "accuracy on mnist-sample: 99.90 %" beside its
    recorded 98.34 % test accuracy, with nothing saying these were its training digits."""
    from lrpcore import bundled

    try:
        path = bundled.default_model_path()
    except lrpcore.LRPError:
        pytest.skip("no bundled model")
    trained = lrpcore.load_model(path).meta.get("provenance", {}).get("dataset", "")
    if not trained.startswith("mnist-sample"):
        pytest.skip(f"the bundled model was trained on {trained!r}")
    window = make_window(model=path, dataset="mnist-sample")
    label = window.browser.accuracy_label.text()
    assert label.startswith("accuracy on mnist-sample:") and "training data" in label
    window.open_dataset(str(toy_files[1]))
    window.state.accuracy = 0.5
    assert "training data" not in window.browser.accuracy_label.text()
