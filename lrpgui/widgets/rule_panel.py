"""Rule, parameters, per-layer overrides, target, precision and device.

The panel reads the rule registry (``lrpcore.rules.RULES``: one parameter row per declared
parameter, with its label, range and help; tooltips with the rule's formula and reference)
and the preset registry (``lrpcore.presets.PRESETS``), so a newly registered rule or preset
appears here without changes. The spec the rows describe is the one the CLI takes.
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
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lrpcore.backend import gpu_available
from lrpcore.errors import LRPError
from lrpcore.explain import layer_indices, layer_labels, resolve_rules
from lrpcore.presets import PRESETS, preset_or_none
from lrpcore.rules import RULES, format_number, parse_rule
from lrpcore.text import is_digits, no_markup

from .. import rendering
from ..session import no_labels
from ..tooltips import TIPS
from .choice_box import ChoiceBox
from .class_choice import ClassChoice, class_entries
from .layer_table import LAYER_COLUMN, SHORT_ROLE, LayerRuleTable
from .region_control import RegionControl

SPIN_LIMIT = 1e6  # the spin boxes' range where a parameter has no bound
SPIN_DECIMALS = 12
ROW_NAMES = ("ruleParameter", "ruleParameter2", "ruleParameter3", "ruleParameter4")


def rule_tooltip(cls) -> str:
    """A rule's one-line description, formula and reference (from the registry)."""
    return f"{cls.usage()}: {cls.summary}\n{cls.formula}\n{cls.reference}"


def preset_tooltip(preset) -> str:
    text = f"{preset.name}: {preset.description}"
    return f"{text}\n{preset.reference}" if preset.reference else text


def parameter_tooltip(cls, p) -> str:
    default = f"{p.default:g}" if p.default is not None else p.derived
    return f"{cls.name} {p.label}: {p.help} (range {p.range_text()}; default {default})"


def spin_range(p) -> tuple[float, float]:
    """The registry's range as spin-box limits (an exclusive minimum, ε > 0, stays above)."""
    lo = -SPIN_LIMIT if p.minimum is None else p.minimum + (10.0 ** -SPIN_DECIMALS
                                                             if p.above else 0.0)
    hi = SPIN_LIMIT if p.maximum is None else p.maximum
    return lo, hi


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
        self.setDecimals(SPIN_DECIMALS)

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


