"""The scores plot's class names stay readable: at 1000 ImageNet classes its ten bars are
named, and a name longer than one bar's width is cut instead of drawn over its neighbours
(or, where names are longer than a bar, every other one on a second line)."""

from __future__ import annotations

from PySide6.QtGui import QImage, QPainter

from lrpgui.state import AppState
from lrpgui.widgets.views import ScoresPlot

NAMES = ["missile", "projectile, missile", "drilling platform, offshore rig", "space shuttle",
         "obelisk", "crane", "pole", "mosque", "beacon, lighthouse", "totem pole"]


def _shown_plot(qtbot, names, width, height=200):
    """A scores plot naming ten bars ``names``, shown at ``width`` × ``height``."""
    plot = ScoresPlot(AppState())
    qtbot.addWidget(plot)
    plot.getAxis("bottom").setTicks([list(enumerate(names))])
    plot.setRange(xRange=(-0.6, len(names) - 0.4), padding=0)
    plot.resize(width, height)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def _label_specs(plot):
    """(rectangle, text) of each class name the bottom axis draws."""
    axis = plot.getAxis("bottom")
    image = QImage(axis.width() or 400, 80, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in texts]


def _label_rects(plot):
    return sorted((rect.left(), rect.right(), text) for rect, text in _label_specs(plot))


def test_long_class_names_do_not_overlap(qtbot):
    plot = _shown_plot(qtbot, NAMES, 460)
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
    plot = _shown_plot(qtbot, names, 520)
    texts = [t.lstrip("\n") for _l, _r, t in _label_rects(plot)]
    assert len(texts) == len(names), texts
    assert texts[0].startswith("Eg") and texts[-1].startswith("mo"), texts


def test_imagenet_class_names_in_the_scores_plot_are_readable_at_1024(qtbot):
    """At 1024×700 the scores plot is about 530 pixels wide: ten ImageNet names were cut to
    five characters ("bobs…", "foot…", "punc…"). Names wider than a bar alternate between
    two lines, so each has two bars' room; the axis grows a line to hold them. The first
    bar's name (the predicted class) starts at the axis's left end instead of being cut to
    the room left of its tick ("Egypti…")."""
    names = ["Egyptian cat", "football helmet", "go-kart", "barbell", "punching bag", "puck",
             "ski", "rugby ball", "lifeboat", "stretcher"]
    plot = _shown_plot(qtbot, names, 535, 150)
    axis = plot.getAxis("bottom")
    shown = sorted(_label_specs(plot), key=lambda spec: spec[0].center().x())  # left to right
    texts = [t.lstrip("\n") for _r, t in shown]
    assert len(texts) == len(names)
    for text, name in zip(texts, names, strict=True):  # whole, or cut after 10 characters
        assert text == name or (text.endswith("…") and len(text) > 10), (text, name)
    second = [t for _r, t in shown if t.startswith("\n")]
    assert len(second) == len(names) // 2
    bounds = axis.mapRectFromParent(axis.geometry())
    for line in (False, True):
        same = sorted((r for r, t in shown if t.startswith("\n") == line),
                      key=lambda r: r.left())
        for a, b in zip(same, same[1:], strict=False):
            assert a.right() <= b.left()
        assert all(bounds.left() <= r.left() and r.right() <= bounds.right() for r in same)
    assert texts[0] == "Egyptian cat"  # the predicted class at the left end, whole
    line = plot.fontMetrics().lineSpacing()
    qtbot.waitUntil(lambda: axis.height() >= 2 * 0.8 * line + axis.style["tickLength"],
                    timeout=5000)
