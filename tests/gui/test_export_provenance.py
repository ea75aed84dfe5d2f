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
