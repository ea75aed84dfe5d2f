"""Compare: up to six rule configurations (and the gradient baselines) side by side for the
selected sample, as rows; columns are the explained class, all classes, or "A versus B".

One forward pass serves the whole view (the insight worker's forward cache, or the one the
explain service already holds); every map is a backward pass over it. Each row has its own
colour scale (max |R| of the row) unless "one scale for all rows" is ticked; a colormap
change or a scale toggle re-colours the cached maps without any new computation.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
)

from lrpcore.conventions import TOOLBOX, convention_of
from lrpcore.errors import RuleError
from lrpcore.insight.compare import MAX_RULES, WHOLE_OUTPUT
from lrpcore.map_targets import region_words
from lrpcore.presets import PRESETS
from lrpcore.targets import model_map_shape

from ..widgets.class_choice import ClassChoice, class_entries, typed_entry
from ..widgets.region_control import framing, region_frame, show_frame
from ..widgets.rule_panel import signals_blocked
from . import imaging
from .panel import ToolPanel
from .worker_tasks import request_from_state, run_compare

# no plain zb: it is refused as the rule of every layer (EpsilonGammaBox puts it first)
COMMON_RULES = ("simple", "epsilon:0.01", "epsilon:0.25", "alphabeta:1", "alphabeta:2", "flat",
                "ww", "gamma:0.25", "zplus")
BASELINES = ("sensitivity", "gradxinput")
MODE_LABELS = (("target", "explained class"), ("all", "all classes (at most the top 10)"),
               ("contrast", "class A versus class B"))
DEFAULT_RULES = TOOLBOX.compare  # before a model opens; each kind of model has its own
CELL = 72  # minimum side of a map cell in pixels
MAP_STRETCH = 4  # a map column's (row's) share of spare room against the name column's 1
SCALE_WIDTH = 72  # the scale column ("±8.5e-07") at most
CAPTION_HEIGHT = 28  # a tile's title line
QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum"
TILE_WIDTH = 200  # a tile's preferred width (wider than its caption's)
TILES_PER_LINE = 4  # one class column: the input and the maps as tiles, at most this many a line


def rule_choices() -> list[str]:
    """What the rule boxes offer: nothing, rule specs, presets, baselines."""
    return ["", *COMMON_RULES, *PRESETS, *BASELINES]


class CompareView(ToolPanel):
    """Rows of relevance maps for several rules; the columns depend on the mode."""

    key = "insight-compare"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("compareView")
        self.result = None  # the CompareResult on display
        self.cell_maps: dict = {}  # (row, col) → 2-D map shown
        self.cell_levels: dict = {}  # (row, col) → vmax of its colour scale
        self._grid_shape = None
        self._cells: dict = {}
        self._outlines: dict = {}
        self._frames: dict = {}  # (row, col) → a segmentation model's region frame
        self.input_frame = None
        self._titles: list = []
        self._titles_say = str  # a title's wording (one class column's: tiles_heading)
        self._row_labels: list = []
        self._scale_labels: list = []
        self._build()
        self.state.events.colormap.connect(lambda _c: self.render())
        self.state.events.outline.connect(lambda _c: self.render())

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        controls = QGridLayout()
        self.rule_boxes = []
        # the rows belong to a kind of model, as the main rule does (AppState's rule memory):
        # a photograph model's rows are zennit's composites, a digit model's the toolbox's
        self._rows_kind = self._kind()
        self._rows_by_kind: dict = {}  # kind → (rows, first follows) last shown for it
        defaults = self._default_rows()
        for i in range(MAX_RULES):
            box = QComboBox(objectName=f"compareRule{i}")
            box.setEditable(True)
            box.addItems(rule_choices())
            box.setCurrentText(defaults[i] if i < len(defaults) else "")
            box.setMinimumContentsLength(12)
            box.activated.connect(lambda _i: self.refresh())
            box.lineEdit().editingFinished.connect(self.refresh)
            self.rule_boxes.append(box)
            controls.addWidget(box, i // 3, i % 3)
        # the first row is the rule on display until the user sets it: the panel is built
        # before a model opens, so EfficientNet's Compare showed the toolbox's epsilon:0.01
        # first and not the EpsilonPlus in the main view
        self._first_follows = True
        first_box = self.rule_boxes[0]
        first_box.activated.connect(lambda _i: self._stop_following())
        first_box.lineEdit().textEdited.connect(lambda _t: self._stop_following())
        self.state.events.rule.connect(self._follow_rule)
        self.state.events.model.connect(lambda _m: self._follow_kind())
        self.mode_box = QComboBox(objectName="compareMode")
        for key, text in MODE_LABELS:
            self.mode_box.addItem(text, key)
        # classes by number or name (typed names complete, as in the target box): 1000
        # ImageNet classes are no numbers to remember
        self.class_a = ClassChoice(objectName="compareClassA", chars=8)
        self.class_b = ClassChoice(objectName="compareClassB", chars=8)
        self._classes_for = None  # the model whose classes the boxes list
        self._fill_classes()
        self.state.events.model.connect(lambda _m: self._fill_classes())
        self.positive = QCheckBox("positive part only", objectName="comparePositive")
        self.shared = QCheckBox("one scale for all rows", objectName="compareSharedScale")
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        for w in (self.class_a, self.class_b):
            w.currentIndexChanged.connect(lambda _i: self.refresh())
        self.positive.toggled.connect(lambda _v: self.refresh())
        self.shared.toggled.connect(lambda _v: self.render())
        row = QHBoxLayout()
        row.addWidget(QLabel("Columns:"))
        row.addWidget(self.mode_box)
        row.addWidget(QLabel("A"))
        row.addWidget(self.class_a)
        row.addWidget(QLabel("B"))
        row.addWidget(self.class_b)
        row.addStretch(1)
        # the switches on a row of their own: beside class boxes that show names the row
        # made the tool wider than a 700-pixel dock
        switches = QHBoxLayout()
        switches.addWidget(self.positive)
        switches.addStretch(1)
        switches.addWidget(self.shared)
        self.info = QLabel(objectName="compareInfo")
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setObjectName("compareCanvas")
        self.canvas.setBackground("w")
        imaging.keep_whole(self.canvas)  # rows and their labels whole: a small dock scrolls
        self.layout_item = self.canvas.ci
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(row)
        layout.addLayout(switches)
        layout.addWidget(self.error_label)
        layout.addWidget(self.info)
        layout.addWidget(self.canvas, 1)
        self._mode_changed()

    def _fill_classes(self) -> None:
        """Both class boxes list the open model's classes (A: the first, B: the second)."""
        model = self.state.model
        if self.class_a.count() and self._classes_for is model:
            return
        self._classes_for = model
        texts, values = class_entries(model, unknown=10)
        for box, default in ((self.class_a, 0), (self.class_b, 1)):
            keep = box.currentData()
            with signals_blocked(box):
                box.set_entries(texts, values, current=default if keep is None else keep)

    def pair(self) -> tuple[int, int]:
        """The classes A and B of the contrast."""
        return tuple(int(b.currentData() or 0) for b in (self.class_a, self.class_b))

    def set_pair(self, a, b) -> None:
        """Choose A and B by index or by anything the boxes take (a class name)."""
        for box, value in ((self.class_a, a), (self.class_b, b)):
            i = box.findData(value)
            if i < 0:
                i = typed_entry(box, str(value))
            if i < 0:
                raise RuleError(f"no class {value!r} among the model's classes")
            box.setCurrentIndex(i)

    def _mode_changed(self) -> None:
        contrast = self.mode() == "contrast"
        for w in (self.class_a, self.class_b, self.positive):
            w.setEnabled(contrast)
        self.mark_stale()  # computes now only when visible (else when shown)

    def _kind(self) -> str:
        return convention_of(self.state.model).name

    def _default_rows(self) -> list[str]:
        """The rule on display, then the open kind of model's other rows."""
        first = self.state.rule
        return [first] + [r for r in convention_of(self.state.model).compare if r != first]

    def _follow_kind(self) -> None:
        """A model of another kind opened: its rows come back as last set for that kind (or
        its defaults), the rows of the kind left are kept for its return."""
        kind = self._kind()
        if kind == self._rows_kind:
            return
        shown = [b.currentText() for b in self.rule_boxes]
        self._rows_by_kind[self._rows_kind] = (shown, self._first_follows)
        self._rows_kind = kind
        rows, follows = self._rows_by_kind.pop(kind, (self._default_rows(), True))
        for i, box in enumerate(self.rule_boxes):
            box.setCurrentText(rows[i] if i < len(rows) else "")
        self._first_follows = follows
        if follows:
            self._follow_rule(self.state.rule)  # the panel recomputes on the model's change

    def _stop_following(self) -> None:
        self._first_follows = False

    def _follow_rule(self, rule) -> None:
        if not (self._first_follows and rule):
            return
        first = self.rule_boxes[0]
        before = first.currentText().strip()
        if before != rule:  # a row showing the new rule already takes the first row's old one:
            # EpsilonGammaBox chosen in the main view was drawn twice and EpsilonPlus not at all
            for box in self.rule_boxes[1:]:
                if box.currentText().strip() == rule:
                    box.setCurrentText(before)
                    break
        first.setCurrentText(rule)  # the new explanation refreshes the view

    # -- settings (also used by tests and scripts) ------------------------------------------
    def rules(self) -> list[str]:
        return [b.currentText().strip() for b in self.rule_boxes if b.currentText().strip()]

    def set_rules(self, rules) -> None:
        rules = list(rules)
        self._first_follows = False
        for i, box in enumerate(self.rule_boxes):
            box.setCurrentText(rules[i] if i < len(rules) else "")
        self.refresh()

    def mode(self) -> str:
        return self.mode_box.currentData()

    def set_mode(self, mode: str, pair=None, positive=None) -> None:
        if pair is not None:
            self.set_pair(*pair)
        if positive is not None:
            self.positive.setChecked(bool(positive))
        self.mode_box.setCurrentIndex([k for k, _ in MODE_LABELS].index(mode))
        self.refresh()

    # -- work -------------------------------------------------------------------------------
    def start(self) -> int:
        req = request_from_state(self.state)
        if req is None:
            return 0
        self._fill_classes()
        rules, mode = self.rules(), self.mode()
        pair = self.pair()
        positive = self.positive.isChecked()
        cache = self.runner.cache
        self.info.setText("computing…")
        return self.submit(lambda token: run_compare(req, cache, rules, mode, pair, positive,
                                                     token), self._show)

    def _show(self, result) -> None:
        if result.request.model is not self.state.model:
            return
        self.clear_error()
        self.result = result
        self.render()
        self.updated.emit()

    def cancelled(self) -> None:
        self.info.setText("")

    # -- drawing ----------------------------------------------------------------------------
    def _ensure_grid(self, n_rows, n_cols) -> bool:
        if self._grid_shape == (n_rows, n_cols):
            return False
        _forget_room(self.canvas.ci.layout)
        self.canvas.clear()
        ci = self.canvas.ci
        ci.setSpacing(4)
        self._cells = {}
        self._outlines = {}
        self._frames = {}
        self._titles = []
        self._titles_say = str
        self._row_labels = []
        self._scale_labels = []
        if n_cols == 1:
            self._tile_grid(ci, n_rows)
            self._grid_shape = (n_rows, n_cols)
            return True
        self.input_box, self.input_item = imaging.image_cell(ci, 0, 0, CELL)
        self.input_frame = region_frame(self.input_box)
        for c in range(n_cols):
            label = pg.LabelItem("", size="9pt", color="k")
            ci.addItem(label, row=0, col=c + 1)
            self._titles.append(label)
        for r in range(n_rows):
            name = pg.LabelItem("", size="9pt", color="k", justify="right")
            name.setMaximumHeight(28)
            ci.addItem(name, row=r + 1, col=0)
            ci.layout.setAlignment(name, Qt.AlignmentFlag.AlignRight
                                   | Qt.AlignmentFlag.AlignVCenter)
            self._row_labels.append(name)
            for c in range(n_cols):
                box, item = imaging.image_cell(ci, r + 1, c + 1, CELL)
                self._cells[(r, c)] = (box, item)
                self._outlines[(r, c)] = imaging.outline_overlay(box)
                self._frames[(r, c)] = region_frame(box)
            scale = pg.LabelItem("", size="8pt", color="#555")
            scale.setMaximumHeight(28)
            ci.addItem(scale, row=r + 1, col=n_cols + 1)
            ci.layout.setAlignment(scale, Qt.AlignmentFlag.AlignVCenter)
            self._scale_labels.append(scale)
        self._share_room(ci.layout, n_rows, n_cols)
        self._grid_shape = (n_rows, n_cols)
        return True

    def _tile_grid(self, ci, n_rows) -> None:
        """One class column: the input and each row's map as tiles, several to a line, each
        titled with its rule and scale, under a heading over all of them that says which
        class every map explains (over the input alone it read as the input's title). As
        one column of rows, five maps took a sliver of a wide dock's width."""
        n = n_rows + 1
        per_line = math.ceil(n / math.ceil(n / TILES_PER_LINE))
        places = [(1 + 2 * (t // per_line), t % per_line) for t in range(n)]
        title = pg.LabelItem("", size="9pt", color="k")
        ci.addItem(title, row=0, col=0, colspan=per_line)
        self._titles.append(title)
        self._titles_say = tiles_heading
        line, col = places[0]
        ci.addItem(pg.LabelItem("input", size="9pt", color="k"), row=line, col=col)
        self.input_box, self.input_item = imaging.image_cell(ci, line + 1, col, CELL)
        self.input_frame = region_frame(self.input_box)
        for r in range(n_rows):
            line, col = places[r + 1]
            caption = ci.addLayout(row=line, col=col)
            caption.setContentsMargins(0, 0, 0, 0)
            name = pg.LabelItem("", size="9pt", color="k")
            scale = pg.LabelItem("", size="8pt", color="#555")
            caption.addItem(name, row=0, col=0)
            caption.addItem(scale, row=0, col=1)
            caption.setMaximumHeight(CAPTION_HEIGHT)
            self._row_labels.append(name)
            self._scale_labels.append(scale)
            box, item = imaging.image_cell(ci, line + 1, col, CELL)
            self._cells[(r, 0)] = (box, item)
            self._outlines[(r, 0)] = imaging.outline_overlay(box)
            self._frames[(r, 0)] = region_frame(box)
        layout = ci.layout
        for c in range(per_line):  # columns of one width: the captions' differ
            layout.setColumnStretchFactor(c, 1)
            layout.setColumnPreferredWidth(c, TILE_WIDTH)
        layout.setRowStretchFactor(0, 0)
        layout.setRowMaximumHeight(0, CAPTION_HEIGHT)
        for line in range(1, 1 + 2 * math.ceil(n / per_line), 2):
            layout.setRowStretchFactor(line, 0)
            layout.setRowMaximumHeight(line, CAPTION_HEIGHT)
            layout.setRowStretchFactor(line + 1, MAP_STRETCH)

    @staticmethod
    def _share_room(layout, n_rows, n_cols) -> None:
        """The maps take the room: the name column (with the input above it), the title row
        and the scale column only what they need (at equal stretch they took two thirds of
        a photograph's one-column comparison, its maps a third of the dock's width)."""
        layout.setColumnStretchFactor(0, 1)
        for c in range(n_cols):
            layout.setColumnStretchFactor(c + 1, MAP_STRETCH)
        layout.setColumnStretchFactor(n_cols + 1, 0)
        layout.setColumnMaximumWidth(n_cols + 1, SCALE_WIDTH)
        layout.setRowStretchFactor(0, 1)
        for r in range(n_rows):
            layout.setRowStretchFactor(r + 1, MAP_STRETCH)

    def _comparable(self, rows) -> bool:
        """One colour scale makes sense only between maps in the same units: relevance
        (every LRP rule, gradient × input) but not sensitivity (squared gradients)."""
        kinds = {_units(getattr(row, "rule", None) or row.label) for row in rows}
        ok = len(kinds) <= 1
        self.shared.setEnabled(ok)
        self.shared.setToolTip(
            "One colour scale (the largest |R| of all rows) for every row, so that rows can "
            "be compared by brightness" if ok else
            "Not offered: sensitivity (squared gradients) is not in the units of relevance, "
            "so one scale would mislead; each row keeps its own scale")
        return ok

    def render(self) -> None:
        """(Re)colour the cached maps with the current colormap and scale choice."""
        result = self.result
        if result is None:
            return
        comp = result.comparison
        rows = comp.rows
        n_cols = max(row.maps.shape[0] for row in rows)
        new = self._ensure_grid(len(rows), n_cols)
        cmap = self.state.colormap
        model = result.request.model
        x01 = result.input01
        imaging.show_input(self.input_item, x01)
        frame = framing(model, result.request.region)  # image shape → its frame
        show_frame(self.input_frame, frame(x01.shape[:2]))
        maps = result.cell_maps  # summed and outlined on the worker: here only coloured
        row_vmax = [imaging.max_abs(m) for m in maps]
        shared = max(row_vmax) if row_vmax else 0.0
        comparable = self._comparable(rows)
        use_shared = self.shared.isChecked() and comparable
        self.cell_maps, self.cell_levels = {}, {}
        outlines = result.outlines if self.state.outline else {}
        for r, row in enumerate(rows):
            self._row_labels[r].setText(row.label)
            vmax = shared if use_shared else row_vmax[r]
            self._scale_labels[r].setText(f"±{vmax:.3g}")
            for c in range(n_cols):
                box, item = self._cells[(r, c)]
                if c >= maps[r].shape[0]:
                    item.clear()
                    show_frame(self._frames[(r, c)], None)
                    continue
                imaging.show_relevance(item, maps[r][c], vmax, cmap)
                shape = maps[r][c].shape
                imaging.put_outline(self._outlines[(r, c)], outlines.get(shape), shape)
                show_frame(self._frames[(r, c)], frame(shape))
                self.cell_maps[(r, c)] = maps[r][c]
                self.cell_levels[(r, c)] = vmax
                if new:
                    imaging.fit(box, maps[r][c].shape)
        for c, title in enumerate(self._titles):
            title.setText(self._titles_say(rows[0].titles[c])
                          if c < len(rows[0].titles) else "")
        if new:
            imaging.fit(self.input_box, x01.shape)
        out = comp.outputs  # of a map: the share of its pixels (in the region) per class
        what = "share of pixels" if model_map_shape(model) else "output"
        inside = region_words(result.request.region)  # what the maps explain, as titled
        self.info.setText(f"sample {result.request.index}: predicted "
                          f"{_name(model, int(np.argmax(out)))}{inside} ({what} "
                          f"{np.max(out):.4g}); one forward pass, "
                          f"{sum(m.shape[0] for m in maps)} maps")
        self.info.setAlignment(Qt.AlignmentFlag.AlignLeft)


def tiles_heading(title) -> str:
    """One class column's heading over all its tiles: which class every map explains
    ("every map explains class 7"; over the input tile alone "7" read as its title)."""
    return "every map explains " + (title if title == WHOLE_OUTPUT else f"class {title}")


def _forget_room(layout) -> None:
    """Undo what the last grid set per row and column (a layout keeps stretch factors and
    maximum sizes of rows and columns its items left): the 72-pixel scale column of one grid
    would cut a map column of the next."""
    for c in range(layout.columnCount()):
        layout.setColumnStretchFactor(c, 0)
        layout.setColumnMaximumWidth(c, QWIDGETSIZE_MAX)
        layout.setColumnPreferredWidth(c, 0)
    for r in range(layout.rowCount()):
        layout.setRowStretchFactor(r, 0)
        layout.setRowMaximumHeight(r, QWIDGETSIZE_MAX)


def _units(rule: str) -> str:
    return "squared gradient" if str(rule).strip().lower().startswith("sensitivity") \
        else "relevance"


def _name(model, c: int) -> str:
    names = list(model.class_names)
    return str(names[c]) if c < len(names) else str(c)
