"""A word-wrapped plain-text label that shows a few lines at most, the last one elided: a
long message (the accuracy line's hint on naming class folders) must not take the room of
the widgets under it. ``text()`` stays the whole message; give it a tooltip as well."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QPainter, QTextLayout
from PySide6.QtWidgets import QLabel


class LinesLabel(QLabel):
    """``QLabel`` for plain text, wrapped at spaces, at most ``lines`` lines tall."""

    def __init__(self, text="", lines=3, **kwargs):
        super().__init__(text, **kwargs)
        self.lines = int(lines)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

    def shown_lines(self, width=None) -> list[str]:
        """The lines drawn at ``width`` (the label's own by default), the last elided."""
        width = self.contentsRect().width() if width is None else width
        text, metrics = self.text(), self.fontMetrics()
        if width <= 0 or not text:
            return [text] if text else []
        layout = QTextLayout(text, self.font())
        layout.beginLayout()
        spans = []
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            spans.append((line.textStart(), line.textLength()))
        layout.endLayout()
        lines = [text[a:a + n].rstrip() for a, n in spans]
        if len(lines) > self.lines:
            rest = text[spans[self.lines - 1][0]:].replace("\n", " ")
            lines = lines[:self.lines - 1] + [
                metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)]
        return lines

    def heightForWidth(self, width) -> int:  # noqa: N802 (Qt's name)
        margins = self.contentsMargins()
        inner = width - margins.left() - margins.right()
        n = max(len(self.shown_lines(inner)), 1)
        return n * self.fontMetrics().lineSpacing() + margins.top() + margins.bottom()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().sizeHint()
        return QSize(hint.width(), min(hint.height(), self._most()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().minimumSizeHint()
        return QSize(hint.width(), min(hint.height(), self._most()))

    def _most(self) -> int:
        margins = self.contentsMargins()
        return self.lines * self.fontMetrics().lineSpacing() + margins.top() + margins.bottom()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        metrics = self.fontMetrics()
        y = rect.top() + metrics.ascent()
        for line in self.shown_lines():
            painter.drawText(QPointF(rect.left(), y), line)
            y += metrics.lineSpacing()
        painter.end()


__all__ = ["LinesLabel"]
