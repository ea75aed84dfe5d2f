"""Findings of a new user's review of the explorer: the open model out of sight in a narrow
browser, a class typed by name that the box showed but did not explain, and exported
heatmaps of a photo folder that did not say which photograph they show."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def _settle():
    for _ in range(5):  # the list lays its items out again in queued steps
        QApplication.processEvents()


def test_the_open_model_stays_in_view_when_the_browser_narrows(make_window):
    """At 1280×800 with EfficientNet-Lite0 open the browser dock was ~165 px wide: entries
    wrapped to two lines and the bold, open model sat half below the list's edge."""
    window = make_window()
    models = window.browser.models
    assert models.currentItem() is not None
    for width in (400, 200, 170, 150):
        window.browser.setFixedWidth(width)
        _settle()
        shown = models.visualItemRect(models.currentItem())
        assert models.viewport().rect().contains(shown), width


def test_a_class_named_in_the_target_box_is_the_class_explained(make_window, qtbot, tmp_path):
    """`setCurrentText("espresso")` on ImageNet's (editable) target box wrote "espresso" into
    the box while the predicted class stayed explained; text naming no class changes
    nothing and leaves the box showing what is explained."""
    import numpy as np
    from colour_models import colour_graph_model

    import lrpcore

    names = [f"class {k}" for k in range(30)]
    names[7], names[21], names[22] = "Egyptian cat", "espresso", "espresso maker"
    many, data = tmp_path / "many.npz", tmp_path / "photos.npy"
    lrpcore.save_model(colour_graph_model(names=names), many)
    np.save(data, np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), np.uint8))
    window = make_window(model=many, dataset=data)
    box = window.findChild(object, "targetSelector")
    assert box.isEditable()  # more classes than a plain list shows
    box.setCurrentText("espresso")
    assert window.state.target == "21" and box.currentText() == "class espresso"
    box.setCurrentText("no such class")
    assert window.state.target == "21" and box.currentText() == "class espresso"
    box.setCurrentText("egyptian cat")
    assert window.state.target == "7"
    box.setCurrentText("predicted class")
    assert window.state.target == "pred"


