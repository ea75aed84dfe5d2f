"""Pixel-flipping for the selected sample: rules and a random order compared live.

Units (pixels or patches) are replaced in order of decreasing relevance and the explained
class's output is recorded (Samek et al., 2017); a good explanation makes it fall fast and
has a large AOPC. The curves are computed on the insight worker, one method after the other;
each finished curve is plotted at once; "Cancel" stops the work between forward batches.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
)

from lrpcore.insight.pixelflip import (
    BASELINE_VALUES,
    DEFAULTS,
    axis_label,
    default_patch,
    default_per_step,
)

from ..widgets.axes import label_axes, plot_widget
from .layouts import result_table
from .panel import ToolPanel
from .worker_tasks import FlipSettings, request_from_state, run_pixelflip

DEFAULT_METHODS = ("alphabeta:2", "sensitivity", "gradxinput")
COLOURS = [(0, 90, 200), (230, 120, 0), (0, 150, 60), (200, 30, 30), (130, 60, 170),
           (140, 90, 40), (0, 150, 150), (200, 0, 150)]
RANDOM_COLOUR = (128, 128, 128)
X_LABEL = "pixels or patches flipped"  # until the curves say which (pixelflip.axis_label)


def _methods(first) -> str:
    """The methods list starting from ``first`` (the rule on display), then the defaults."""
    return ", ".join([first] + [m for m in DEFAULT_METHODS if m != first])


def parse_methods(text: str) -> tuple:
    """Comma- or semicolon-separated rule specs, presets or baselines (duplicates dropped)."""
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    return tuple(dict.fromkeys(p for p in parts if p))


class PixelFlipPanel(ToolPanel):
    """Perturbation curves and AOPC of several methods on the current sample."""

    key = "insight-pixelflip"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("pixelFlipPanel")
        self.outcome = None  # the last complete FlipOutcome
        self.results: tuple = ()  # the curves on display (complete or partial)
        self.curves: dict = {}  # label → PlotDataItem
        self._build()
        self.state.events.model.connect(self._fit_patch)
        self._fit_patch(self.state.model)

    def _build(self) -> None:
        self.methods_edit = QLineEdit(_methods(self.state.rule), objectName="flipMethods")
        self.methods_edit.setToolTip("rule specs, presets, sensitivity or gradxinput, "
                                     "separated by commas")
        # the first method is the rule on display until the list is changed (by the user or a
        # script), as in Compare: the panel is built before a model opens, so EfficientNet-
        # Lite0's list began with the toolbox's epsilon:0.01, not the EpsilonPlus on display
        self._auto_methods = self.methods_edit.text()
        self.state.events.rule.connect(self._follow_rule)
        self.steps = _spin(1, 1000, DEFAULTS["steps"], "flipSteps")  # as 'lrp evaluate'
        self.per_step = _spin(1, 10000, DEFAULTS["per_step"], "flipPerStep")
        self.patch = _spin(1, 64, DEFAULTS["patch"], "flipPatch")
        self.baseline = QComboBox(objectName="flipBaseline")
        self.baseline.addItems(BASELINE_VALUES)
        self.baseline.setCurrentText(DEFAULTS["baseline"])
        self.random = QCheckBox("random order", objectName="flipRandom")
        self.random.setChecked(DEFAULTS["random"])
        self.live = QCheckBox("follow the selection", objectName="flipLive")
        self.live.setChecked(True)
        jobs = self.job_controls("flip", exclusive=False)  # a new run supersedes the old
        form = QFormLayout()
        form.addRow("Methods", self.methods_edit)
        numbers = QHBoxLayout()
        for text, w in (("steps", self.steps), ("units per step", self.per_step),
                        ("patch", self.patch), ("baseline", self.baseline)):
            numbers.addWidget(QLabel(text))
            numbers.addWidget(w)
        numbers.addStretch(1)
        form.addRow(numbers)
        buttons = QHBoxLayout()
        for w in (self.random, self.live):
            buttons.addWidget(w)
        buttons.addStretch(1)
        for w in jobs.widgets():
            buttons.addWidget(w)
        form.addRow(buttons)

        self.plot = plot_widget("pixelFlipPlot")
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        label_axes(self.plot, "output of the explained class", X_LABEL)
        # no legend in the plot (in its corner it covered the curves that stay high): the
        # table below names each curve by a sample of its line
        self.table = result_table("aopcTable", ("method", "AOPC"))
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setMaximumHeight(170)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(split, 1)

    def _follow_rule(self, rule) -> None:
        if rule and self.methods_edit.text() == self._auto_methods:
            self._auto_methods = _methods(rule)
            self.methods_edit.setText(self._auto_methods)

    def _fit_patch(self, model) -> None:
        """Each model starts with the patch side ``lrp evaluate`` takes for it: pixels for
        digits, 8×8 patches for a 224×224 photograph (as many units as a digit has); and with
        fewer units per step than the input has (the XOR net's 2)."""
        if model is not None:
            spec = getattr(model, "input_spec", None)
            self.patch.setValue(default_patch(spec))
            self.per_step.setValue(default_per_step(spec, self.patch.value()))

    # -- settings ---------------------------------------------------------------------------
    def settings(self) -> FlipSettings:
        return FlipSettings(methods=parse_methods(self.methods_edit.text()),
                            steps=self.steps.value(), patch=self.patch.value(),
                            per_step=self.per_step.value(),
                            baseline=self.baseline.currentText(),
                            random=self.random.isChecked())

    def mark_stale(self) -> None:
        if self.live.isChecked():
            super().mark_stale()

    # -- work -------------------------------------------------------------------------------
    def start(self) -> int:
        req = request_from_state(self.state)
        if req is None:
            return 0
        settings = self.settings()
        cache = self.runner.cache
        self._clear_plot()
        return self.submit(lambda token: run_pixelflip(req, cache, settings, token), self._done,
                           on_progress=self._partial)

    def _partial(self, done, total, results) -> None:
        if results:
            self._plot(results)

    def _done(self, outcome) -> None:
        if outcome.request.model is not self.state.model:
            return
        self.clear_error()
        self.outcome = outcome
        self._plot(outcome.results)
        self.plot.setTitle(followed_class(outcome.request, outcome.target), size="9pt",
                           color="k")
        self.updated.emit()

    # -- drawing ----------------------------------------------------------------------------
    def _clear_plot(self) -> None:
        for item in self.curves.values():
            self.plot.removeItem(item)
        self.curves = {}
        self.results = ()
        self.table.setRowCount(0)

    def _plot(self, results) -> None:
        self.results = tuple(results)
        if results:  # "units flipped" said neither pixels nor which patches
            self.plot.getAxis("bottom").setLabel(axis_label(results[0].unit))
        self.table.setRowCount(len(results))
        for i, res in enumerate(results):
            colour = RANDOM_COLOUR if res.label == "random" else COLOURS[i % len(COLOURS)]
            name = f"{res.label}  (AOPC {res.aopc:.4g})"
            item = self.curves.get(res.label)
            x = np.asarray(res.flipped, dtype=float)
            y = np.asarray(res.mean_curve, dtype=float)
            style = Qt.PenStyle.DashLine if res.label == "random" else Qt.PenStyle.SolidLine
            pen = pg.mkPen(colour, width=2, style=style)
            if item is None:
                item = self.plot.plot(x, y, pen=pen, name=name)
                self.curves[res.label] = item
            else:
                item.setData(x, y)
            self.table.setItem(i, 0, QTableWidgetItem(line_sample(pen), res.label))
            aopc = QTableWidgetItem(f"{res.aopc:.5g}")
            aopc.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, 1, aopc)
        self.table.resizeColumnToContents(0)  # each name whole beside its line

    def aopc(self) -> dict:
        """{method label: AOPC} of the curves on display."""
        return {res.label: res.aopc for res in self.results}


def line_sample(pen) -> QIcon:
    """A short piece of a curve's line, which names the curve in the table."""
    picture = QPixmap(28, 10)
    picture.fill(Qt.GlobalColor.transparent)
    painter = QPainter(picture)
    painter.setPen(pen)
    painter.drawLine(1, 5, 27, 5)
    painter.end()
    return QIcon(picture)


def followed_class(req, k) -> str:
    """Which output the curves follow: its class by name; for target "output" also why it
    is the predicted class (pixel-flipping follows one class; it used to switch silently)."""
    names = list(req.model.class_names)
    text = f"output of class {names[k] if k < len(names) else k}"
    if req.target_value == "output":
        text += " — the predicted class: all outputs are no single class to follow"
    return text


def _spin(lo, hi, value, name) -> QSpinBox:
    box = QSpinBox(objectName=name)
    box.setRange(lo, hi)
    box.setValue(value)
    return box

