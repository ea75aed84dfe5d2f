"""The Sweep window: the current rule's or preset's parameter grid, ranked by faithfulness.

Every setting explains the same batch of samples; pixel-flipping (most minus least relevant
first) scores it in the background; the table fills as settings finish and is sorted best
first; the heatmaps of the first sample are shown side by side with their scores. One click
on a heatmap (or a row and "Apply", or a double click on the row) makes that setting the app's
rule (a preset's setting becomes per-layer rules). A ⚠ marks settings that do not conserve
relevance.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
)

from lrpcore.errors import LRPError, RuleError
from lrpcore.insight.params import parse_values

from . import imaging
from .layouts import canvas, result_table, table_over_maps
from .trust_panels import BatchPanel
from .trust_tasks import SweepSettings, request_from_state, sweep_task

COLUMNS = ("rank", "setting", "faithfulness", "MoRF AOPC", "LeRF AOPC", "conserves")
GROUP_CHOICES = {"all layers": ("all",), "first / middle / last": ("first", "middle", "last"),
                 "first layer": ("first",), "middle layers": ("middle",),
                 "last layer": ("last",)}
MAX_CELLS = 24
PER_ROW = 5


def parse_params(text: str) -> dict | None:
    """``"gamma=0,0.1; epsilon=1e-6,0.01"`` → {name: values}; blank → None (default grids).
    A refusal names the panel's field, not the command line's ``--param``."""
    parts = [p.strip() for p in text.split(";") if p.strip()]
    return dict(parse_values(p, "Parameters") for p in parts) or None


class SweepPanel(BatchPanel):
    key = "insight-sweep"
    tool_name = "The sweep"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("sweepPanel")
        self.rows: list = []  # SweepRow, sorted best first
        self.sample = None  # the first sample judged, as read: the maps' outline
        self._build()
        self.state.events.colormap.connect(lambda _c: self._draw_maps())
        self.state.events.outline.connect(lambda _c: self._draw_maps())

    def _build(self) -> None:
        self.rule_edit = self.rule_field("sweepRule",
                                         "rule or preset to sweep (empty: the current rule)")
        self.params_edit = QLineEdit(objectName="sweepParams")
        self.params_edit.setPlaceholderText("default grid, e.g. gamma=0,0.1,0.25,0.5,1; "
                                            "epsilon=1e-6,0.01,0.1")
        self.params_edit.setToolTip("values per parameter (epsilon, gamma, alpha), separated "
                                    "by ';' — empty: the default grid of each parameter the "
                                    "rule uses")
        self.groups = QComboBox(objectName="sweepGroups")
        self.groups.addItems(list(GROUP_CHOICES))
        self.groups.setToolTip("which layers' parameters vary (per layer group for presets)")
        self.steps = QSpinBox(objectName="sweepSteps")
        self.steps.setRange(2, 1000)
        self.steps.setValue(100)
        self.steps.setToolTip("pixel-flipping steps per curve")
        self.apply_button = QPushButton("Apply", objectName="sweepApply")
        self.apply_button.setToolTip("make the selected setting the app's rule")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_selected)
        form = QFormLayout()
        form.addRow("Rule", self.rule_edit)
        form.addRow("Parameters", self.params_edit)
        line = QHBoxLayout()
        line.addWidget(self.groups)
        line.addWidget(self.steps)
        line.addStretch(1)
        line.addWidget(self.apply_button)
        form.addRow("Layers / steps", line)
        form.addRow(self.batch_controls(64, "sweep"))

        self.table = result_table(
            "sweepTable", COLUMNS, "settings best first: faithfulness = AOPC when the most "
            "relevant pixels are flipped first minus AOPC when the least relevant are; "
            "double-click to apply", rows=True)
        self.table.itemSelectionChanged.connect(
            lambda: self.apply_button.setEnabled(self.selected_row() is not None))
        self.table.cellDoubleClicked.connect(lambda r, _c: self.apply_row(r))
        self.maps = canvas("sweepMaps", "the first sample's heatmap under each setting, "
                           "best first, each on its own colour scale; click one to apply its "
                           "setting")
        self.maps.scene().sigMouseClicked.connect(self._map_clicked)
        self.cells: list = []
        self.boxes: list = []  # the ViewBox of each heatmap, in ranking order
        self.outlines: list = []  # the outline over each heatmap, in ranking order
        table_over_maps(self, form, self.table, self.maps)

    # -- work -------------------------------------------------------------------------------
    def settings(self) -> SweepSettings:
        rule = self.rule_edit.text().strip() or self.state.rule
        return SweepSettings(rule=rule, params=parse_params(self.params_edit.text()),
                             groups=GROUP_CHOICES[self.groups.currentText()],
                             steps=self.steps.value())

    def start(self) -> int:
        req = request_from_state(self.state, self.n_spin.value())
        if req is None:
            raise RuleError("open a model and a dataset first")
        settings = self.settings()  # bad parameter text fails here, on the GUI thread
        self.clear_error()
        self.sample = req.first_sample()
        self.rows = []
        self._fill()
        return self.submit(lambda token: sweep_task(req, settings, token), self._done,
                           on_progress=self._partial)

    def _partial(self, done, total, row) -> None:
        if row is not None:
            self.rows = sorted([*self.rows, row], key=lambda r: r.rank_key)
            self._fill()

    def _done(self, result) -> None:
        self.result = result
        self.rows = list(result.rows)
        self._fill()
        self.updated.emit()

    def clear_results(self) -> None:
        super().clear_results()
        self.rows = []
        self._fill()

    # -- display ----------------------------------------------------------------------------
    def _fill(self) -> None:
        self.table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            f = row.faithfulness
            ok = row.diagnosis is None or row.diagnosis.ok
            finite = getattr(row, "finite", True)
            values = (str(i + 1), row.label, f"{f.score:.4g}", f"{f.morf_aopc:.4g}",
                      f"{f.lerf_aopc:.4g}", "yes" if ok and finite else
                      "⚠ no" if finite else "⚠ not finite")
            for j, text in enumerate(values):
                item = QTableWidgetItem(text)
                if j == 5 and not finite:
                    item.setToolTip("the relevance is not finite (a division by zero, or an "
                                    "overflow, in this precision); scored as blank maps")
                elif j == 5 and not ok:
                    item.setToolTip("\n".join(row.diagnosis.warnings()))
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self._draw_maps()

    def _draw_maps(self) -> None:
        self.maps.clear()
        self.cells = []
        self.boxes = []
        self.outlines = []
        shown = self.rows[:MAX_CELLS]
        if not shown:
            return
        # a setting's NaN map (relevance not finite) is drawn blank. Each map on its own
        # scale: flipping ranks pixels, whatever the scale, and on one shared scale the
        # z-rule's large values (γ = 0) left the best settings' maps nearly white
        r2d = [np.nan_to_num(imaging.map2d(_raw_map(self.state.model, row.maps[0])), nan=0.0,
                             posinf=0.0, neginf=0.0) for row in shown]
        x01 = imaging.input_for_map(self.state.model, self.sample, r2d[0].shape)
        rgba = imaging.outline_image(x01, r2d[0].shape, self.state.outline)
        for i, (row, m) in enumerate(zip(shown, r2d, strict=True)):
            r, c = divmod(i, PER_ROW)
            title = pg.LabelItem(f"{i + 1}. {row.setting.short_label}<br>{row.score:.4g}",
                                 size="8pt", color="k")
            self.maps.ci.addItem(title, row=2 * r, col=c)
            box, item = imaging.image_cell(self.maps.ci, 2 * r + 1, c)
            imaging.show_relevance(item, m, imaging.max_abs(m), self.state.colormap)
            outline = imaging.outline_overlay(box)
            imaging.put_outline(outline, rgba, m.shape)
            imaging.fit(box, m.shape)
            self.outlines.append(outline)
            self.cells.append(item)
            self.boxes.append(box)
        # one width per column: the titles' lengths ("1. epsilon:0.1" / "3. epsilon:1e-06")
        # shared the width out, and the maps of one row were drawn at three sizes
        imaging.even_columns(self.maps.ci, min(len(shown), PER_ROW))

    def _map_clicked(self, event) -> None:
        """One click on a heatmap applies its setting."""
        pos = event.scenePos()
        for i, box in enumerate(self.boxes):
            if box.sceneBoundingRect().contains(pos):
                self.table.selectRow(i)
                self.apply_row(i)
                return

    # -- applying ---------------------------------------------------------------------------
    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def apply_selected(self) -> None:
        i = self.selected_row()
        if i is not None:
            self.apply_row(i)

    def apply_row(self, i: int) -> None:
        """Make sweep row ``i`` (0 = best) the app's rule and layer rules."""
        setting = self.rows[i].setting
        try:
            with self.state.batch():
                self.state.rule = setting.rule
                self.state.layer_rules = dict(setting.layer_rules)
        except LRPError as exc:
            self.show_error(str(exc))


def _raw_map(model, r):
    spec = getattr(model, "input_spec", None)
    if spec is None:
        return r
    try:
        return spec.unpad(r[None])[0]
    except Exception:  # a layout unpad does not know: draw the model layout
        return r
