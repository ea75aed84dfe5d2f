"""The model summary of the browser dock as rich text that fits the dock's width.

A fixed-width text table (``Sequential.summary()``) needs ~450 px and made the narrow dock
scroll sideways. Each layer takes two lines: its description and name (as the per-layer table
shows them) on the whole width, shortened in the middle to one line when the dock is narrower
(the tooltip holds the full text), then its output shape and parameter count, which never
break. In a 4-column table the layer column of a 120–240 px dock was 40–70 px wide and broke
node names and shapes in the middle of words ("ToChann" / "elsLast", "224×22" / "4×3").
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetrics, QTextCharFormat, QTextCursor, QTextOption
from PySide6.QtWidgets import QTextBrowser

from lrpcore.errors import ShapeError
from lrpcore.graph import node_label
from lrpcore.io.completeness import ending_hint
from lrpcore.io.sidecar import assumed_scaling, sidecar_path
from lrpcore.model import RECORDED_ACCURACY, chain_layer_names, format_accuracy
from lrpcore.text import elide_middle, no_markup, short

SHOWN_CLASSES = 100  # class names the summary lists (the target box finds every one)
# characters of one class name, and of the recorded accuracy, the summary shows: Qt lays out a
# long word of wrapping rich text in time that grows with its square (ten class names of
# 90,000 characters, a 900-KB sidecar, froze the window for minutes as it opened)
SHOWN_CHARS = 60
NAME_CHARS = 240  # of a node name (a crafted file's may be megabytes; real ones are < 100)
FILE_KEY = "file"  # the title key of the file name's line
INDENT = "&nbsp;" * 3  # the output shape under its layer's line
REFIT_MS = 100  # after the last resize
SLACK = 10  # pixels a fitted line leaves free (cell padding, rounding of the layout)


def summary_html(model, path: str | None, fit=None) -> str:
    """File, input, classes, recorded accuracy, then two lines per layer.

    ``fit(text, bold)`` shortens a line that must not wrap (the file name, each layer's
    description and name) to the width on screen; without it every line is whole. Those
    lines carry ``title`` keys (:data:`FILE_KEY`, ``L<index>``) whose tooltips
    :class:`ModelSummary` fills with the full text (Qt takes a ``title`` attribute as it is
    written: an escaped ``&amp;`` would show as such).
    """
    esc = html.escape
    fit = fit or (lambda text, bold=False: text)
    name = no_markup(Path(path or "").name)
    head = [f"<b><span title='{FILE_KEY}'>{esc(fit(name, True))}</span></b>"]
    spec = model.input_spec
    assumed = assumed_scaling(model, path) if path else None  # as 'lrp info' says it
    head.append("input: " + (esc(spec.describe(model.sequence_layout())) if spec is not None
                             else "unknown") + (f"; {esc(assumed)}" if assumed else ""))
    head.append("classes: " + esc(unnamed_classes(model, path)
                                  or class_summary(model.class_names)))
    acc = model.meta.get("accuracy")
    if acc is not None:
        head.append(f"{RECORDED_ACCURACY}: " + esc(short(format_accuracy(acc), 4 * SHOWN_CHARS)))
    hint = ending_hint(model)  # a toolbox .txt cut short loads as a smaller model
    if hint:
        head.append("<b>⚠</b> " + esc(no_markup(hint)))
    try:
        shapes = model.shapes()
    except ShapeError:
        shapes = [None] * len(model.layers)
    lines = [f"<b># layer</b><br>{INDENT}→ output, parameters"]
    for i, (line, layer, shape) in enumerate(zip(layer_lines(model), model.layers, shapes,
                                                 strict=True)):
        out = "×".join(map(str, shape)) if shape else "?"
        count = layer.param_count()
        params = f", {count:,} params" if count else ""
        lines.append(f"<span title='L{i}'>{esc(fit(line))}</span><br>"
                     f"{INDENT}→ <span style='white-space:nowrap'>{out}</span>{params}")
    total = f"total parameters: {model.param_count():,}"
    return "<br>".join(head + [""] + lines + [total])


def layer_lines(model) -> list[str]:
    """Each layer's index, description and name, as the per-layer rule table writes them: a graph's
    node name (what ``--layer-rule`` takes) with a dynamo export's module path, a chain's
    ``convolution0``, ``rect1``, …"""
    names = getattr(model, "node_names", None)
    if names is None:
        names = chain_layer_names(model.layers)
    return [f"{i} {layer.describe()} "
            f"({elide_middle(node_label(name, getattr(layer, 'module_path', None)), NAME_CHARS)})"
            for i, (layer, name) in enumerate(zip(model.layers, names, strict=True))]


def class_summary(names, shown=SHOWN_CLASSES) -> str:
    """The first ``shown`` class names, each cut to :data:`SHOWN_CHARS` characters, and how
    many there are: all 100,000 names of a large model made the summary ~1 MB of text (a
    second to lay out at every model change)."""
    names = list(names)
    text = ", ".join(short(name, SHOWN_CHARS) for name in names[:shown])
    return text if len(names) <= shown else text + f", … ({len(names):,} classes)"


def unnamed_classes(model, path) -> str | None:
    """For a model whose file names no classes, how many outputs it has and where names
    would come from, as ``lrp info`` says it: an ONNX ImageNet classifier listed "0, 1, 2, …
    99, … (1,000 classes)", a hundred numbers and no hint."""
    n = model.n_classes
    if model.meta.get("class_names") or not n:
        return None
    side = os.path.basename(sidecar_path(path)) if path else "MODEL.json"
    return f"{n:,} outputs, unnamed (a sidecar's \"class_names\" names them: {side})"


