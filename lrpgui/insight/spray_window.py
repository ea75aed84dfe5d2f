"""The SpRAy window: which strategies the model follows across a class.

Run explains every sample of the chosen class in the background (progress, cancel) and
clusters the heatmaps (lrpcore.spray). The embedding is a scatter coloured by cluster; hovering
a point previews its input and heatmap; a box drawn by dragging over the points (then moved or
resized) selects the points inside
and the sample grid then lists only those samples; each cluster's mean heatmap is its
prototype (click one to select that cluster); the eigengap plot shows why k was chosen.
Results save to the same ``.npz`` as ``lrp spray`` and reopen. With a relevance store open
(``R.zarr``, File → Open relevance store) that holds the heatmaps on display, Run clusters the
stored heatmaps instead of explaining again.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
)

from lrpcore.errors import RuleError
from lrpcore.export import DATASET_KEY
from lrpcore.map_targets import region_words
from lrpcore.spray import class_indices
from lrpcore.targets import model_map_shape

from .. import dialogs
from ..widgets.axes import IndexAxis, fit_axis_title, label_axes, plot_widget
from ..widgets.class_choice import ClassChoice, class_entries
from . import imaging
from .trust_panels import BatchPanel
from .worker_tasks import input_image

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


ASK_FROM = 2000  # samples from which Run asks first: clustering this many takes minutes
BATCH = 256  # samples per pass of a run (lrpcore.spray's default), fewer where memory says
clock = time.perf_counter  # what the first pass is timed with
# the eigengap plot's value axis, longest first: the title that fits the plot's height
EIGEN_TITLES = ("Laplacian eigenvalue", "eigenvalue", "λ")


def _sizes(sizes) -> str:
    """'size 4' of one cluster, 'sizes 4, 5' of several ("(sizes 4)" read oddly)."""
    return f"size{'s' * (len(sizes) != 1)} {', '.join(map(str, sizes))}"


def colour(c: int):
    return PALETTE[int(c) % len(PALETTE)]


def spray_task(model, dataset, cls, rule, layer_rules, target, backend, k, token,
               region=None):
    """The background job: lrpcore.spray with the token's progress and cancellation
    (``region``: a segmentation model's box of its map, as the main view explains it)."""
    from lrpcore.explain import Explainer, resolve_rules
    from lrpcore.spray import spray
    from lrpcore.targets import parse_target

    ex = Explainer(model, backend)
    config = resolve_rules(ex.layers, rule, layer_rules)
    return spray(ex, dataset, cls, config, parse_target(target), k=k,
                 progress=lambda d, t: token.progress(d, t, None), cancelled=token.cancelled,
                 region=region)


def first_pass_task(model, dataset, cls, rule, layer_rules, target, backend, _k, token,
                    region=None):
    """(seconds, samples) of one pass a run of these arguments (:func:`spray_task`'s)
    explains: a long run's question estimates its explaining from it. The second pass is
    timed: the first of a run took 3–8× as long (LeNet-5: 2 s for 256 digits, then 0.3 s).
    The clustering after it cannot be timed on a part (t-SNE's cost grows faster than the
    number of samples)."""
    from lrpcore.concepts import pass_size
    from lrpcore.explain import Explainer, resolve_rules
    from lrpcore.relmax import take
    from lrpcore.spray import explain_samples
    from lrpcore.targets import parse_target

    ex = Explainer(model, backend)
    config = resolve_rules(ex.layers, rule, layer_rules)
    labels = getattr(dataset, "labels", None)
    indices = class_indices(labels, len(dataset), cls, getattr(dataset, "name", None))
    step = pass_size(ex, ex.prepare(take(dataset, indices[:1])).shape[1:], BATCH)
    passes = [indices[:step], indices[step:2 * step]]
    if not len(passes[1]):  # one pass in all: time that one
        passes = passes[:1]
    for k, part in enumerate(passes):
        start = clock() if k == len(passes) - 1 else None
        explain_samples(ex, dataset, part, config, parse_target(target), labels, BATCH,
                        cancelled=token.cancelled, region=region)
    return clock() - start, len(passes[-1])


def duration_words(seconds) -> str:
    """"40 s", "3 min", "2.5 h": an estimate's length, no more precise than it is."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def spray_store_task(store, labels, cls, k, token):
    """The background job over a relevance store: nothing is explained, only read."""
    from lrpcore.spray import spray_precomputed

    return spray_precomputed(store, cls, labels, k=k, cancelled=token.cancelled)


class SprayPanel(BatchPanel):
    key = "insight-spray"

    def __init__(self, runner, parent=None):
        super().__init__(runner, parent)
        self.setObjectName("sprayPanel")
        self.selected = np.zeros(0, dtype=np.int64)  # dataset indices in the box
        self._doing = ""  # what the run going on does, as the summary says it
        self._done_count = ""  # how far it got
        self._build()
        self.state.events.model.connect(lambda _m: self._fill_classes())
        self._fill_classes()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.class_box = ClassChoice(objectName="sprayClass")
        self.class_box.setToolTip("the class whose samples are clustered (true labels); "
                                  "each sample is explained for its true class")
        self.k_spin = QSpinBox(objectName="sprayK")
        self.k_spin.setRange(0, 20)
        self.k_spin.setSpecialValueText("auto")
        self.k_spin.setToolTip("number of clusters (auto: the largest relative eigengap)")
        jobs = self.job_controls("spray")
        self.run_button.setToolTip("explain every sample of the class and cluster the "
                                   "heatmaps, in the background")
        self.cancel_button.setToolTip("stop the running analysis")
        self.save_button = QPushButton("Save…", objectName="spraySave")
        self.open_button = QPushButton("Open…", objectName="sprayOpen")
        self.save_button.setToolTip("save the result (.npz, as 'lrp spray' writes)")
        self.open_button.setToolTip("open a saved SpRAy result (made on the open dataset)")
        self.clear_button = QPushButton("Show all samples", objectName="sprayClearSelection")
        self.clear_button.setToolTip("stop filtering the sample grid by the box")
        self.progress.setToolTip("samples explained so far")
        self.save_button.clicked.connect(lambda: self.save())
        self.open_button.clicked.connect(lambda: self.open())
        self.clear_button.clicked.connect(self.clear_selection)
        top = QHBoxLayout()
        for w in (QLabel("class"), self.class_box, QLabel("clusters"), self.k_spin):
            top.addWidget(w)
        top.addStretch(1)
        for w in (*jobs.widgets(), self.open_button, self.save_button):
            top.addWidget(w)
        self.summary = QLabel(objectName="spraySummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)  # a saved result's class, as written
        self.summary.setWordWrap(True)  # what a run does is a long line: never a wider window

        self.scatter_plot = plot_widget("sprayScatter")
        label_axes(self.scatter_plot, "t-SNE 2", "t-SNE 1")
        self.scatter_plot.setToolTip("the samples embedded in 2-D (t-SNE), coloured by "
                                     "cluster; drag over the points to draw a box (move or "
                                     "resize it later): the sample grid lists the samples "
                                     "inside")
        self.scatter = pg.ScatterPlotItem(size=7, hoverable=True)
        self.scatter_plot.addItem(self.scatter)
        self.scatter.sigHovered.connect(self._hovered)
        self.box = pg.RectROI([0, 0], [1, 1], pen=pg.mkPen("k", width=2))
        self.box.hide()
        self.scatter_plot.addItem(self.box)
        self.box.sigRegionChangeFinished.connect(lambda _r: self._box_changed())
        # a left drag on the plot draws the box: it was placed hidden after each run and
        # shown only by scripts (select_rect), so a user had no box to drag
        view = self.scatter_plot.getPlotItem().getViewBox()
        view.mouseDragEvent = lambda ev, axis=None: self._draw_box(view, ev, axis)

        self.preview = pg.GraphicsLayoutWidget()

        self.preview.setObjectName("sprayPreview")
        self.preview.setBackground("w")
        imaging.keep_whole(self.preview)
        self.preview_label = pg.LabelItem("hover a point", size="8pt", color="k")
        self.preview.ci.addItem(self.preview_label, row=0, col=0, colspan=2)
        self.preview_boxes = [imaging.image_cell(self.preview.ci, 1, c) for c in range(2)]
        self.eigen_plot = plot_widget("sprayEigengap", axisItems={"bottom": IndexAxis("bottom")})
        # eigenvalues lie in [0, 2]: shown as they are, not as "200 (x0.01)"
        label_axes(self.eigen_plot, "Laplacian eigenvalue", "index")
        fit_axis_title(self.eigen_plot, "left", EIGEN_TITLES)
        self.eigen_plot.setTitle("eigengap", color="k", size="9pt")
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.preview)
        side.addWidget(self.eigen_plot)
        middle = QSplitter(Qt.Orientation.Horizontal)
        middle.addWidget(self.scatter_plot)
        middle.addWidget(side)
        middle.setStretchFactor(0, 3)
        self.prototypes = pg.GraphicsLayoutWidget()
        self.prototypes.setObjectName("sprayPrototypes")
        self.prototypes.setBackground("w")
        imaging.keep_whole(self.prototypes)
        self.prototypes.setToolTip("each cluster's mean heatmap; click one to select it")
        self.prototypes.scene().sigMouseClicked.connect(self._prototype_clicked)
        self.proto_boxes: list = []
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(middle)
        split.addWidget(self.prototypes)
        split.setStretchFactor(0, 3)
        self._splits, self._split_shared = (split, middle), False
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.clear_button)
        layout.addLayout(bottom)
        layout.addWidget(self.error_label)
        layout.addWidget(split, 1)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Share the height 2 : 1 between the plots and the prototypes when first shown: left
        to the size hints, the empty prototypes took five sixths, the scatter a fifth of the
        width, and the eigengap plot's axis label was cut ("Laplacian eigenvalu")."""
        super().showEvent(event)
        split, middle = self._splits
        total, wide = sum(split.sizes()), sum(middle.sizes())
        if not self._split_shared and total > 0 and wide > 0:
            self._split_shared = True  # and the width 1 : 1 between scatter and side plots
            split.setSizes([total - total // 3, total // 3])
            middle.setSizes([wide // 2, wide - wide // 2])

    def _fill_classes(self) -> None:
        """Every class of the model, by number and name (typed names complete)."""
        model = self.state.model
        self.class_box.set_entries(*class_entries(model, head=[("all", None)], unknown=10),
                                   current=self.class_box.currentData())

    # -- work -------------------------------------------------------------------------------
    def start(self) -> int:
        s = self.state
        if s.model is None or s.dataset is None:
            raise RuleError("open a model and a dataset first")
        cls = self.class_box.currentData()
        if cls is not None and s.labels is None:
            raise RuleError("choosing a class needs a dataset with labels")
        n = len(class_indices(s.labels, len(s.dataset), cls, s.dataset_name))
        store = self.relevance_store(cls)
        if n >= ASK_FROM and store is not None and not self._confirm_large(n, cls):
            return 0  # nothing to explain, nothing to time: the clustering is the long part
        made_on = {"model": s.model_path, DATASET_KEY: s.dataset_name}
        k = self.k_spin.value() or None
        what = "all classes" if cls is None else f"class {self.class_box.currentText()}"
        clusters = "k chosen by the eigengap" if k is None else f"{k} clusters"
        if store is not None:  # the store's heatmaps, for the target it was explained for
            args = (store, s.labels, cls, k)
            self.clear_error()
            return self._run(lambda token: spray_store_task(*args, token), made_on,
                             f"clustering the {n:,} stored heatmaps of {what} ({clusters})")
        # SpRAy asks how the model recognises the class: each sample is explained for its
        # true class (as 'lrp spray' does); without labels, for its prediction; of a
        # segmentation model (a label says nothing about pixels), for the pixels of the class
        # at the most pixels, as 'lrp spray' does
        segments = model_map_shape(s.model) is not None
        target = "true" if s.labels is not None and not segments else "pred"
        args = (s.model, s.dataset, cls, s.rule, dict(s.layer_rules), target, s.backend, k)
        region = s.region if segments else None
        rule = s.rule + (" with per-layer rules" if s.layer_rules else "")
        each = "its true class" if target == "true" else \
            "the pixels of the class at the most pixels" if segments else "its predicted class"
        each += region_words(region)
        self.clear_error()

        def launch():
            return self._run(lambda token: spray_task(*args, token, region), made_on,
                             f"explaining the {n:,} samples of {what} with {rule} (each for "
                             f"{each}), then clustering them ({clusters})")

        if n < ASK_FROM:
            return launch()
        # a long run: its first pass timed in the background, then the question with the
        # estimate (EfficientNet's photographs take hours where digits take seconds)
        self.summary.setText(f"Timing the first samples of {what} to estimate a run over "
                             f"{n:,}…")
        return self.submit(lambda token: first_pass_task(*args, token, region),
                           lambda timed: self._ask_timed(n, cls, timed, launch))

    def _ask_timed(self, n, cls, timed, launch) -> None:
        """Ask whether to run over ``n`` samples, the first pass ``timed`` (seconds, samples)
        saying how long explaining them takes; start the run (``launch``) on Yes."""
        if self._confirm_large(n, cls, timed):
            launch()
            return
        self.jobs.cancelled()  # the bar idle again: the timing is no run that was done
        self._show_summary()

    def _confirm_large(self, n, cls, timed=None) -> bool:
        """Whether to run SpRAy over ``n`` samples (ASK_FROM or more): all 10,000 digits of
        mnist-test took minutes, with no word before the Run that it would. ``timed``:
        (seconds, samples) of the run's first pass, from which explaining is estimated."""
        what = "all classes" if cls is None else f"class {self.class_box.currentText()}"
        samples = f"{n:,} samples of {self.state.dataset_name}"
        if timed is None:  # a relevance store's: read, not explained
            first = f"reads the stored heatmaps of {samples}"
        else:
            seconds, m = timed
            first = (f"explains {samples} (about {duration_words(seconds * n / max(m, 1))}, "
                     f"going by one pass over {m:,} of them: {duration_words(seconds)})")
        text = (f"SpRAy of {what} {first}, then clusters the heatmaps (t-SNE and a "
                f"nearest-neighbour graph of all {n:,}, which a part cannot time): at this "
                "size that takes minutes.")
        labels = self.state.labels
        if cls is None and labels is not None:
            per_class = n // max(1, len(np.unique(np.asarray(labels))))
            text += f" One class has about {per_class:,} samples."
        return dialogs.ask_long_run(self, "Run SpRAy?", text + " Run it now?")

    def _run(self, task, made_on, doing) -> int:
        """Submit ``task``; the summary says what runs (``doing``) and how far it got until
        it ends: the last result's line, or the prompt to Run, read as this run's."""
        self._doing, self._done_count = doing, ""

        def progress(done, total, _payload):
            self._done_count = f" ({done:,}/{total:,} explained)"
            self._show_summary()

        job = self.submit(task, lambda result: self._done(result, made_on), progress)
        self._show_summary()
        return job

    def cancelled(self) -> None:
        """A run, or the timing of its first pass, stopped: the summary says so (a timing
        cancelled left "Timing the first samples … to estimate a run" on display)."""
        super().cancelled()
        self._doing = ""
        self._show_summary()
        self.summary.setText("Run cancelled. " + self.summary.text())

    def _on_error(self, exc) -> None:
        self._doing = ""
        super()._on_error(exc)
        self._show_summary()

    def relevance_store(self, cls):
        """The open relevance store (lrpgui.sources.PrecomputedRelevance) when it holds the
        heatmaps of the model, dataset, rule and target on display; else None."""
        from ..requests import ExplainRequest

        source = getattr(getattr(self.runner, "service", None), "precomputed", None)
        s = self.state
        if source is None or s.model is None:
            return None
        first = 0
        if cls is not None:
            hits = np.flatnonzero(np.asarray(s.labels) == cls)
            if hits.size == 0:
                return None
            first = int(hits[0])
        req = ExplainRequest(s.model, index=first, rule=s.rule,
                             layer_rules=tuple(s.layer_rules.items()), target=s.target,
                             region=s.region,
                             dtype=s.dtype, model_path=s.model_path,
                             dataset_name=s.dataset_name)
        return source.store if source.serves(req) else None

    def _done(self, result, made_on=None) -> None:
        self._doing = ""
        for key, value in (made_on or {}).items():  # saved with it: Open checks the dataset
            if value and key not in result.meta:
                result.meta[key] = value
        self.show_result(result)

    def show_result(self, result) -> None:
        self.result = result
        self._draw()
        self.updated.emit()

    def clear_results(self) -> None:
        super().clear_results()
        self.clear_selection()
        self._draw()

    # -- save / open ------------------------------------------------------------------------
    def save(self, path=None):
        if self.result is None:
            self.show_error("nothing to save yet: run SpRAy first")
            return None
        if path is None:
            path = self._ask(dialogs.ask_save_file, "Save SpRAy result", "spray.npz")
            if not path:
                return None
        from lrpcore.errors import LRPError

        from ..flows import Refused, refuse_open_file  # noqa: PLC0415

        try:  # a result saved as the open model (.npz too) or dataset replaced it
            refuse_open_file(self.state, path, "Cannot save")
        except Refused as exc:
            self.show_error(str(exc))
            return None
        try:
            self.result.save(path, overwrite=True)
        except (LRPError, OSError) as exc:  # a full disk, a folder: said, not a traceback
            self.show_error(str(exc) if isinstance(exc, LRPError) else f"{path}: {exc}")
            return None
        self.clear_error()
        return path

    def open(self, path=None):
        from lrpcore.errors import LRPError
        from lrpcore.spray import SprayResult

        if path is None:
            path = self._ask(dialogs.ask_open_file, "Open SpRAy result")
            if not path:
                return None
        try:
            result = SprayResult.load(path)
        except LRPError as exc:
            self.show_error(str(exc))
            return None
        n = len(self.state.dataset) if self.state.dataset is not None else 0
        if result.indices.size and int(result.indices.max()) >= n:
            self.show_error(f"{path}: made for a dataset of more than {n} samples; open "
                            "that dataset first")
            return None
        other = self._other_dataset(result)
        if other is not None:  # its indices would pick other samples of the open data
            self.show_error(f"{path}: made on {other}, but {self.state.dataset_name} is "
                            "open; open that dataset first")
            return None
        self.clear_error()
        self.cancel()  # a run still going would replace the opened result when it ended
        self.show_result(result)
        # the class box names the class shown, so that Run repeats it (left on "all", a
        # result of class 3 was followed by a run over every class of the dataset)
        # (a class that is no number, in a file written by hand: the box stays as it is)
        cls = result.meta.get("class")
        number = isinstance(cls, (int, np.integer)) and not isinstance(cls, bool)
        row = self.class_box.findData(int(cls)) if number else \
            self.class_box.findData(None) if cls is None else -1
        if row >= 0:
            self.class_box.setCurrentIndex(row)
        return result

    def _other_dataset(self, result):
        """The dataset ``result`` was made on when it is known and not the open one."""
        from lrpcore.export import sidecar_dataset, where_found
        from lrpcore.io.datasets import DATASET_NAMES

        data = sidecar_dataset(result.meta)  # "dataset"; results of before wrote "data"
        if not isinstance(data, str) or not data or not self.state.dataset_name:
            return None
        found = where_found(data, builtin_first=True)  # the built-in, as the explorer opens it
        if not os.path.isabs(found) and found not in DATASET_NAMES:  # not found from here
            return None
        return None if found == where_found(self.state.dataset_name, builtin_first=True) \
            else data

    def _ask(self, ask, title, name="") -> str:
        """A file from ``ask`` (an :mod:`lrpgui.dialogs` question, which tests answer),
        starting in the folder of the last SpRAy result saved or opened."""
        settings = self.app_settings
        folder = settings.last_dir("spray") if settings is not None else os.getcwd()
        start = os.path.join(folder, name) if name else folder
        path = ask(self, title, start, "SpRAy result (*.npz)")
        if path and settings is not None:
            settings.set_last_dir("spray", os.path.dirname(os.path.abspath(path)))
        return path

    # -- selection --------------------------------------------------------------------------
    def select(self, dataset_indices) -> None:
        """Filter the sample grid to these samples (None: no filter)."""
        if dataset_indices is None:
            self.selected = np.zeros(0, dtype=np.int64)
            self.state.filter_subset = None
        else:
            self.selected = np.asarray(sorted(int(i) for i in dataset_indices), np.int64)
            self.state.filter_subset = tuple(self.selected.tolist())
        self._show_summary()

    def clear_selection(self) -> None:
        self.box.hide()
        self.select(None)

    def _draw_box(self, view, ev, axis=None) -> None:
        """A left drag over the embedding draws the box and, released, selects inside it;
        other drags zoom and pan as before."""
        if ev.button() != Qt.MouseButton.LeftButton or self.result is None \
                or not len(self.result.embedding):
            type(view).mouseDragEvent(view, ev, axis)
            return
        ev.accept()
        a = view.mapSceneToView(ev.buttonDownScenePos())
        b = view.mapSceneToView(ev.scenePos())
        self.box.setPos((min(a.x(), b.x()), min(a.y(), b.y())), finish=False)
        self.box.setSize((max(abs(b.x() - a.x()), 1e-6), max(abs(b.y() - a.y()), 1e-6)),
                         finish=False)
        self.box.show()
        if ev.isFinish():
            self._box_changed()

    def select_rect(self, x0, y0, x1, y1) -> None:
        """Place the box over [x0, x1] × [y0, y1] of the embedding and select inside it."""
        self.box.setPos((min(x0, x1), min(y0, y1)), finish=False)
        self.box.setSize((abs(x1 - x0), abs(y1 - y0)), finish=False)
        self.box.show()
        self._box_changed()

    def _box_changed(self) -> None:
        if self.result is None or not self.box.isVisible():
            return
        (x0, y0), (w, h) = self.box.pos(), self.box.size()
        e = self.result.embedding
        inside = (e[:, 0] >= x0) & (e[:, 0] <= x0 + w) & (e[:, 1] >= y0) & (e[:, 1] <= y0 + h)
        self.select(self.result.indices[inside])

    def select_cluster(self, c) -> None:
        if self.result is not None:
            self.box.hide()
            self.select(self.result.indices[self.result.clusters == int(c)])

    def _prototype_clicked(self, event) -> None:
        pos = event.scenePos()
        for c, box in enumerate(self.proto_boxes):
            if box.sceneBoundingRect().contains(pos):
                self.select_cluster(c)
                return

    # -- display ----------------------------------------------------------------------------
    def _draw(self) -> None:
        self.scatter.clear()
        self.eigen_plot.clear()
        self.prototypes.clear()
        self.proto_boxes = []
        r = self.result
        if r is None:
            self._show_summary()
            return
        brushes = [pg.mkBrush(*colour(c), 200) for c in r.clusters]
        self.scatter.setData(pos=r.embedding, brush=brushes, data=np.arange(len(r.indices)),
                             pen=None)
        self.eigen_plot.plot(np.arange(1, len(r.eigenvalues) + 1), r.eigenvalues,
                             pen=pg.mkPen("k"), symbol="o", symbolSize=6)
        dash = pg.mkPen("r", style=Qt.PenStyle.DashLine)
        self.eigen_plot.addItem(pg.InfiniteLine(r.k + 0.5, pen=dash))
        protos = r.prototypes()
        sizes = r.sizes()
        vmax = max((imaging.max_abs(p) for p in protos), default=1.0)
        for c, p in enumerate(protos):
            label = pg.LabelItem(f"cluster {c} ({sizes[c]})", size="8pt",
                                 color=pg.mkColor(*colour(c)))
            self.prototypes.ci.addItem(label, row=0, col=c)
            box, item = imaging.image_cell(self.prototypes.ci, 1, c)
            imaging.show_relevance(item, p, vmax, self.state.colormap)
            imaging.fit(box, p.shape)
            self.proto_boxes.append(box)
        e = r.embedding
        if len(e):
            lo, hi = e.min(axis=0), e.max(axis=0)
            if not self.box.isVisible():
                self.box.setPos(tuple(lo), finish=False)
                self.box.setSize(tuple(np.maximum((hi - lo) / 3, 1e-6)), finish=False)
        self._show_summary()

    def _show_summary(self) -> None:
        """What the window shows: while a run goes on, what it does (and that the clusters
        on display are the last run's); else the result's line or the prompt to Run."""
        r = self.result
        if self._doing and self._job:
            last = "; the clusters below are the last run's" if r is not None else ""
            self.summary.setText(f"Running{self._done_count}: {self._doing}…{last}")
            return
        if r is None:
            self.summary.setText("Run clusters the heatmaps of a class (or Open a saved "
                                 "result).")
            return
        cls = r.meta.get("class")
        text = (f"{len(r.indices)} samples of {'all classes' if cls is None else f'class {cls}'}"
                f" → {r.k} cluster{'s' * (r.k != 1)} ({_sizes(r.sizes())})")
        notes = ["heatmaps read from the relevance store"] if r.meta.get("store") else [
            note for note, given in (
                ("samples fed as stored (lrp spray --raw)", r.meta.get("raw")),
                # data without labels: 'lrp spray' says it too
                ("each explained for its predicted class", r.meta.get("target") == "pred"),
                (f"the pixels{region_words(r.meta.get('region'))} only",
                 r.meta.get("region") is not None))
            if given]
        if notes:
            text += " — " + ", ".join(notes)
        if self.selected.size:
            text += f"; {self.selected.size} selected (the sample grid lists only them)"
        self.summary.setText(text)

    def _hovered(self, _item, points, _event=None) -> None:
        if self.result is None or points is None or len(points) == 0:
            return
        self.preview_sample(int(points[0].data()))

    def preview_sample(self, i) -> None:
        """Show point i's input and heatmap beside the scatter."""
        r = self.result
        s = int(r.indices[i])
        self.preview_label.setText(f"sample {s}, cluster {int(r.clusters[i])}")
        (box_x, item_x), (box_r, item_r) = self.preview_boxes
        ds = self.state.dataset
        if ds is not None and s < len(ds) and self.state.model is not None:
            if r.meta.get("raw"):  # 'lrp spray --raw': the samples are what the model is fed
                x = _fed_image(self.state.model, ds, s)
            else:
                x = _like(input_image(self.state.model, ds.images([s])[0]),
                          r.heatmaps[i].shape)
            imaging.show_input(item_x, x)
            imaging.fit(box_x, np.shape(x))
        m = r.heatmaps[i]
        imaging.show_relevance(item_r, m, imaging.max_abs(m), self.state.colormap)
        imaging.fit(box_r, m.shape)
        self.previewed = s


def _fed_image(model, dataset, index) -> np.ndarray:
    """Sample ``index`` of a result clustered from samples fed as stored (``"raw": true``):
    drawn as fed, in [0, 1] by the model's input range; read as a raw image it was scaled
    as pixels (a blank square for 0…1 floats) or folded wrongly (a channels-first array)."""
    from lrpcore.concepts_export import image01
    from lrpcore.explain import Explainer

    return image01(Explainer(model, "numpy"), dataset, model.input_spec, raw=True)(index)


def _like(x, shape) -> np.ndarray:
    """The raw input drawn on the heatmap's grid: a flat vector folded, a smaller image
    centred (e.g. a 28×28 digit in LeNet-5's 32×32 padded input)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 1 and x.size == int(np.prod(shape)):
        return x.reshape(shape)
    if x.ndim == 2 and all(a <= b for a, b in zip(x.shape, shape, strict=True)):
        py, px = shape[0] - x.shape[0], shape[1] - x.shape[1]
        return np.pad(x, ((py // 2, py - py // 2), (px // 2, px - px // 2)))
    return x


__all__ = ["SprayPanel", "spray_task"]
