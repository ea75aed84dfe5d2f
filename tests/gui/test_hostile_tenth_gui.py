"""Found by the tenth hostile review in the window: each test failed before its fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def own_toy(tmp_path, toy_files):
    """A copy of the toy model and samples (the shared ones must never be written over)."""
    model, images = (tmp_path / p.name for p in toy_files)
    for src, dst in zip(toy_files, (model, images), strict=True):
        shutil.copy(src, dst)
    return model, images


def test_an_overlay_never_replaces_the_npy_its_dialog_did_not_name(make_window, own_toy):
    """Export overlay to ``toy_images.png`` also wrote ``toy_images.npy`` beside it, with
    overwrite: the open samples were replaced by the overlay's array while the save dialog
    had asked about the PNG alone. An earlier overlay's .npy is still replaced."""
    model, images = own_toy
    before = images.read_bytes()
    window = make_window(model, images)
    assert window.export_overlay(str(images.with_suffix(".png"))) == []
    assert images.read_bytes() == before
    assert not images.with_suffix(".png").exists()
    assert "no overlay export" in window.last_error and "toy_images.npy" in window.last_error
    other = images.parent / "other.npy"
    np.save(other, np.arange(3))
    assert window.export_overlay(str(images.parent / "other.png")) == []
    assert np.array_equal(np.load(other), np.arange(3))
    # an overlay exported twice under one name replaces its own earlier files
    again = images.parent / "ov.png"
    assert len(window.export_overlay(str(again))) == 4
    assert len(window.export_overlay(str(again))) == 4


@pytest.mark.parametrize("which", ["dataset", "model", "sidecar"])
def test_an_export_over_a_file_the_explorer_reads_is_refused(make_window, own_toy, which):
    """Export relevance/PNG named as the open dataset's .npy (read as it is needed), the
    model or its sidecar replaced it once the save dialog's "replace?" was answered: the
    samples on display were gone. lrp explain refuses such an output even with --overwrite."""
    model, images = own_toy
    side = model.with_suffix(".json")
    side.write_text("{}")
    victim = {"dataset": images, "model": model, "sidecar": side}[which]
    before = victim.read_bytes()
    window = make_window(model, images)
    export = window.export_npy if which == "dataset" else window.export_png
    assert export(str(victim)) == []
    assert victim.read_bytes() == before
    assert "which the explorer reads" in window.last_error


def test_a_single_export_into_the_image_folder_explored_is_refused(make_window, own_toy,
                                                                  tmp_path):
    """The batch export refuses the image folder being explored (its heatmaps would be read
    as photos the next time); Export PNG and Export all colormaps wrote there."""
    from PIL import Image

    model, _ = own_toy
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(3):
        Image.fromarray(np.full((28, 28), 40 * k, np.uint8)).save(photos / f"{k}.png")
    window = make_window(model, photos)
    assert window.export_png(str(photos / "heatmap.png")) == []
    assert "being explored" in window.last_error
    assert window.export("colormaps", str(photos)) == []
    assert sorted(p.name for p in photos.iterdir()) == ["0.png", "1.png", "2.png"]


def test_the_model_summary_cuts_long_class_names_and_accuracy(tmp_path):
    """The browser's model summary (wrapping rich text) listed each class name and the
    recorded accuracy whole: 90,000-character names froze the window for minutes as it
    opened the model. Each name shows at most 60 characters, the accuracy at most 240."""
    import json

    import lrpcore
    from lrpgui.widgets.model_summary import summary_html

    m = tmp_path / "m.npz"
    shutil.copy(Path(lrpcore.__file__).parents[1] / "models" / "mnist-lenet5.npz", m)
    (tmp_path / "m.json").write_text(json.dumps({
        "class_names": [str(k) * 1000 for k in range(10)],
        "accuracy": {"top1": 0.5, "correct": 1, "n": 2, "dataset": "d" * 900_000}}))
    text = summary_html(lrpcore.load_model(m), str(m))
    assert len(text) < 5000, len(text)
    assert "0" * 59 + "…" in text


