"""Choosing one of a model's classes (10 digits, 1000 ImageNet classes, up to the explorer's
100,000): a combo box whose entries live in one string-list model, searchable by name.

Added one by one, entries cost ~35 µs each: 3.5 s per list of 100,000 classes, and the
explorer keeps several such lists (target, the grid's two filters, Compare's classes, SpRAy's
class) and rebuilt the target's at every change of target. A ``QStringListModel`` takes all
texts in one call and keeps them in C++ (the popup, the completer and ``findText`` never call
back into Python); the values stand beside it in a Python list.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import QComboBox, QCompleter

from .choice_box import ChoiceBox

USER = Qt.ItemDataRole.UserRole
LONG_LIST = 2000  # entries beyond which a box is not measured entry by entry
LONG_LIST_CHARS = 18  # the width of such a box, in characters
FIXED = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon  # sized by chars


class ClassChoice(ChoiceBox):
    """A :class:`ChoiceBox` filled at once by :meth:`set_entries`; ``currentData``,
    ``itemData`` and ``findData`` read the values (``findData`` without a scan: a class by
    arithmetic on the row of class 0, the few other values by a dictionary)."""

    def __init__(self, *args, chars=None, **kwargs):
        """``chars``: as wide as that many characters, whatever the entries (longer ones are
        cut in the box and whole in its list); default: as wide as the longest entry."""
        super().__init__(*args, **kwargs)
        if chars is not None:
            self.setSizeAdjustPolicy(FIXED)
            self.setMinimumContentsLength(chars)
        else:  # measured again for each model's classes: Qt's default measures once, at the
            # first show, and the grid's filters kept ImageNet's width for ten digits
            self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._list = QStringListModel(self)
        self.setModel(self._list)
        self.view().setUniformItemSizes(True)  # the popup lays out its rows unmeasured
        self._texts: list[str] = []
        self._values: list = []
        self._rows: dict = {}  # value → row, but for the classes at the end
        self._classes_at = 0  # the row of class 0
        self._fit = self.sizeAdjustPolicy()  # how a short list sizes the box
        # a name longer than the box shows its start ("285 Egyptian c"), not its end
        self.currentIndexChanged.connect(self._show_start)

    @property
    def texts(self) -> list[str]:
        return self._texts

    @property
    def values(self) -> list:
        return self._values

    def set_entries(self, texts, values, current=None) -> bool:
        """Show ``texts`` standing for ``values`` and select the entry of ``current`` (the
        first when none is). Returns whether the entries changed: the same ones again are
        not rebuilt. Block the box's signals around it to keep the change quiet."""
        texts, values = list(texts), list(values)
        if len(texts) != len(values):
            raise ValueError(f"{len(texts)} texts for {len(values)} values")
        changed = texts != self._texts or values != self._values
        if changed:
            self._size_for(len(texts))
            self._texts, self._values = texts, values
            self._index_values()
            self._list.setStringList(texts)
            make_searchable(self)
        i = self.findData(current)
        self.setCurrentIndex(max(i, 0) if texts else -1)
        return changed

    def _show_start(self, _index=None) -> None:
        edit = self.lineEdit()
        if edit is not None:
            edit.setCursorPosition(0)

    def _index_values(self) -> None:
        """Value → row for ``findData``: the classes 0..n-1 that end a class list by
        arithmetic, every other value by a dictionary (first row of each)."""
        values = self._values
        start = len(values)
        for i, v in enumerate(values):
            if (type(v) is int and v == 0) or v == "0":
                start = i
                break
        ints = list(range(len(values) - start))
        if values[start:] != ints and values[start:] != list(map(str, ints)):
            start = len(values)
        self._classes_at = start
        head = values[:start]
        self._rows = dict(zip(map(str, reversed(head)), range(start - 1, -1, -1), strict=True))

    def _size_for(self, count) -> None:
        """A long list (over LONG_LIST entries) sizes the box by its minimum contents length:
        measuring every entry took ~1 s for 100,000 (at first show and when it became
        editable); shorter ones keep Qt's fit to the longest entry."""
        long = count > LONG_LIST
        wanted = FIXED if long else self._fit
        if long and not self.minimumContentsLength():
            self.setMinimumContentsLength(LONG_LIST_CHARS)
        if self.sizeAdjustPolicy() != wanted:
            self.setSizeAdjustPolicy(wanted)

    # -- QComboBox's API on the value list ----------------------------------------------------
    def itemData(self, index, role=USER):  # noqa: N802 (Qt's name)
        if role == USER and 0 <= index < len(self._values):
            return self._values[index]
        return super().itemData(index, role)

    def currentData(self, role=USER):  # noqa: N802
        return self.itemData(self.currentIndex(), role)

    def findData(self, value, role=USER, *args) -> int:  # noqa: N802
        if role == USER:
            key = str(value)
            row = self._rows.get(key, -1)
            if row < 0 and key.isascii() and key.isdigit() and key == str(int(key)):
                row = self._classes_at + int(key)
                row = row if row < len(self._values) else -1
            return row
        return super().findData(value, role, *args)

    def setCurrentText(self, text) -> None:  # noqa: N802 (Qt's name)
        """Select the entry ``text`` names as typing it would (:func:`typed_entry`: its value,
        shown text or class name, "espresso" for "class espresso"); text naming no single
        entry changes nothing. An editable box took it into its line while the class before
        stayed explained: the box said "espresso", the heatmap was the predicted class's."""
        k = typed_entry(self, str(text))
        if k >= 0:
            self.setCurrentIndex(k)

    def addItem(self, text, userData=None) -> None:  # noqa: N802, N803
        current = self.currentIndex()
        self.set_entries([*self._texts, str(text)], [*self._values, userData])
        if current >= 0:
            self.setCurrentIndex(current)

    def clear(self) -> None:
        self.set_entries([], [])