def test_exports_of_a_photo_folder_name_the_photograph(make_window, qtbot, tmp_path,
                                                        monkeypatch):
    """Export PNG/.npy and the batch export of a folder's sample recorded "sample": 1 only;
    they now name the file as well ("sample_file": "cats/p1.png"), as do the input view's
    title and the grid tile's tooltip."""
    from colour_models import colour_graph_model, write_photos

    import lrpcore

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), model)
    photos = tmp_path / "photos"
    write_photos(photos / "cats", sizes=((40, 30), (20, 26)))
    window = make_window(model=model, dataset=photos)
    window.state.sample_index = 1
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    assert "sample 1, p1.png" in window.views.input_title.text  # the view names it too
    grid = window.grid.model
    tip = grid.data(grid.index(grid.row_of(1)), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("sample 1 (cats/p1.png): ")
    window.export_png(str(tmp_path / "one.png"))
    window.export_npy(str(tmp_path / "one.npy"))
    for name in ("one.png.json", "one.npy.json"):
        side = json.loads((tmp_path / name).read_text())
        assert side["sample"] == 1 and side["sample_file"] == "cats/p1.png", name
    out = tmp_path / "batch"
    out.mkdir()
    # the signal, not the folder: a glob of *.png.json also saw the staged hidden files the
    # export was still renaming (FileNotFoundError under load)
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.batch_export(str(out), "filtered", ("png",))
    files = {json.loads(p.read_text())["sample"]: json.loads(p.read_text())["sample_file"]
             for p in out.glob("heatmap_*.png.json")}
    assert files == {0: "cats/p0.png", 1: "cats/p1.png"}


def test_the_eigengap_axis_label_is_whole_in_the_spray_window(make_window, qtbot):
    """The SpRAy window's splitters took their plots' size hints: the empty prototypes area
    got five sixths of the height, the t-SNE scatter a fifth of the width, and the eigengap
    plot's rotated axis label "Laplacian eigenvalue" more than its axis ("Laplacian
    eigenvalu" at 1400×900; "placian eigenvalue" in the README's screenshot)."""
    window = make_window()
    window.insight.actions["spray"].trigger()  # Tools → Strategies (SpRAy)
    panel = window.insight.panels["spray"]
    axis = panel.eigen_plot.getAxis("left")
    qtbot.waitUntil(lambda: axis.geometry().height() > 0, timeout=10000)
    _settle()
    text = axis.label.boundingRect().width()  # the label's length before its rotation
    assert axis.label.toPlainText().strip()
    assert text <= axis.geometry().height(), (axis.label.toPlainText(), text,
                                              axis.geometry().height())
    scatter = panel.scatter_plot.width()  # the embedding had a fifth of the width
    assert scatter >= panel.eigen_plot.width() * 0.9


def test_recent_files_of_one_name_are_told_apart(make_window, tmp_path):
    """Datasets opened from several folders, each an `x.npy`, were listed as five identical
    "x.npy  (recent)" entries; the folder that tells them apart is shown now."""
    import numpy as np

    window = make_window()
    for folder in ("runs/a", "runs/b", "other/a"):
        (tmp_path / folder).mkdir(parents=True)
        np.save(tmp_path / folder / "x.npy", np.zeros((2, 28, 28), np.uint8))
        window.browser.settings.add_recent("datasets", str(tmp_path / folder / "x.npy"))
    window.browser.refresh()
    lst = window.browser.datasets
    shown = sorted(lst.item(i).text() for i in range(lst.count()) if "x.npy" in lst.item(i).text())
    assert shown == ["b/x.npy  (recent)", "other/a/x.npy  (recent)", "runs/a/x.npy  (recent)"]
    shown = [lst.item(i).text() for i in range(lst.count())]
    assert sum("toy_images.npy" in t for t in shown) == 1  # a name alone stays alone


def test_scores_below_one_are_drawn_as_they_are(make_window, qtbot, tmp_path):
    """The toolbox's XOR net (scores 0.2 and 0.6) had its score axis read "200", "600" with
    "score (x0.001)" beside it: pyqtgraph's SI prefix, as the eigengap plot once did; so did
    the Conservation and Pixel-flipping plots."""
    import numpy as np

    from .insight_helpers import two_input_files

    model, data = two_input_files(tmp_path)
    window = make_window(model=model, dataset=data)
    _settle()
    assert np.abs(window.state.scores).max() < 1
    axis = window.findChild(object, "scoresPlot").getAxis("left")
    assert axis.autoSIPrefixScale == 1.0 and "(x" not in axis.labelString()
    from .insight_helpers import open_tool

    for tool in ("conservation", "pixelflip"):  # ΣR and the flipped outputs: below 1 too
        panel = open_tool(qtbot, window, tool)
        _settle()
        axis = panel.plot.getAxis("left")
        assert axis.autoSIPrefixScale == 1.0 and "(x" not in axis.labelString(), tool


def test_a_strip_of_features_gets_no_outline(make_window, qtbot, tmp_path):
    """XOR's two inputs are drawn as a strip of two cells; the outline on (the default) ran an
    edge filter over it and drew a black block over the second cell's relevance."""
    import numpy as np

    from .insight_helpers import two_input_files

    model, data = two_input_files(tmp_path)
    np.save(data, np.array([[0.1, 0.9], [0.9, 0.1], [0.0, 1.0]]))  # pairs near XOR's corners
    window = make_window(model=model, dataset=data)
    assert window.state.outline
    for i in range(3):
        window.state.sample_index = i
        qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
        window.views.redraw_heatmap()
        rgb = window.views.rendered_rgb
        assert not (rgb.sum(axis=2) == 0).any(), i  # bwr has no black: only edges are


def test_pixel_flipping_starts_from_the_rule_on_display(make_window, qtbot, tmp_path):
    """Pixel-flipping's methods began with the rule of the moment the panel was built, before
    any model: on EfficientNet-Lite0 "epsilon:0.01, alphabeta:2, …", without the EpsilonPlus
    on display (Compare had the same fault, fixed before). A list the user set stays."""
    import numpy as np
    from colour_models import colour_graph_model

    import lrpcore

    model, data = tmp_path / "colour.npz", tmp_path / "photos.npy"
    lrpcore.save_model(colour_graph_model(), model)
    np.save(data, np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), np.uint8))
    window = make_window(model=model, dataset=data)
    panel = window.insight.panels["pixelflip"]
    assert window.state.rule == "EpsilonPlus"
    assert panel.settings().methods[0] == "EpsilonPlus"
    window.state.rule = "gamma:0.5"
    assert panel.settings().methods[:2] == ("gamma:0.5", "alphabeta:2")
    panel.methods_edit.setText("zplus, sensitivity")
    window.state.rule = "EpsilonGammaBox"
    assert panel.settings().methods == ("zplus", "sensitivity")


def test_the_sweeps_heatmaps_are_drawn_at_one_size(make_window, qtbot, toy_files):
    """Tools → Sweep parameters on ε drew its three heatmaps 360, 310 and 335 pixels wide:
    the column of a longer title took more room, so one setting's map looked larger."""
    from pathlib import Path

    from PySide6.QtCore import Qt

    models = Path(__file__).resolve().parents[2] / "models"
    window = make_window(model=models / "mnist-lenet5.npz", dataset=toy_files[1])
    window.insight.actions["sweep"].trigger()
    panel = window.insight.panels["sweep"]
    panel.rule_edit.setText("epsilon")
    panel.n_spin.setValue(6)
    panel.steps.setValue(4)
    with qtbot.waitSignal(panel.updated, timeout=60000):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert len(panel.boxes) == 3
    qtbot.waitUntil(lambda: panel.boxes[0].sceneBoundingRect().width() > 0, timeout=5000)
    _settle()
    widths = [round(b.sceneBoundingRect().width()) for b in panel.boxes]
    assert max(widths) - min(widths) <= 1, widths