class ModelSummary(QTextBrowser):
    """Read-only rich text that fits the widget's width and never scrolls sideways: lines
    that must not break are shortened in the middle again whenever the width changes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.setOpenLinks(False)
        self.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDocumentMargin(3)
        self.document().setUndoRedoEnabled(False)  # tooltips are set on it after each render
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        self.setFont(font)
        self._shown = None  # (model, path) on display
        self._fitted_to = None  # the line width the text was last fitted to
        # fitted again once a resize settles: a dock dragged wider or narrower resizes it at
        # every step, and 1,000 layers take ~0.2 s to fit
        self._refit = QTimer(self, singleShot=True, interval=REFIT_MS)
        self._refit.timeout.connect(self._render_if_resized)

    def show_model(self, model, path: str | None) -> None:
        self._shown = None if model is None else (model, path)
        if model is None:
            self._fitted_to = None
            self.setPlainText("(no model open)")
        else:
            self._render()

    def line_width(self) -> int:
        """Pixels a layer's line may take: the viewport less the margins."""
        margins = 2 * int(self.document().documentMargin())
        return max(self.viewport().width() - margins - SLACK, 0)

    def fit(self, text: str, bold: bool = False) -> str:
        """``text`` shortened in the middle to :meth:`line_width` (the start says what kind
        of layer, the end which node)."""
        font = self.font()
        font.setBold(bold)
        return QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideMiddle,
                                             self.line_width())

    def fitted(self) -> bool:
        """Whether the text is fitted to the width on screen (tests wait for it)."""
        return self._shown is None or self.line_width() == self._fitted_to

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if not self.fitted():
            self._refit.start()

    def _render_if_resized(self) -> None:
        if not self.fitted():
            self._render()

    def _render(self) -> None:
        model, path = self._shown
        bar = self.verticalScrollBar()
        at = bar.value()  # a new width keeps the reader's place
        self._fitted_to = self.line_width()
        self.setHtml(summary_html(model, path, self.fit))
        tips = {FILE_KEY: no_markup(path or ""),
                **{f"L{i}": no_markup(line) for i, line in enumerate(layer_lines(model))}}
        set_tooltips(self.document(), tips)
        bar.setValue(at)


def set_tooltips(document, tips: dict) -> None:
    """Replace each fragment's ``title`` key with its text in ``tips``."""
    spans = []  # found first: setting a format splits and merges the fragments
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            key = fragment.charFormat().toolTip()
            if key in tips:
                spans.append((fragment.position(), fragment.length(), tips[key]))
            it += 1
        block = block.next()
    cursor = QTextCursor(document)
    cursor.beginEditBlock()  # one layout at the end, not one per tooltip (1.6 s for 112)
    for start, length, text in spans:
        cursor.setPosition(start)
        cursor.setPosition(start + length, QTextCursor.MoveMode.KeepAnchor)
        tip = QTextCharFormat()
        tip.setToolTip(text)
        cursor.mergeCharFormat(tip)
    cursor.endEditBlock()
