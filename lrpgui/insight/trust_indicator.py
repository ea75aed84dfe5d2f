"""The status bar's conservation warning: one short line naming the layer and the likely cause
of a heatmap that created, destroyed or blew up relevance; a click opens the Conservation
panel at that layer. Hidden while the explanation on display is healthy.

The diagnosis itself is ``lrpcore.insight.diagnose``'s, computed by the explain service with
every explanation right after its heatmap is on display (``AppState.diagnosis``); this widget
only shows it.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QPushButton

STYLE = ("QPushButton { color: #8a4b00; background: #fff3d6; border: 1px solid #e0b050; "
         "border-radius: 3px; padding: 0 6px; }")
MAX_CHARS = 110
MAX_WIDTH = 280  # pixels it asks for at most: the status bar's messages keep their room
# (at 1024 pixels beside EfficientNet's figures, "EpsilonPlus in float32: recommended for
# this model" fits whole)
IDLE_TIP = ("Conservation check of the explanation on display: a warning appears here when a "
            "layer creates, absorbs or blows up relevance")


class TrustIndicator(QPushButton):
    """A flat button in the status bar; ``open_layer(k)`` is emitted when clicked."""

    open_layer = Signal(int)

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.setObjectName("trustWarning")
        self.setStyleSheet(STYLE)
        self.setFlat(True)
        self.diagnosis = None
        self.full_text = ""  # the summary; the button shows as much as its width allows
        self.setToolTip(IDLE_TIP)
        self.hide()
        state.events.explanation.connect(self._on_explanation)
        state.events.diagnosis.connect(self.show_diagnosis)
        self.clicked.connect(self._clicked)

    def _on_explanation(self, result) -> None:
        # a new heatmap: the old warning is no longer about it (its own diagnosis follows)
        self.show_diagnosis(None if result is None else result.diagnosis)

    def show_diagnosis(self, diagnosis) -> None:
        self.diagnosis = diagnosis
        if diagnosis is None or diagnosis.ok:
            self.full_text = ""
            self.setText("")
            self.setToolTip(IDLE_TIP)
            self.hide()
            return
        text = diagnosis.summary()
        self.full_text = text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"
        self._fit()
        self.setToolTip("\n".join(diagnosis.warnings())
                        + "\n\nClick to open the Conservation panel at that layer.")
        self.show()

    # A narrow window gives the button less room than its text needs: Qt then cut the text
    # at both ends ("rs 8, 5, 2: …"); it is elided at the end to the width it gets instead.
    # Its full width squeezed the status bar's messages ("wrote h.png", "batch export wrote
    # 40 files") to a few letters beside EfficientNet's warning, shown on every photograph.
    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        wanted = self.fontMetrics().horizontalAdvance(self.full_text) + 24
        return QSize(min(wanted, MAX_WIDTH), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(80, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        room = max(self.width() - 20, 40)
        self.setText(self.fontMetrics().elidedText(self.full_text,
                                                   Qt.TextElideMode.ElideRight, room))

    def _clicked(self) -> None:
        if self.diagnosis is not None and self.diagnosis.layer is not None:
            self.open_layer.emit(int(self.diagnosis.layer))
