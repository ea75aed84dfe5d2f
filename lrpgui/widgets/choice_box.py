"""A combo box whose entries can be chosen by their shown text or by the value they stand for.

The explorer's combo boxes show friendly words ("true class") for values the engine uses
("true"). Scripts and tests know the values, users know the words; both should work with
``setCurrentText`` and ``findText``, as they do with ``findData``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


class ChoiceBox(QComboBox):
    """QComboBox with value-aware ``findText``/``setCurrentText``/``findData``."""

    def findText(self, text, *args) -> int:  # noqa: N802 (Qt's name)
        i = super().findText(text, *args)
        if i >= 0 or args:
            return i
        return self.findData(text)

    def findData(self, value, *args) -> int:  # noqa: N802 (Qt's name)
        i = super().findData(value, *args)
        if i >= 0 or args or value is None:
            return i
        wanted = str(value)
        for k in range(self.count()):
            data = self.itemData(k)
            if data is not None and str(data) == wanted:
                return k
        return -1

    def setCurrentText(self, text) -> None:  # noqa: N802 (Qt's name)
        """Select the entry showing ``text``, else the one whose value is ``text``."""
        i = self.findText(text)
        if i >= 0:
            self.setCurrentIndex(i)
        else:
            super().setCurrentText(text)  # Qt's behaviour: ignored by a read-only box
