"""The Concepts panel's "Find references" searches the channels it shows (those with a
conditional map, and the selected one), not every channel of the layer: on EfficientNet-Lite0's
head (1280 channels) over 4 photographs the search of every channel ran for over 15 minutes at
6.5 GB. A channel selected afterwards says that it was not searched."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_find_references_searches_the_channels_shown(make_window, toy_files, qtbot, tmp_path,
                                                      monkeypatch):
    from lrpcore import relmax

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    asked = []
    real = relmax._reference_maps

    def counted(ex, images, k, pairs, *a, **kw):
        asked.append(sorted({c for c, _ in pairs}))
        return real(ex, images, k, pairs, *a, **kw)

    monkeypatch.setattr(relmax, "_reference_maps", counted)
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")
    r = panel.result
    shown = {int(c) for c in r.ranking.channels[:len(r.conditional)]} | {panel.channel}
    assert len(shown) < panel.result.ranking.channels.size  # fewer than every channel
    with qtbot.waitSignal(panel.updated, timeout=120000):
        qtbot.mouseClick(panel.refs_button, Qt.MouseButton.LeftButton)
    assert asked == [sorted(shown)]
    assert sorted(panel.references.channels.tolist()) == sorted(shown)
    assert panel.gallery_samples == panel.references.samples[panel.channel].tolist()
    other = next(int(c) for c in r.ranking.channels if int(c) not in shown)
    panel.select_channel(other)  # not searched: said so, no gallery of another channel
    assert panel.gallery_samples == []
