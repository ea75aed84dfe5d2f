"""The Concepts panel (CRP): which channels of a layer the explained decision used.

For the sample on display and the chosen layer: the channels ranked by relevance, the
conditional heatmaps of the top k (only that channel passes relevance at the layer), the
composition of the selected channel (its relevance among the channels of the layer below;
double-click a row to descend there) and, on request, its RelMax reference samples over the
open dataset (computed in the background with progress and cancel, cached on disk).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lrpcore.errors import RuleError
from lrpcore.layers import Rect
from lrpcore.text import no_markup

from ..session import no_labels
from ..widgets.lines_label import LinesLabel
from ..widgets.region_control import framing, region_frame, show_frame
from . import imaging
from .job_controls import JobControls
from .layouts import canvas, result_table
from .panel import ToolPanel
from .runner import is_cancellation

REFS_KEY = "insight-relmax"


@dataclass
class ConceptsResult:
    layer: int
    ranking: object
    conditional: np.ndarray  # (k, H, W)
    composition: object | None
    raw: np.ndarray | None = None  # the explained sample as read (its maps' outline)
    region: tuple | None = None  # a segmentation model's box its maps explain (framed)
    explained: str = ""  # what the maps explain, in words ("predicted class 7")


def _explainer(model, backend):
    from lrpcore.explain import Explainer

    return Explainer(model, backend)


def share_text(share) -> str:
    """A channel's share of the relevance as the tables and the maps' titles show it: one
    decimal (whole percent titled the top channels of a 1280-channel layer "0%"), and no
    sign on a share that rounds to zero ("-0.0%")."""
    text = f"{float(share):.1%}"
    return text[1:] if text.startswith("-") and float(text[1:-1]) == 0 else text


def map_title(channel, share) -> str:
    """A conditional map's title: its channel and share."""
    return f"ch {int(channel)} · {share_text(share)}"


def concepts_task(ex, raw, layer, top, channel, rule, layer_rules, target, label, token=None,
                  region=None):
    """Ranking, top-k conditional heatmaps and the composition of ``channel`` (None: the
    best) for one raw sample (``region``: a segmentation model's box of its map, as the
    main view explains it)."""
    from lrpcore import concepts
    from lrpcore.explain import resolve_rules
    from lrpcore.relmax import _spatial
    from lrpcore.targets import parse_target, resolve_classes

    from ..explained import target_words

    config = resolve_rules(ex.layers, rule, layer_rules)
    target = parse_target(target)
    labels = None if label is None else np.array([label])
    fwd = ex.forward(ex.prepare(raw[None]), raw=True)
    ranking = concepts.rank_channels(fwd, layer, config, target, labels, region=region)
    chans = ranking.channels[:top]
    cond = concepts.conditional_heatmaps(fwd, layer, chans, config, target, labels,
                                         cancelled=None if token is None else token.cancelled,
                                         region=region)
    c = int(ranking.channels[0]) if channel is None else int(channel)
    comp = concepts.composition(fwd, layer, c, config, target, labels, region=region)
    found = resolve_classes(fwd.outputs(), target, labels, region=region)
    k = None if found is None else int(np.asarray(found).reshape(-1)[0])
    words = f"{target_words(ex.model, target, k, region)}, {config.description}"
    return ConceptsResult(layer, ranking, _spatial(cond), comp, raw, region, words)


