"""Exports from the window, checked against lrpcore.explain and lrpcore.render."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QWidget

import lrpcore
from lrpgui import rendering, services

from .waiting import HeldAfterFirst


def explain_current(window, indices, **kw):
    s = window.state
    raw = s.dataset.images(np.asarray(indices))
    target = int(s.target) if s.target.isdigit() else s.target
    return lrpcore.explain(s.model, raw, rule=s.rule, target=target,
                           layer_rules=dict(s.layer_rules),
                           labels=s.labels[np.asarray(indices)], **kw)


def read_png(path):
    from skimage.io import imread

    return imread(path)


def test_export_npy_and_png_buttons(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    window.state.rule = "alphabeta:2"
    window.state.target = "true"
    qtbot.waitUntil(lambda: window.state.explanation.request.rule == "alphabeta:2"
                    and window.state.explanation.request.target == "true", timeout=20000)
    asked = iter([str(tmp_path / "r.npy"), str(tmp_path / "fig.png")])
    monkeypatch.setattr("lrpgui.dialogs.ask_save_file", lambda *a: next(asked))
    window.findChild(QWidget, "exportNpyButton").click()
    saved = np.load(tmp_path / "r.npy")
    np.testing.assert_allclose(saved, explain_current(window, [0])[0], rtol=1e-12, atol=1e-15)
    info = json.loads((tmp_path / "r.npy.json").read_text())
    assert "alphabeta:2" in json.dumps(info) and info["target"] == "true"

    window.findChild(QWidget, "exportPngButton").click()
    png = read_png(tmp_path / "fig.png")
    R = explain_current(window, [0])[0]
    spec = window.state.model.input_spec
    lo, hi = spec.value_range
    x01 = np.clip((spec.preprocess(window.state.dataset.images([0]))[0] - lo) / (hi - lo), 0, 1)
    want = rendering.compose([rendering.digit(x01),
                              rendering.heatmap(R, x01, cmap=window.state.colormap)])
    assert png.shape[:2] == want.shape[:2]
    assert np.abs(png[..., :3].astype(int) - want.astype(int)).max() <= 1
    # the folder was remembered for the next dialog
    assert window.settings.last_dir("export") == str(tmp_path)


def test_export_all_colormaps(make_window, tmp_path):
    window = make_window()
    paths = window.export_all_colormaps(str(tmp_path))
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == len(rendering.colormap_names())
    assert f"heatmap_0_{window.state.colormap}.png" in pngs
    assert all(p.exists() for p in paths)


def test_batch_export_of_the_selection(make_window, qtbot, tmp_path):
    window = make_window()
    window.state.rule = "EpsilonPlus"
    with qtbot.waitSignal(window.export_finished, timeout=30000) as blocker:
        window.batch_export(str(tmp_path), scope="filtered", formats=("npy",))
    assert len(blocker.args[0]) == 2 * 120  # arrays and their sidecars
    R = explain_current(window, np.arange(120))
    for i in (0, 57, 119):
        # numbered to the digits of the largest, 119: relevance_000.npy … relevance_119.npy
        np.testing.assert_allclose(np.load(tmp_path / f"relevance_{i:03d}.npy"), R[i],
                                   rtol=1e-12, atol=1e-15)
        assert json.loads((tmp_path / f"relevance_{i:03d}.npy.json").read_text())["sample"] == i


def test_batch_export_of_selected_samples_as_png_and_npy(make_window, qtbot, tmp_path):
    window = make_window()
    window.grid.set_order("dataset")  # row r is sample r
    view, model = window.grid.view, window.grid.model
    sel = view.selectionModel()
    from PySide6.QtCore import QItemSelectionModel

    for row in (2, 4, 9):
        sel.select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    assert window.grid.selected_indices() == [0, 2, 4, 9]
    out = tmp_path / "sel"
    out.mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.batch_export(str(out), scope="selection", formats=("png", "npy"))
    names = sorted(p.name for p in out.iterdir() if not p.name.endswith(".json"))
    cmap = window.state.colormap
    assert names == sorted([f"heatmap_{i}_{cmap}.png" for i in (0, 2, 4, 9)]
                           + [f"relevance_{i}.npy" for i in (0, 2, 4, 9)])
    R = explain_current(window, [4])
    np.testing.assert_allclose(np.load(out / "relevance_4.npy"), R[0], rtol=1e-12, atol=1e-15)


def test_batch_export_cancel_leaves_no_files(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    window.batch_chunk = 10
    # the export stands still after its first chunk until the test has pressed Cancel
    gate = HeldAfterFirst(monkeypatch, services, "model_read")
    progress = []
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(window.export_cancelled, timeout=30000):
        window.batch_export(str(out), scope="filtered", formats=("png", "npy"))
        dialog = window.findChild(QWidget, "exportProgress")
        assert dialog is not None and dialog.isVisible()
        qtbot.waitUntil(lambda: dialog.value() > 0, timeout=20000)
        progress.append(dialog.value())
        from PySide6.QtWidgets import QPushButton

        dialog.findChild(QPushButton).click()  # the dialog's Cancel button
        gate.release()
    assert 0 < progress[0] < 120
    assert list(out.iterdir()) == []
    assert window.findChild(QWidget, "exportProgress") is None or \
        not window.findChild(QWidget, "exportProgress").isVisible()


def test_failed_export_shows_the_reason(make_window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append(m))
    window = make_window()
    target = tmp_path / "missing-folder" / "r.npy"
    assert window.export_npy(str(target)) == []
    assert shown and "missing-folder" in shown[0]
    assert not target.exists()


@pytest.mark.parametrize("key", ["Ctrl+E", "Ctrl+Shift+E", "Ctrl+O"])
def test_shortcuts_exist(make_window, key):
    window = make_window(wait=False)
    shortcuts = [a.shortcut().toString() for a in window.findChildren(type(window.export_action))]
    assert key in shortcuts
