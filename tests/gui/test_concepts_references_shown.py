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


def test_find_references_waits_for_a_ranking_of_the_chosen_layer(make_window, toy_files, qtbot,
                                                                  tmp_path, monkeypatch):
    """Before the panel's first ranking it searched every channel of the layer (an hour on
    EfficientNet-Lite0's head); just after another layer was chosen, the previous layer's
    channel numbers at the new layer. Now it says that the ranking is not there yet."""
    from lrpcore import relmax

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    asked = []
    real = relmax.compute_references

    def counted(*args, **kwargs):
        asked.append((args[2], sorted(kwargs.get("channels") or [])))
        return real(*args, **kwargs)

    monkeypatch.setattr(relmax, "compute_references", counted)
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight["concepts"]  # not shown yet: nothing ranked
    assert panel.result is None and panel.find_references() == 0
    assert asked == [] and "no ranking of this layer yet" in panel.error_label.text()
    with qtbot.waitSignal(panel.updated, timeout=60000):
        window.insight.show("concepts")
    other = next(panel.layer_box.itemData(i) for i in range(panel.layer_box.count())
                 if panel.layer_box.itemData(i) != panel.layer())
    with qtbot.waitSignal(panel.updated, timeout=60000):  # the new layer's ranking
        panel.set_layer(other)
        assert panel.result.layer != other and panel.find_references() == 0
        assert asked == []
    with qtbot.waitSignal(panel.updated, timeout=120000):
        qtbot.mouseClick(panel.refs_button, Qt.MouseButton.LeftButton)
    r = panel.result
    shown = {int(c) for c in r.ranking.channels[:len(r.conditional)]} | {panel.channel}
    assert asked == [(other, sorted(shown))]