class ConceptsPanel(ToolPanel):
    key = "insight-concepts"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("conceptsPanel")
        self.result: ConceptsResult | None = None
        self.references = None
        self.channel: int | None = None
        self._ex = (None, None)
        self.map_outlines: list = []  # the outline over each conditional map, in rank order
        self.map_frames: list = []  # the region's frame on each conditional map
        self.maps_title = None  # over the maps: what they explain
        self.gallery_outlines: list = []  # the outline over each reference's heatmap
        self._build()
        self.state.events.model.connect(lambda _m: self._fill_layers())
        for name in ("rule", "layer_rules", "target", "region"):  # what references depend on
            getattr(self.state.events, name).connect(lambda _v: self._references_outdated())
        for event in (self.state.events.outline, self.state.events.colormap):
            event.connect(lambda _v: self._redraw())
        self._fill_layers()

    def _build(self) -> None:
        self.layer_box = QComboBox(objectName="conceptsLayer")
        self.layer_box.setToolTip("the layer whose channels are the concepts (graph models: "
                                  "the nodes every path passes, e.g. block outputs)")
        self.layer_box.currentIndexChanged.connect(lambda _i: self._layer_changed())
        self.top_spin = QSpinBox(objectName="conceptsTop")
        self.top_spin.setRange(1, 64)
        self.top_spin.setValue(6)
        self.top_spin.setToolTip("how many channels get a conditional heatmap")
        self.top_spin.valueChanged.connect(lambda _v: self.mark_stale())
        self.refs = JobControls("conceptsRefs", self.find_references,
                                lambda: self.runner.cancel(REFS_KEY), "Find references",
                                names={"run": "conceptsFindRefs",
                                       "cancel": "conceptsCancelRefs"})
        self.refs_progress, self.refs_button, self.refs_cancel = self.refs.widgets()
        self.refs_button.setToolTip("RelMax: the samples of the open dataset in which each "
                                    "channel shown (a conditional heatmap, the selected one) "
                                    "gets the most relevance (background, cached)")
        self.refs_cancel.setToolTip("stop finding reference samples")
        self.refs_progress.setToolTip("samples of the dataset scanned, then the reference "
                                      "maps of the channels shown found")
        top = QHBoxLayout()
        for w in (QLabel("layer"), self.layer_box, QLabel("top"), self.top_spin):
            top.addWidget(w)
        top.addStretch(1)
        for w in (self.refs_progress, self.refs_button, self.refs_cancel):
            top.addWidget(w)

        self.ranking_table = result_table("conceptsRanking", ("channel", "relevance", "share"),
                                          rows=True)
        self.ranking_table.setToolTip("channels by relevance; select one for its composition "
                                      "and references")
        self.ranking_table.itemSelectionChanged.connect(self._ranking_selected)
        self.composition_table = result_table("conceptsComposition",
                                              ("lower channel", "relevance", "share"), rows=True)
        self.composition_table.setToolTip("how the selected channel's relevance divides among "
                                          "the channels of the layer below; double-click to "
                                          "descend")
        self.composition_table.cellDoubleClicked.connect(lambda r, _c: self.descend(r))
        # it names an ONNX node, cut at the column's edge ("(/stem/stem.0/Conv" at 1100
        # pixels): wrapped to two lines, the rest elided, the whole in the tooltip
        self.composition_label = LinesLabel(lines=2, objectName="conceptsCompositionLabel")
        self.maps = canvas("conceptsMaps")
        self.gallery = canvas("conceptsGallery")
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.ranking_table)
        comp = QWidget()  # a layout, not a splitter: it gives the label its lines' height
        comp_layout = QVBoxLayout(comp)
        comp_layout.setContentsMargins(0, 0, 0, 0)
        comp_layout.addWidget(self.composition_label)
        comp_layout.addWidget(self.composition_table, 1)
        left.addWidget(comp)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.maps)
        right.addWidget(self.gallery)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)
        self.left_pane = left
        self._fit_tables()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error_label)
        layout.addWidget(split, 1)

    # -- layers -----------------------------------------------------------------------------
    def explainer(self):
        """One explainer per open model and backend (parameters go to the device once)."""
        key = (id(self.state.model), self.state.backend)
        if self._ex[0] != key:
            model = self.state.model
            self._ex = (key, None if model is None else _explainer(model, self.state.backend))
        return self._ex[1]

    def _fill_layers(self) -> None:
        from lrpcore import concepts
        from lrpcore.explain import layer_labels

        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        ex = self.explainer()
        if ex is not None:
            names = layer_labels(ex.layers)  # a dynamo export's node_relu_6 [conv5.2]
            for k in concepts.concept_layers(ex):
                if concepts.mixes_channels(ex.layers[k]) or isinstance(ex.layers[k], Rect) \
                        or getattr(ex.layers[k], "merge", False):
                    self.layer_box.addItem(f"{k}: {names[k]}", k)
            linear = [i for i in range(self.layer_box.count())
                      if not isinstance(ex.layers[self.layer_box.itemData(i)], Rect)]
            # a middle layer is a good start: neither pixels nor classes (the last linear map
            # makes the classes: its only relevant channel is the explained one)
            inner = linear[:-1] or linear
            if inner:
                self.layer_box.setCurrentIndex(inner[len(inner) // 2])
        self.layer_box.blockSignals(False)
        self.references = None
        self.channel = None
        self.mark_stale()

    def layer(self) -> int | None:
        return self.layer_box.currentData()

    def set_layer(self, k) -> None:
        i = self.layer_box.findData(int(k))
        if i < 0:
            raise RuleError(f"layer {k} is not offered for concepts")
        self.layer_box.setCurrentIndex(i)

    def _layer_changed(self) -> None:
        self.references = None
        self.channel = None
        self.mark_stale()

    # -- work -------------------------------------------------------------------------------
    def start(self) -> int:
        s = self.state
        ex = self.explainer()
        if ex is None or s.dataset is None or self.layer() is None:
            raise RuleError("open a model and a dataset first")
        target = self._target()
        raw = s.dataset.images([s.sample_index])[0]
        label = s.label_of(s.sample_index) if s.labels is not None else None
        args = (ex, raw, self.layer(), self.top_spin.value(), self.channel, s.rule,
                dict(s.layer_rules), target, label)
        region = s.region
        self.clear_error()
        return self.submit(lambda token: concepts_task(*args, token=token, region=region),
                           self._done)

    def _target(self) -> str:
        """The target of a Concepts job: "true" without labels is refused, as ``lrp concepts
        --target true`` refuses it (the panel explained the predicted class without a word,
        while the main view refused)."""
        s = self.state
        if s.target == "true" and s.labels is None:
            raise RuleError(f"target true class needs a dataset that has labels: "
                            f"{no_labels(s.dataset_name)}; choose the predicted class")
        return s.target

    def _done(self, result) -> None:
        self.result = result
        if self.channel is None:
            self.channel = int(result.composition.channel)
        self._fill()
        self.updated.emit()

    # -- interaction ------------------------------------------------------------------------
    def select_channel(self, c) -> None:
        self.channel = int(c)
        self.mark_stale()
        self._draw_gallery()

    def _ranking_selected(self) -> None:
        rows = self.ranking_table.selectionModel().selectedRows()
        if rows and self.result is not None:
            c = int(self.result.ranking.channels[rows[0].row()])
            if c != self.channel:
                self.select_channel(c)

    def descend(self, row) -> None:
        """Go to the layer below with the clicked lower channel selected."""
        comp = self.result.composition if self.result is not None else None
        if comp is None or comp.lower is None or row >= len(comp.channels):
            return
        c = int(comp.channels[row])
        self.set_layer(comp.lower)
        self.select_channel(c)

    def find_references(self) -> int:
        from lrpcore import relmax
        from lrpcore.explain import resolve_rules
        from lrpcore.targets import parse_target

        s = self.state
        ex = self.explainer()
        if ex is None or s.dataset is None or self.layer() is None:
            self.show_error("open a model and a dataset first")
            return 0
        labels = s.labels
        try:
            target = parse_target(self._target())
        except RuleError as exc:
            self.show_error(str(exc))
            return 0
        config = resolve_rules(ex.layers, s.rule, dict(s.layer_rules))
        layer, ds, source, region = self.layer(), s.dataset, s.dataset_name, s.region
        channels = self.shown_channels()
        if channels is None:
            self.show_error("no ranking of this layer yet: Find references searches the "
                            "channels the panel shows, once it shows them")
            return 0

        def job(token):
            # keyed by the file's time too (a rewritten file: anew); a folder's files are
            # looked at here, in the worker, not on the GUI thread
            return relmax.references(ex, ds, layer, config, target, labels, n=8,
                                     dataset_id=relmax.dataset_key(source, len(ds),
                                                                 builtin_first=True),
                                     progress=lambda d, t: token.progress(d, t, None),
                                     cancelled=token.cancelled, region=region,
                                     channels=channels)

        self.refs.started()
        return self.runner.submit(REFS_KEY, job, on_done=self._refs_done,
                                  on_error=self._refs_failed,
                                  on_progress=lambda d, t, _p: self.refs.step(d, t))

    def shown_channels(self):
        """The channels whose references are searched: those with a conditional map in the
        panel and the selected one; None while the panel shows no ranking of the chosen layer
        (before the first, or the previous layer's: it searched every channel, or another
        layer's channel numbers). Each channel is a backward pass per reference sample: all
        1280 of EfficientNet-Lite0's head ran for over an hour."""
        r = self.result
        if r is None or r.layer != self.layer():
            return None
        shown = {int(c) for c in r.ranking.channels[:len(r.conditional)]}
        return sorted(shown | ({int(self.channel)} if self.channel is not None else set()))

    def _references_outdated(self) -> None:
        """References found with other settings (rule, target, a segmentation model's
        region) are none of these: they leave the gallery, and a search under way stops."""
        if self.refs_cancel.isEnabled():
            self.runner.cancel(REFS_KEY)
            self.refs.cancelled()
        if self.references is not None:
            self.references = None
            self._draw_gallery()

    def _refs_done(self, refs) -> None:
        self.refs.finished()
        self.references = refs
        self._draw_gallery()
        self.updated.emit()

    def _refs_failed(self, exc) -> None:
        self.refs.cancelled()
        if not is_cancellation(exc):
            self.show_error(str(exc))

    # -- display ----------------------------------------------------------------------------
    def _fill(self) -> None:
        r = self.result
        rk = r.ranking
        t = self.ranking_table
        t.blockSignals(True)
        t.setRowCount(len(rk.channels))
        for i, (c, rel, share) in enumerate(rk.rows()):
            for j, text in enumerate((str(c), f"{rel:.4g}", share_text(share))):
                t.setItem(i, j, QTableWidgetItem(text))
            if c == self.channel:
                t.selectRow(i)
        t.blockSignals(False)
        comp = r.composition
        ct = self.composition_table
        if comp is None or comp.lower is None:
            self.composition_label.setText("the input comes next: no layer below")
            ct.setRowCount(0)
        else:
            from lrpcore.explain import layer_labels

            name = layer_labels(self.explainer().layers)[comp.lower]
            self.composition_label.setText(f"channel {comp.channel} from layer {comp.lower} "
                                           f"({name}):")
            n = min(10, len(comp.channels))
            ct.setRowCount(n)
            for i in range(n):
                values = (str(int(comp.channels[i])), f"{comp.relevance[i]:.4g}",
                          share_text(comp.share[i]))
                for j, text in enumerate(values):
                    ct.setItem(i, j, QTableWidgetItem(text))
        self.composition_label.setToolTip(no_markup(self.composition_label.text()))
        self._fit_tables()
        self._draw_maps()

    def _fit_tables(self) -> None:
        """The tables' pane is wide enough for every column (the share column was cut off
        behind a horizontal scroll bar at Qt's default 100 pixels a column)."""
        need = 0
        for t in (self.ranking_table, self.composition_table):
            header = t.horizontalHeader()
            widths = [max(header.sectionSizeHint(j), t.sizeHintForColumn(j))
                      for j in range(t.columnCount())]
            for j, w in enumerate(widths):  # the last one stretches over the rest
                t.setColumnWidth(j, w)
            need = max(need, sum(widths) + t.verticalScrollBar().sizeHint().width()
                       + 2 * t.frameWidth() + 4)  # + slack: Qt rounds the stretch
        self.left_pane.setMinimumWidth(need)

    def _redraw(self) -> None:
        """Colour and outline the maps on display anew (nothing is computed again)."""
        self._draw_maps()
        self._draw_gallery()

    def _draw_maps(self) -> None:
        self.maps.clear()
        self.map_outlines = []
        self.map_frames = []
        r = self.result
        if r is None:
            return
        vmax = max((imaging.max_abs(m) for m in r.conditional), default=1.0)
        shape = r.conditional.shape[1:]
        x01 = imaging.input_for_map(self.state.model, r.raw, shape)
        rgba = imaging.outline_image(x01, shape, self.state.outline)
        frame = framing(self.state.model, r.region)(shape)  # as the main views frame it
        per_row = 6
        from lrpcore.explain import layer_labels

        ex = self.explainer()  # a dynamo export's node_relu_6 [conv5.2]
        name = r.ranking.name if ex is None or not 0 <= r.layer < len(ex.layers) else \
            layer_labels(ex.layers)[r.layer]
        # what they explain, as the main view's title says it (the panel named nothing)
        self.maps_title = pg.LabelItem(  # HTML: a node's name is shown as text
            html.escape(f"channels of {name} for {r.explained}"), size="8pt", color="k")
        self.maps.ci.addItem(self.maps_title, row=0, col=0,
                             colspan=min(per_row, len(r.conditional)) or 1)
        for i, (c, m) in enumerate(zip(r.ranking.channels, r.conditional, strict=False)):
            row, col = divmod(i, per_row)
            share = r.ranking.share[i]
            self.maps.ci.addItem(pg.LabelItem(map_title(c, share), size="8pt", color="k"),
                                 row=2 * row + 1, col=col)
            box, item = imaging.image_cell(self.maps.ci, 2 * row + 2, col)
            imaging.show_relevance(item, m, vmax, self.state.colormap)
            outline = imaging.outline_overlay(box)
            imaging.put_outline(outline, rgba, m.shape)
            self.map_outlines.append(outline)
            self.map_frames.append(region_frame(box))
            show_frame(self.map_frames[-1], frame)
            imaging.fit(box, m.shape)
        imaging.even_columns(self.maps.ci, min(per_row, len(r.conditional)))

    def _draw_gallery(self) -> None:
        self.gallery.clear()
        self.gallery_outlines = []
        refs, c = self.references, self.channel
        if refs is None or c is None or c >= refs.n_channels:
            return
        row = refs.row(c)
        if row is None:  # searched for the channels shown then: another one is selected now
            self.gallery.ci.addItem(pg.LabelItem(
                f"channel {c}: no references searched — Find references searches the "
                "channels shown and the selected one", size="8pt", color="k"), row=0, col=0)
            self.gallery_samples = []
            return
        from lrpcore.concepts_export import _nearest

        self.gallery.ci.addItem(pg.LabelItem(f"channel {c}: reference samples", size="8pt",
                                             color="k"), row=0, col=0, colspan=8)
        from .worker_tasks import input_image

        for i, s in enumerate(refs.samples[c]):
            y0, y1, x0, x1 = refs.boxes[row, i]
            heat = refs.heatmaps[row, i]
            raw = input_image(self.state.model, self.state.dataset.images([int(s)])[0])
            from .spray_window import _like

            x = _like(raw, heat.shape)
            bx, ix = imaging.image_cell(self.gallery.ci, 1, i)
            crop = _nearest(x[y0:y1, x0:x1])
            imaging.show_input(ix, crop)
            imaging.fit(bx, crop.shape)
            bh, ih = imaging.image_cell(self.gallery.ci, 2, i)
            hc = _nearest(heat[y0:y1, x0:x1])
            imaging.show_relevance(ih, hc, imaging.max_abs(hc), self.state.colormap)
            outline = imaging.outline_overlay(bh)
            imaging.show_outline(outline, crop, hc.shape, self.state.outline)
            self.gallery_outlines.append(outline)
            imaging.fit(bh, hc.shape)
        self.gallery_samples = [int(s) for s in refs.samples[c]]


__all__ = ["ConceptsPanel", "concepts_task"]
