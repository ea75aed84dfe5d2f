"""The scores plot's class names stay readable: at 1000 ImageNet classes its ten bars are
named, and a name longer than one bar's width is cut instead of drawn over its neighbours
(or, where names are longer than a bar, every other one on a second line)."""

from __future__ import annotations

from PySide6.QtGui import QImage, QPainter

from lrpgui.state import AppState
from lrpgui.widgets.views import ScoresPlot

NAMES = ["missile", "projectile, missile", "drilling platform, offshore rig", "space shuttle",
         "obelisk", "crane", "pole", "mosque", "beacon, lighthouse", "totem pole"]


def _label_rects(plot):
    axis = plot.getAxis("bottom")
    image = QImage(axis.width() or 400, 60, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return sorted((rect.left(), rect.right(), text) for rect, _flags, text in texts)


def test_long_class_names_do_not_overlap(qtbot):
    plot = ScoresPlot(AppState())
    qtbot.addWidget(plot)
    plot.getAxis("bottom").setTicks([list(enumerate(NAMES))])
    plot.setRange(xRange=(-0.6, len(NAMES) - 0.4), padding=0)
    plot.resize(460, 200)
    plot.show()
    qtbot.waitExposed(plot)
    rects = _label_rects(plot)
    assert len(rects) == len(NAMES)  # none dropped at the ends either
    for line in (False, True):  # labels alternate between two lines (stop 26)
        same = [r for r in rects if r[2].startswith("\n") == line]
        for (_l0, right, a), (left, _r1, b) in zip(same, same[1:], strict=False):
            assert right <= left, f"'{a}' and '{b}' overlap"
    texts = [t.lstrip("\n") for _l, _r, t in rects]
    assert "crane" in texts  # short names stay whole
    assert any(t.endswith("…") for t in texts)  # long ones are cut, not dropped
    # a wide plot shows the long names whole
    plot.resize(2400, 200)
    qtbot.waitUntil(lambda: plot.getAxis("bottom").width() > 2000)
    assert "drilling platform, offshore rig" in [t for _l, _r, t in _label_rects(plot)]
    assert not any(t.startswith("\n") for _l, _r, t in _label_rects(plot))  # one line


def test_every_bar_is_named_also_a_long_name_at_either_end(qtbot):
    """pyqtgraph drops a label that leaves the axis: the first bar (the predicted class,
    "Egyptian cat" on chelsea) lost its name while shorter ones kept theirs."""
    names = ["Egyptian cat", "tiger cat", "tabby", "lynx", "window screen", "frying pan",
             "plastic bag", "feather boa", "hare", "mortarboard, academic cap"]
    plot = ScoresPlot(AppState())
    qtbot.addWidget(plot)
    plot.getAxis("bottom").setTicks([list(enumerate(names))])
    plot.setRange(xRange=(-0.6, len(names) - 0.4), padding=0)
    plot.resize(520, 200)
    plot.show()
    qtbot.waitExposed(plot)
    texts = [t.lstrip("\n") for _l, _r, t in _label_rects(plot)]
    assert len(texts) == len(names), texts
    assert texts[0].startswith("Eg") and texts[-1].startswith("mo"), texts
