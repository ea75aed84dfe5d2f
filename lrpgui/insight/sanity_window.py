"""The Sanity window: cascading model-parameter randomisation (Adebayo et al., 2018).

The weighted layers are randomised from the output towards the input, one more per step (on a
copy of the model); the table gives the median |Spearman ρ| and |SSIM| of the heatmaps against
the original ones per step; the grid shows the first samples' heatmaps per step; the verdict
says whether the rule's explanation depends on the model (PASS) or stays the same while the
model is destroyed (FAIL).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QTableWidgetItem,
)

from lrpcore.errors import RuleError
from lrpcore.insight.sanity import rounded, step_title

from . import imaging
from .layouts import canvas, result_table, table_over_maps
from .trust_panels import BatchPanel
from .trust_tasks import request_from_state, sanity_task

COLUMNS = ("step", "randomised", "Spearman |ρ|", "|SSIM|", "similar")


class SanityPanel(BatchPanel):
    key = "insight-sanity"
    tool_name = "The sanity check"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("sanityPanel")
        self.steps: list = []
        self.drawn: list = []  # (item, map) of each cell drawn, one column per step
        self._drawn_steps: list = []  # the steps whose columns they are
        self._build()
        self.state.events.colormap.connect(lambda _c: self._recolour())

    def _build(self) -> None:
        self.rule_edit = self.rule_field("sanityRule", "rule, preset, sensitivity or "
                                         "gradxinput (empty: the current rule)")
        self.verdict = QLabel(objectName="sanityVerdict")
        self.verdict.setToolTip("PASS: the heatmaps change once half of the layers are random;"
                                " FAIL: they stay similar (Adebayo et al., 2018)")
        self.verdict.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Rule", self.rule_edit)
        form.addRow(self.batch_controls(64, "sanity"))
        self.table = result_table(
            "sanityTable", COLUMNS, "similarity of the heatmaps to the original ones (medians "
            "over the samples of |ρ| and |SSIM|: a map that only flipped its sign is the same "
            "map) as more layers are randomised from the top")
        self.maps = canvas("sanityMaps")
        self.cells: list = []
        table_over_maps(self, form, self.table, self.maps, self.verdict)

    def start(self) -> int:
        req = request_from_state(self.state, self.n_spin.value())
        if req is None:
            raise RuleError("open a model and a dataset first")
        rule = self.rule_edit.text().strip() or self.state.rule
        self.clear_error()
        self.steps = []
        self.verdict.clear()
        self._fill()
        return self.submit(lambda token: sanity_task(req, rule, token=token), self._done,
                           on_progress=self._partial)

    def _partial(self, done, total, step) -> None:
        if step is not None:
            self.steps.append(step)
            self._fill()  # adds this step's row and column only

    def _done(self, result) -> None:
        self.result = result
        self.steps = list(result.steps)
        colour = "#1b7f3b" if result.passed else "#b00020"
        self.verdict.setText(f"<b style='color:{colour}'>{result.verdict()}</b>")
        self._fill()
        self.updated.emit()

    def clear_results(self) -> None:
        super().clear_results()
        self.steps = []
        self.verdict.clear()
        self._fill()

    def _fill(self) -> None:
        self.table.setRowCount(len(self.steps))
        for i, s in enumerate(self.steps):
            values = (str(i), s.label, rounded(s.spearman_abs_median, 3),
                      rounded(s.ssim_abs_median, 3),
                      "" if i == 0 else ("yes" if s.similar() else "no"))
            for j, text in enumerate(values):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._draw_maps()

    # Each step's column is drawn once, as it arrives: redrawing the whole grid per step
    # made a cell 1+2+…+51 times over EfficientNet-Lite0's 51 steps, and the GUI thread
    # froze for minutes while the check ran.
    def _draw_maps(self) -> None:
        """Add the columns of the steps not drawn yet (all anew when steps were replaced)."""
        columns = len(self._drawn_steps)
        if columns > len(self.steps) or any(
                a is not b for a, b in zip(self._drawn_steps, self.steps, strict=False)):
            self.maps.clear()
            self.cells, self.drawn, self._drawn_steps = [], [], []
            columns = 0
        if columns == len(self.steps):
            return
        samples = self._samples()
        for k in range(columns, len(self.steps)):
            s = self.steps[k]
            self.maps.ci.addItem(pg.LabelItem(step_title(k, s).replace("\n", "<br>"),
                                              size="8pt", color="k"), row=0, col=k)
            for i in range(samples):
                m = s.maps[i]
                box, item = imaging.image_cell(self.maps.ci, i + 1, k)
                imaging.show_relevance(item, m, imaging.max_abs(m), self.state.colormap)
                imaging.fit(box, m.shape)
                self.cells.append(item)
                self.drawn.append((item, m))
            self._drawn_steps.append(s)
        # one width for every step: the original maps, under the narrowest title, were drawn
        # at half the size of the randomised ones they are compared with
        imaging.even_columns(self.maps.ci, len(self.steps))

    def _samples(self) -> int:
        return self.steps[0].maps.shape[0] if self.steps else 0

    def _recolour(self) -> None:
        """Another colormap: the cells drawn are re-coloured, none is made again."""
        for item, m in self.drawn:
            imaging.show_relevance(item, m, imaging.max_abs(m), self.state.colormap)