class RulePanel(QWidget):
    """Everything that decides which explanation is computed."""

    error = Signal(str)

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.rule_selector = ChoiceBox(objectName="ruleSelector")
        for name, cls in RULES.items():
            self.rule_selector.addItem(name, name)
            self.rule_selector.setItemData(self.rule_selector.count() - 1, rule_tooltip(cls),
                                           Qt.ItemDataRole.ToolTipRole)
        self.rule_selector.insertSeparator(self.rule_selector.count())
        for name, preset in PRESETS.items():
            self.rule_selector.addItem(name, name)  # the name users type, e.g. in --rule
            self.rule_selector.setItemData(self.rule_selector.count() - 1,
                                           preset_tooltip(preset), Qt.ItemDataRole.ToolTipRole)
        # one row per parameter of the chosen rule; rows showing a derived value (β = α − 1,
        # zᴮ bounds from the model) stay derived until edited
        count = max([len(cls.params) for cls in RULES.values()] + [1])
        self.param_labels = [QLabel() for _ in range(count)]
        self.param_spins = [self._spin(ROW_NAMES[k] if k < len(ROW_NAMES)
                                       else f"ruleParameter{k + 1}") for k in range(count)]
        self._derived: set[int] = set()
        self._table_model = None  # the model whose layers the table's rows show
        self._targets_for = None  # (model, has labels) the target list was built for
        self.rule_parameter = self.param_spins[0]  # the first row (ε, α, γ, zᴮ low)
        self.param_label = self.param_labels[0]

        self.target_selector = ClassChoice(objectName="targetSelector")
        self.region = RegionControl(state)  # a segmentation model's box of its output map
        self.region.error.connect(self.error.emit)
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
        for label, spin in zip(self.param_labels, self.param_spins, strict=True):
            form.addRow(label, spin)
        form.addRow("target", self.target_selector)
        form.addRow("region", self.region)
        self._form = form
        form.addRow("precision", self.dtype_selector)
        form.addRow("device", self.backend_selector)
        form.addRow("colormap", self.colormap_selector)
        form.addRow("", self.outline_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("per-layer rules"))
        layout.addWidget(self.layer_table, 1)

        self.rule_selector.currentIndexChanged.connect(self._rule_chosen)
        for k, spin in enumerate(self.param_spins):
            spin.valueChanged.connect(lambda _v, k=k: self._parameter_changed(k))
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
        state.events.model.connect(lambda _v: self._show_region())
        state.events.dataset.connect(lambda _v: self._sync_targets())
        state.events.target.connect(lambda _v: self._sync_targets())
        state.events.dtype.connect(lambda v: self._select(self.dtype_selector, v))
        state.events.backend.connect(lambda v: self._select(self.backend_selector, v))
        state.events.colormap.connect(lambda v: self._select(self.colormap_selector, v))
        state.events.outline.connect(self._sync_outline)
        self._sync_all()

    @property
    def zb_low(self):
        return self.param_spins[0]

    @property
    def zb_high(self):
        return self.param_spins[1]

    @staticmethod
    def _spin(name):
        spin = ParameterSpinBox(objectName=name)
        spin.setRange(-SPIN_LIMIT, SPIN_LIMIT)
        spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        spin.setKeyboardTracking(False)
        spin.setToolTip("A parameter of the chosen rule (its range and default in the tooltip "
                        "once a rule with parameters is chosen)")
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

    def _show_region(self) -> None:
        """The region row only for a model whose output is a map."""
        self._form.setRowVisible(self.region, self.region.applies())

    def _sync_all(self) -> None:
        self._show_region()
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
        problem = self._refused_here(name)
        if problem:  # e.g. zB, meant for the input layer, as the rule of every layer
            self._sync_all()
            self.error.emit(problem)
            return
        self._set("rule", name)  # a bare rule name takes the registry's defaults

    def _refused_here(self, spec) -> str:
        """Why the open model cannot take ``spec`` with the per-layer rules set (as the
        command line would refuse it), said when it is chosen rather than by every later
        explanation; '' when it can, or when the rules set fail with any rule."""
        model = self.state.model
        if model is None:
            return ""
        layers = model.analysis_layers()
        try:
            resolve_rules(layers, spec, dict(self.state.layer_rules))
        except (LRPError, ValueError, TypeError) as exc:
            try:
                resolve_rules(layers, self.state.rule, dict(self.state.layer_rules))
            except (LRPError, ValueError, TypeError):
                return ""  # not this rule's fault: the explanation says what is wrong
            return str(exc)
        return ""

    def _parameter_changed(self, row: int) -> None:
        self._derived.discard(row)  # an edited row now holds a value of its own
        self._set("rule", self.current_spec())

    def current_spec(self) -> str:
        """The spec the widgets describe, e.g. ``epsilon:0.01``, ``alphabeta:2:0.5`` or
        ``EpsilonPlus``; the same text ``--rule`` takes for the same settings."""
        name = self.rule_selector.currentData()
        cls = RULES.get(name)
        if cls is None or not cls.params:
            return name
        shown = [spin.value() for spin in self.param_spins[:len(cls.params)]]
        values = [None if k in self._derived else v for k, v in enumerate(shown)]
        while values and values[-1] is None:
            values.pop()  # derived trailing parameters: the spec leaves them out
        if None in values or len(values) not in cls.allowed_arities():
            values = shown[:min(a for a in cls.allowed_arities() if a >= len(values))]
        return ":".join([cls.name, *(format_number(v) for v in values)])

    def _input_range(self):
        model = self.state.model
        if model is not None and model.input_spec is not None:
            lo, hi = model.input_spec.value_range
            return float(lo), float(hi)
        return -1.0, 1.0

    def _layer_edited(self, item) -> None:
        """A spec typed into a row is that layer's rule, kept by node name for graph models
        (by index for chains); ``KEY=SPEC`` typed into any row names layers as
        ``--layer-rule`` does: an index, a node name, a glob or a PyTorch module path."""
        if item.column() != 3:
            return
        layer = item.data(Qt.ItemDataRole.UserRole)
        text = item.text().strip()
        overrides = dict(self.state.layer_rules)
        default = item.data(Qt.ItemDataRole.UserRole + 1)
        layers = self.state.model.analysis_layers() if self.state.model is not None else []
        names = getattr(layers, "names", None)
        key = names[layer] if names else layer
        where = f"layer {layer}"
        # what is typed last wins, as a later --layer-rule does (resolve_rules): each key is
        # moved to the end; a row typed after a glob that names it keeps its own rule
        if "=" in text:
            where = repr(text)  # KEY=SPEC names its own layers, whatever the row
            given, _, text = text.rpartition("=")
            given = int(given) if is_digits(given.strip()) else given.strip()
            overrides.pop(given, None)
            overrides[given] = text.strip()
        else:
            overrides.pop(layer, None)
            overrides.pop(key, None)
            if text and text != default:
                overrides[key] = text
            elif default and self._covered(layers, layer, overrides):
                overrides[key] = default  # cleared under a glob: this row's own rule again
        try:
            resolve_rules(layers, self.state.rule, overrides)  # names, globs, merges: now
            self.state.layer_rules = overrides
        except (LRPError, ValueError, TypeError) as exc:
            message = str(exc)  # "layer 1: layer 1 (Pad …) passes relevance …" said it twice
            if not message.startswith(f"{where} "):
                message = f"{where}: {message}"
            self.error.emit(message)
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
        rule = None if preset is not None else parse_rule(spec)
        self._select(self.rule_selector, preset.name if preset is not None else rule.name)
        params = () if rule is None else rule.params
        self._derived = {k for k, p in enumerate(params) if getattr(rule, p.name) is None}
        with signals_blocked(*self.param_spins):
            for k, (label, spin) in enumerate(zip(self.param_labels, self.param_spins,
                                                  strict=True)):
                shown = k < len(params)
                label.setVisible(shown)
                spin.setVisible(shown)
                if not shown:
                    continue
                p = params[k]
                label.setText(p.label)
                tip = parameter_tooltip(type(rule), p)
                label.setToolTip(tip)
                spin.setToolTip(tip)
                spin.setRange(*spin_range(p))
                value = rule.value(p.name, self._input_range())
                spin.setValue(p.default if value is None else value)
        if rule is not None:
            self.rule_selector.setToolTip(rule_tooltip(type(rule)))
        else:
            self.rule_selector.setToolTip(preset_tooltip(preset))
        self._sync_table()

    def _sync_table(self) -> None:
        """Show each layer's rule. The rows are updated in place while the model stays, so an
        editor that has just committed still belongs to its cell (rebuilding the rows under
        it made Qt warn "commitData called with an editor that does not belong to this view")."""
        table = self.layer_table
        model = self.state.model
        with signals_blocked(table):
            layers = model.analysis_layers() if model is not None else []
            try:
                base = resolve_rules(layers, self.state.rule) if layers else None
                shapes = model.shapes() if layers else []
            except LRPError:
                base = None
            overridden = self._overridden(layers) if base is not None else {}
            if base is None:
                table.setRowCount(0)
                self._table_model = None
                return
            if self._table_model is not model or table.rowCount() != len(layers):
                table.setRowCount(0)
                table.setRowCount(len(layers))
                names = layer_labels(layers)  # a chain's too, as 'lrp info' names them
                for i, layer in enumerate(layers):
                    what = layer.describe() + (f" ({names[i]})" if names else "")
                    cells = [str(i), what, "×".join(map(str, shapes[i]))]
                    for col, text in enumerate(cells):
                        item = QTableWidgetItem(text)
                        item.setToolTip(no_markup(text))  # a node name from the file
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                        if col == LAYER_COLUMN and names:  # narrow: the node's name
                            item.setData(SHORT_ROLE, names[i])
                        table.setItem(i, col, item)
                    table.setItem(i, 3, QTableWidgetItem())
                self._table_model = model
            with table.batched_changes():
                for i in range(len(layers)):
                    self._show_layer_rule(table.item(i, 3), i, base.spec_of(i),
                                          overridden.get(i), getattr(layers[i], "merge", False))
            table.resizeRowsToContents()
        table.fit_columns()
        table.updateGeometry()  # its size hint follows the descriptions of the new model

    @staticmethod
    def _covered(layers, row, overrides) -> bool:
        """Whether a key of ``overrides`` (a glob, a module path) still names ``row``."""
        for k in overrides:
            try:
                if row in layer_indices(layers, k):
                    return True
            except LRPError:
                continue
        return False

    def _overridden(self, layers) -> dict:
        """{row: override spec} from the state's keys (indices, node names, globs); keys
        this model does not have are left out (the explanation reports them)."""
        out = {}
        for key, spec in self.state.layer_rules.items():
            try:
                rows = layer_indices(layers, key)
            except LRPError:
                continue
            out.update({i: spec for i in rows if 0 <= i < len(layers)})
        return out

    def _show_layer_rule(self, item, i, default, override=None, merge=False) -> None:
        # a merge splits by zennit's Norm unless an ε-rule is typed for it
        item.setText(override or default or ("Norm" if merge else "pass"))
        item.setData(Qt.ItemDataRole.UserRole, i)
        item.setData(Qt.ItemDataRole.UserRole + 1, default)
        font = QFont()
        if default is None and not merge:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            item.setForeground(QBrush(QColor(150, 150, 150)))
        else:
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            if override is None:
                font.setItalic(True)
                item.setForeground(QBrush(QColor(90, 90, 90)))
            else:
                font.setBold(True)
                item.setForeground(QBrush(self.layer_table.palette().text().color()))
        item.setFont(font)
        item.setToolTip(f"layer {i}: {'override' if override else 'from the rule'} "
                        f"{override or default or 'pass'} (type a rule spec; clear it to go "
                        "back; KEY=SPEC names layers by index, node name or glob, e.g. "
                        "layer1.*=zplus)")

    def _sync_targets(self) -> None:
        """The target list: rebuilt when the model or the presence of labels changed, not at
        every change of target (100,000 classes are 100,000 entries)."""
        combo = self.target_selector
        model = self.state.model
        has_labels = self.state.labels is not None
        with signals_blocked(combo):
            built = self._targets_for
            if built is None or built[0] is not model or built[1] != has_labels:
                head = [("predicted class", "pred")] + (
                    [("true class", "true")] if has_labels else []) + [("all outputs", "output")]
                combo.set_entries(*class_entries(model, "class {name}", head, text_values=True),
                                  current=self.state.target)
                self._targets_for = (model, has_labels)
            i = combo.findData(self.state.target)
            combo.setCurrentIndex(max(i, 0))
        tip = TIPS["targetSelector"]
        if self.state.dataset is not None and not has_labels:  # say why "true" is missing
            tip += f". No “true class”: {no_labels(self.state.dataset_name)}"
        combo.setToolTip(tip)
