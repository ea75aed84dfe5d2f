"""The JSON sidecar of a single export describes the exported array, not the settings the
panel shows at that moment (they differ while a newer explanation is computed, or after one
failed and the previous map stayed on display)."""

from __future__ import annotations

import json

import numpy as np

import lrpcore


def engine(window, rule):
    s = window.state
    return lrpcore.explain(s.model, s.dataset.images([s.sample_index]), rule=rule)[0]


def test_export_while_the_next_explanation_is_computed(make_window, tmp_path):
    """Before: the sidecar said ``alphabeta:2`` over an ε-relevance array."""
    window = make_window()
    s = window.state
    shown = s.explanation
    s.rule = "alphabeta:2"  # the answer cannot arrive before the export below
    assert s.relevance is None and s.explanation is shown
    window.export_npy(str(tmp_path / "r.npy"))
    window.export_png(str(tmp_path / "r.png"))
    saved = np.load(tmp_path / "r.npy")
    np.testing.assert_allclose(saved, engine(window, "epsilon:0.01"), rtol=1e-12, atol=1e-15)
    assert not np.allclose(saved, engine(window, "alphabeta:2"))
    for name in ("r.npy.json", "r.png.json"):
        info = json.loads((tmp_path / name).read_text())
        assert info["rules"] == "epsilon:0.01" and info["sample"] == shown.index
        assert info["target"] == "pred" and info["dtype"] == "float64"
        assert info["model"] == s.model_path and info["dataset"] == s.dataset_name


def test_export_after_a_failed_explanation(make_window, qtbot, tmp_path, monkeypatch):
    """A failed explanation keeps the previous map; its export names the previous settings."""
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda *a: None)
    window = make_window()
    s = window.state
    s.target = "4"
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    monkeypatch.setattr(lrpcore.Forward, "relevance",
                        lambda *a, **k: np.full((1, 28, 28, 1), np.nan))
    s.rule = "flat"
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    assert s.rule == "flat"
    window.export_all_colormaps(str(tmp_path))
    sidecars = sorted(tmp_path.glob("heatmap_0_*.png.json"))
    assert sidecars
    for path in sidecars:
        info = json.loads(path.read_text())
        assert info["rules"] == "epsilon:0.01" and info["target"] == "4"


# -- exports never replace files --------------------------------------------------------------
def slow_exports(monkeypatch):
    """Hold a batch export after its first chunk (released at once: the export must be
    refused before its first chunk anyway)."""
    from lrpgui import services

    from .waiting import HeldAfterFirst

    gate = HeldAfterFirst(monkeypatch, services, "model_read")
    gate.release()
    return gate


def test_a_second_batch_export_into_the_same_folder_keeps_the_first(make_window, qtbot,
                                                                     tmp_path, monkeypatch):
    """Before: the second export overwrote the first one's files and, cancelled, deleted
    them; now it is refused before anything is computed and the first export stays whole."""
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append((t, m)))
    window = make_window()
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.batch_export(str(out), scope="filtered", formats=("png", "npy"))
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(first) == 4 * 120
    gate = slow_exports(monkeypatch)
    window.batch_chunk = 5
    window.batch_export(str(out), scope="filtered", formats=("png", "npy"))
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert gate.calls == 0  # refused before anything was computed
    assert shown[-1][0] == "Batch export failed"
    assert "already exist" in shown[-1][1] and str(out) in shown[-1][1]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_batch_export_never_replaces_a_users_file(make_window, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append((t, m)))
    window = make_window()
    w = len(str(len(window.state.dataset) - 1))  # the export pads numbers to the largest's
    mine = tmp_path / f"heatmap_{7:0{w}d}_{window.state.colormap}.png"
    mine.write_bytes(b"my figure")
    window.batch_export(str(tmp_path), scope="filtered", formats=("png",))
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert mine.name in shown[-1][1]
    assert mine.read_bytes() == b"my figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "settings"])


def test_all_colormaps_never_replace_files(make_window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("lrpgui.dialogs.show_error", lambda parent, t, m: shown.append((t, m)))
    window = make_window()
    assert window.export_all_colormaps(str(tmp_path / "a")) == [] and shown  # no such folder
    (tmp_path / "a").mkdir()
    written = window.export_all_colormaps(str(tmp_path / "a"))
    assert written and all(p.exists() for p in written)
    before = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    assert window.export_all_colormaps(str(tmp_path / "a")) == []
    assert shown[-1][0] == "Export failed" and "already exist" in shown[-1][1]
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before


def test_the_progress_dialog_found_by_name_is_the_current_one(make_window, qtbot, tmp_path):
    """Before: a finished export's dialog (closed, deleted later) kept its name, so
    ``findChild(QWidget, "exportProgress")`` could return it instead of the running one."""
    from PySide6.QtWidgets import QWidget

    window = make_window()
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        with qtbot.waitSignal(window.export_finished, timeout=30000):
            window.batch_export(str(tmp_path / name), scope="filtered", formats=("npy",))
            found = window.findChild(QWidget, "exportProgress")
            assert found is window._progress_dialog and found.isVisible()