def test_a_spray_result_or_drawn_digits_never_replace_the_open_files(make_window, own_toy):
    """SpRAy's Save… (an .npz, as native models are) over the open model, and Export drawn
    digits (.npy) over the open samples, replaced them once the dialog's "replace?" was
    answered; both are refused, as the exports are."""
    from lrpcore.spray import SprayResult

    model, images = own_toy
    window = make_window(model, images)
    panel = window.insight.show("spray")
    n = 2
    panel.result = SprayResult(np.arange(n), np.zeros(n, np.int64), np.zeros((n, 28, 28)),
                               np.zeros((n, 4)), np.zeros(n, np.int64), np.zeros(2),
                               np.zeros((n, 2)))
    before = model.read_bytes()
    assert panel.save(str(model)) is None
    assert model.read_bytes() == before and "which the explorer reads" in panel.last_error
    draw = window.insight.panels["draw"]
    draw.scratch.append({"digit": np.zeros((28, 28), np.uint8)})
    before = images.read_bytes()
    assert draw.export_scratch(str(images)) is None
    assert images.read_bytes() == before and "which the explorer reads" in draw.last_error


def test_a_screenshot_named_as_the_photograph_shown_is_refused(tmp_path, toy_files):
    """lrp-explorer --dataset photo.png --screenshot photo.png replaced the photograph with
    the picture of the window (the CLI refuses an output that is one of its inputs)."""
    from PIL import Image

    from lrpgui.app import parse_args

    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((28, 28), 9, np.uint8)).save(photo)
    with pytest.raises(SystemExit):
        parse_args(["--model", str(toy_files[0]), "--dataset", str(photo),
                    "--screenshot", str(photo)])
    assert Image.open(photo).size == (28, 28)


def test_a_remembered_figure_scale_beyond_a_c_int_still_asks(qtbot):
    """A settings file's export/figure_scale of 99999999999999999999 was offered to the scale
    dialog, whose spin box takes a C int: OverflowError, and Export figure did nothing. A
    remembered scale is taken from 1 to 64 (the dialog's range), else one from the map."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from lrpgui import dialogs, flows

    for text in ("99999999999999999999", "65", "0064"):
        assert flows.figure_scale(text) == flows.DEFAULT_FIGURE_SCALE, text
    assert flows.figure_scale("64") == 64
    answered = []

    def answer():
        dialog = QApplication.activeModalWidget()
        if dialog is None:  # not shown yet: look again at the next turn of its loop
            QTimer.singleShot(10, answer)
            return
        answered.append(dialog)
        dialog.accept()

    QTimer.singleShot(0, answer)
    assert dialogs.ask_figure_scale(None, 10**20) == flows.MAX_FIGURE_SCALE
    assert answered


def test_the_sweep_table_marks_relevance_that_is_not_finite(make_window):
    """A sweep row of NaN maps (epsilon:1e-300 in float32) showed 'yes'/'⚠ no' for
    conservation like any other, and its NaN set the shared colour scale of every map beside
    it (each finite map was drawn on [−1, 1] instead of its own range)."""
    import lrpcore
    from lrpcore.insight.sweep import run_sweep

    window = make_window(model="mnist-lenet5")
    x = window.state.dataset.images(np.arange(2))
    result = run_sweep(lrpcore.load_model("mnist-lenet5"), x, "epsilon",
                       params={"epsilon": [1e-300, 1e-5]}, steps=2)
    panel = window.insight.show("sweep")
    panel.rows = list(result.rows)
    panel._fill()
    assert panel.table.item(1, 5).text() == "⚠ not finite"
    finite = result.rows[0].maps[0]
    levels = panel.cells[0].levels
    assert levels is not None and abs(levels[1] - np.abs(finite.sum(axis=-1)).max()) < 1e-6