def class_entries(model, fmt="{k} {name}", head=(), unknown=0,
                  text_values=False) -> tuple[list, list]:
    """(texts, values) of a class list: the ``head`` (text, value) pairs, then one entry per
    class of ``model`` (``unknown`` classes without a model or when it does not say) with
    its index as value (as text with ``text_values``: "3", as the target is stored), shown
    as ``fmt`` (``{k}``, ``{name}``); a class whose name is its number shows the number
    once. The classes' part is made once per model and format (the explorer's five class
    lists share it)."""
    n = (getattr(model, "n_classes", None) if model is not None else None) or unknown
    texts = [text for text, _ in head] + _class_texts(model, fmt, n)
    numbers = list(map(str, range(n))) if text_values else list(range(n))
    return texts, [value for _, value in head] + numbers


class _Made:
    """The class texts last made, per (format, count), for one model (held weakly)."""

    model = None  # weakref.ref of that model
    texts: dict = {}


def _class_texts(model, fmt, n) -> list[str]:
    if model is None:
        return _texts([], fmt, n)
    if _Made.model is None or _Made.model() is not model:
        _Made.model, _Made.texts = weakref.ref(model), {}
    texts = _Made.texts.get((fmt, n))
    if texts is None:
        texts = _Made.texts[(fmt, n)] = _texts(list(model.class_names), fmt, n)
    return texts


def _texts(names, fmt, n) -> list[str]:
    names = [*map(str, names[:n]), *map(str, range(len(names), n))]
    before, _, after = fmt.partition("{name}")
    plain = before.replace("{k} ", "")
    return [f"{plain}{k}{after}" if name == str(k) else
            f"{before.replace('{k}', str(k))}{name}{after}" for k, name in enumerate(names)]


def make_searchable(combo, threshold: int = 20) -> None:
    """Let the user type part of a class name into ``combo`` (a target selector of many
    classes): a completer that matches anywhere in the entry, case-insensitively; typed text
    that names no entry is never added."""
    many = combo.count() > threshold
    if combo.isEditable() == many:
        return
    combo.setEditable(many)
    if not many:
        return
    combo.setInsertPolicy(combo.InsertPolicy.NoInsert)
    completer = QCompleter(combo.model(), combo)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)
    # a name typed in full and confirmed with Enter (or left by moving on) chooses its entry;
    # text that names no single entry goes back to the entry chosen: the box never shows a
    # class ("Egyptian cat") while another one ("predicted class") is explained
    combo.lineEdit().editingFinished.connect(lambda: _settle_typed(combo))


def _settle_typed(combo) -> None:
    edit = combo.lineEdit()
    if edit is None:
        return
    shown = combo.itemText(combo.currentIndex())
    if edit.text() == shown:
        return
    k = typed_entry(combo, edit.text())
    if 0 <= k != combo.currentIndex():
        combo.setCurrentIndex(k)
    else:
        edit.setText(shown)


def typed_entry(combo, text: str) -> int:
    """The row of ``combo`` that typed ``text`` names: its value ("285"), its shown text or
    class name in any case ("egyptian cat" for "class Egyptian cat" or "285 Egyptian cat"),
    else the one entry containing it; -1 when none or several do."""
    want = text.strip().casefold()
    if not want:
        return -1
    for value in dict.fromkeys((text.strip(), want)):  # "285", "PRED" for "pred"
        k = combo.findData(value)
        if k >= 0:
            return k
    texts = getattr(combo, "texts", None)
    if texts is None:
        texts = [combo.itemText(k) for k in range(combo.count())]
    shown = [t.casefold() for t in texts]

    def name(t):
        t = t.removeprefix("class ")
        head, _, rest = t.partition(" ")
        return rest if head.isdigit() and rest else t

    exact = [k for k, t in enumerate(shown) if want in (t, name(t))]
    if exact:
        return exact[0] if len(exact) == 1 else -1
    partial = [k for k, t in enumerate(shown) if want in t]
    return partial[0] if len(partial) == 1 else -1
