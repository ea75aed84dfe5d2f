"""Rule, parameters, per-layer overrides, target, precision and device.

The panel reads the rule registry (``lrpcore.rules.RULE_NAMES``) and the preset registry
(``lrpcore.presets.PRESETS``), so a newly registered preset appears here without changes.
Entries show the names of the registries (``epsilon``, ``EpsilonPlus``), so
``ruleSelector.setCurrentText("EpsilonPlus")`` works; the target selector also accepts its
values (``"pred"``, ``"true"``, ``"output"``, ``"3"``) in ``setCurrentText``.
Edits go to AppState; AppState events update the widgets with their signals blocked.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lrpcore.backend import gpu_available
from lrpcore.errors import LRPError
from lrpcore.explain import resolve_rules
from lrpcore.presets import PRESETS, preset_or_none
from lrpcore.rules import RULE_NAMES

from .. import rendering
from .choice_box import ChoiceBox
from .colour_panel import make_searchable
from .layer_table import LayerRuleTable

# rule → (parameter label, default, minimum, maximum)
PARAMETERS = {
    "epsilon": ("ε", 0.01, 0.0, 1e6),
    "alphabeta": ("α (β = 1 − α)", 2.0, 1.0, 100.0),
    "gamma": ("γ", 0.25, 0.0, 1e3),
}


@contextlib.contextmanager
def signals_blocked(*widgets):
    """Update widgets from the model without echoing the change back (napari's idiom)."""
    previous = [w.blockSignals(True) for w in widgets]
    try:
        yield
    finally:
        for w, p in zip(widgets, previous, strict=True):
            w.blockSignals(p)


class ParameterSpinBox(QDoubleSpinBox):
    """A rule parameter: up to 12 decimals (ε = 1e-9 stays 1e-9, not 0), shown compactly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDecimals(12)

    def textFromValue(self, value) -> str:  # noqa: N802 (Qt's name)
        return f"{value:.10g}"

    def valueFromText(self, text) -> float:  # noqa: N802 (Qt's name)
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        """Plain and scientific notation (``1e-9``); half-typed numbers are intermediate."""
        try:
            value = float(text)
        except ValueError:
            partial = text.strip().lower().rstrip("e+-.") or "0"
            try:
                float(partial.lstrip("+-"))
            except ValueError:
                return QValidator.State.Invalid, text, pos
            return QValidator.State.Intermediate, text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate,
                text, pos)


def split_spec(spec: str) -> tuple[str, list[str]]:
    head, *args = spec.split(":")
    return head, args


class RulePanel(QWidget):
    """Everything that decides which explanation is computed."""

    error = Signal(str)

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.rule_selector = ChoiceBox(objectName="ruleSelector")
        for name in RULE_NAMES:
            self.rule_selector.addItem(name, name)
        self.rule_selector.insertSeparator(self.rule_selector.count())
        for name, preset in PRESETS.items():
            self.rule_selector.addItem(name, name)  # the name users type, e.g. in --rule
            self.rule_selector.setItemData(self.rule_selector.count() - 1, preset.description,
                                           Qt.ItemDataRole.ToolTipRole)
        self.param_label = QLabel("ε")
        self.rule_parameter = self._spin("ruleParameter", 0.01)
        self.zb_low = self._spin("zbLow", -1.0, minimum=-1e6)
        self.zb_high = self._spin("zbHigh", 1.0, minimum=-1e6)
        self.zb_row = QWidget()
        zb_layout = QHBoxLayout(self.zb_row)
        zb_layout.setContentsMargins(0, 0, 0, 0)
        zb_layout.addWidget(QLabel("low"))
        zb_layout.addWidget(self.zb_low)
        zb_layout.addWidget(QLabel("high"))
        zb_layout.addWidget(self.zb_high)

        self.target_selector = ChoiceBox(objectName="targetSelector")
        self.dtype_selector = ChoiceBox(objectName="dtypeSelector")
        for name in ("float64", "float32"):
            self.dtype_selector.addItem(name, name)
        self.backend_selector = ChoiceBox(objectName="backendSelector")
        self.backend_selector.addItem("CPU (numpy)", "numpy")
        if gpu_available():
            self.backend_selector.addItem("GPU (cupy)", "cupy")
        self.backend_selector.setEnabled(self.backend_selector.count() > 1)
        self.colormap_selector = ChoiceBox(objectName="colormapSelector")
        for name in rendering.colormap_names():
            marked = name == "gray-red2"  # honest display: it hides the strongest relevance
            self.colormap_selector.addItem(f"{name} ⚠ clears top" if marked else name, name)
            self.colormap_selector.setItemData(
                self.colormap_selector.count() - 1,
                rendering.GRAY_RED2_NOTE if marked else rendering.colormap_description(name),
                Qt.ItemDataRole.ToolTipRole)
        self.colormap_selector.setToolTip("Colormap of the heatmap (re-colours the cached "
                                          "relevance; nothing is recomputed)")
        self.outline_box = QCheckBox("outline", objectName="outlineCheck")

        self.layer_table = LayerRuleTable(objectName="layerRuleTable")
        self.layer_table.setToolTip("Type a rule spec (e.g. epsilon:0.1, flat, zb) in the rule "
                                    "column to override one layer; clear it to go back.")

        form = QFormLayout()
        form.addRow("rule", self.rule_selector)
        form.addRow(self.param_label, self.rule_parameter)
        form.addRow("zᴮ bounds", self.zb_row)
        self.zb_label = form.labelForField(self.zb_row)
        form.addRow("target", self.target_selector)
        form.addRow("precision", self.dtype_selector)
        form.addRow("device", self.backend_selector)
        form.addRow("colormap", self.colormap_selector)
        form.addRow("", self.outline_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("per-layer rules"))
        layout.addWidget(self.layer_table, 1)

        self.rule_selector.currentIndexChanged.connect(self._rule_chosen)
        self.rule_parameter.valueChanged.connect(self._parameter_changed)
        self.zb_low.valueChanged.connect(self._parameter_changed)
        self.zb_high.valueChanged.connect(self._parameter_changed)
        self.target_selector.currentIndexChanged.connect(
            lambda _i: self._set("target", self.target_selector.currentData()))
        self.dtype_selector.currentIndexChanged.connect(
            lambda _i: self._set("dtype", self.dtype_selector.currentData()))
        self.backend_selector.currentIndexChanged.connect(
            lambda _i: self._set("backend", self.backend_selector.currentData()))
        self.colormap_selector.currentIndexChanged.connect(
            lambda _i: self._set("colormap", self.colormap_selector.currentData()))
        self.outline_box.toggled.connect(lambda on: self._set("outline", on))
        self.layer_table.itemChanged.connect(self._layer_edited)

        for name in ("rule", "layer_rules", "model"):
            getattr(state.events, name).connect(lambda _v: self._sync_rule())
        state.events.model.connect(lambda _v: self._sync_targets())
        state.events.dataset.connect(lambda _v: self._sync_targets())
        state.events.target.connect(lambda _v: self._sync_targets())
        state.events.dtype.connect(lambda v: self._select(self.dtype_selector, v))
        state.events.backend.connect(lambda v: self._select(self.backend_selector, v))
        state.events.colormap.connect(lambda v: self._select(self.colormap_selector, v))
        state.events.outline.connect(self._sync_outline)
        self._sync_all()

    @staticmethod
    def _spin(name, value, minimum=0.0):
        spin = ParameterSpinBox(objectName=name)
        spin.setRange(minimum, 1e6)
        spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        spin.setKeyboardTracking(False)
        spin.setValue(value)
        return spin

    # -- widget → state ---------------------------------------------------------------------
    def _set(self, field, value) -> None:
        if value is None:
            return
        try:
            setattr(self.state, field, value)
        except (LRPError, ValueError, TypeError) as exc:
            self._sync_all()  # the widgets show the state again, not the refused value
            self.error.emit(str(exc))

    def _sync_all(self) -> None:
        self._sync_rule()
        self._sync_targets()
        self._select(self.dtype_selector, self.state.dtype)
        self._select(self.backend_selector, self.state.backend)
        self._select(self.colormap_selector, self.state.colormap)
        self._sync_outline(self.state.outline)

    def _rule_chosen(self, _index=None) -> None:
        name = self.rule_selector.currentData()
        if name is None:
            return
        if name in PARAMETERS:
            label, default, lo, hi = PARAMETERS[name]
            with signals_blocked(self.rule_parameter):
                self.rule_parameter.setRange(lo, hi)
                self.rule_parameter.setValue(default)
        self._set("rule", self.current_spec())

    def _parameter_changed(self, _value=None) -> None:
        self._set("rule", self.current_spec())

    def current_spec(self) -> str:
        """The spec the widgets describe, e.g. ``epsilon:0.01`` or ``EpsilonPlus``."""
        name = self.rule_selector.currentData()
        if name in PARAMETERS:
            return f"{name}:{self.rule_parameter.value():g}"
        if name == "zb":
            lo, hi = self.zb_low.value(), self.zb_high.value()
            if (lo, hi) == self._default_bounds():
                return "zb"
            return f"zb:{lo:g}:{hi:g}"
        return name

    def _default_bounds(self):
        model = self.state.model
        if model is not None and model.input_spec is not None:
            lo, hi = model.input_spec.value_range
            return float(lo), float(hi)
        return -1.0, 1.0

    def _layer_edited(self, item) -> None:
        if item.column() != 3:
            return
        layer = item.data(Qt.ItemDataRole.UserRole)
        text = item.text().strip()
        overrides = dict(self.state.layer_rules)
        default = item.data(Qt.ItemDataRole.UserRole + 1)
        if not text or text == default:
            overrides.pop(layer, None)
        else:
            overrides[layer] = text
        try:
            self.state.layer_rules = overrides
        except (LRPError, ValueError, TypeError) as exc:
            self.error.emit(f"layer {layer}: {exc}")
        self._sync_table()

    # -- state → widgets --------------------------------------------------------------------
    @staticmethod
    def _select(combo, value) -> None:
        i = combo.findData(value)
        if i >= 0 and i != combo.currentIndex():
            with signals_blocked(combo):
                combo.setCurrentIndex(i)

    def _sync_outline(self, on) -> None:
        with signals_blocked(self.outline_box):
            self.outline_box.setChecked(bool(on))

    def _sync_rule(self) -> None:
        spec = self.state.rule
        preset = preset_or_none(spec)
        name, args = (preset.name, []) if preset is not None else split_spec(spec)
        self._select(self.rule_selector, name)
        has_param = name in PARAMETERS
        with signals_blocked(self.rule_parameter, self.zb_low, self.zb_high):
            if has_param:
                label, default, lo, hi = PARAMETERS[name]
                self.param_label.setText(label)
                self.rule_parameter.setRange(lo, hi)
                self.rule_parameter.setValue(float(args[0]) if args else default)
            if name == "zb":
                lo, hi = (float(args[0]), float(args[1])) if len(args) == 2 else \
                    self._default_bounds()
                self.zb_low.setValue(lo)
                self.zb_high.setValue(hi)
        self.param_label.setVisible(has_param)
        self.rule_parameter.setVisible(has_param)
        self.zb_row.setVisible(name == "zb")
        if self.zb_label is not None:
            self.zb_label.setVisible(name == "zb")
        self._sync_table()

    def _sync_table(self) -> None:
        table = self.layer_table
        model = self.state.model
        with signals_blocked(table):
            table.setRowCount(0)
            if model is None:
                return
            layers = model.analysis_layers()
            try:
                base = resolve_rules(layers, self.state.rule)
                shapes = model.shapes()
            except LRPError:
                return
            table.setRowCount(len(layers))
            for i, layer in enumerate(layers):
                cells = [str(i), layer.describe(), "×".join(map(str, shapes[i]))]
                for col, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setToolTip(text)
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    table.setItem(i, col, item)
                default = base.spec_of(i)
                override = self.state.layer_rules.get(i)
                item = QTableWidgetItem(override or default or "pass")
                item.setData(Qt.ItemDataRole.UserRole, i)
                item.setData(Qt.ItemDataRole.UserRole + 1, default)
                if default is None:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    item.setForeground(QBrush(QColor(150, 150, 150)))
                elif override is None:
                    font = QFont()
                    font.setItalic(True)
                    item.setFont(font)
                    item.setForeground(QBrush(QColor(90, 90, 90)))
                else:
                    font = QFont()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(i, 3, item)
            table.resizeRowsToContents()
        table.updateGeometry()  # its size hint follows the descriptions of the new model

    def _sync_targets(self) -> None:
        combo = self.target_selector
        model = self.state.model
        names = model.class_names if model is not None else []
        has_labels = self.state.labels is not None
        with signals_blocked(combo):
            combo.clear()
            combo.addItem("predicted class", "pred")
            if has_labels:
                combo.addItem("true class", "true")
            combo.addItem("all outputs", "output")
            for k, name in enumerate(names):
                combo.addItem(f"class {name}" if name != str(k) else f"class {k}", str(k))
            make_searchable(combo)  # type part of a class name (1000 ImageNet classes)
            i = combo.findData(self.state.target)
            combo.setCurrentIndex(max(i, 0))
