"""The model/dataset browser dock: bundled entries, recent files, open and download actions,
and the summary of the open model (layers, shapes, parameters, input, accuracy)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from lrpcore import bundled
from lrpcore.io.datasets import DATASET_NAMES
from lrpcore.text import no_markup, printable_line

from .lines_label import LinesLabel
from .model_summary import ModelSummary

PATH_ROLE = Qt.ItemDataRole.UserRole


class EntryList(QListWidget):
    """A list that keeps its current entry in view when its items are laid out again: in a
    narrowing dock the entries wrap, grow, and pushed the open model half out of sight."""

    def updateGeometries(self) -> None:  # noqa: N802 (Qt's name)
        super().updateGeometries()
        item = self.currentItem()
        if item is not None:
            self.scrollToItem(item)


NOTE = "  ("  # what parts a recent file's name from its note ("x.onnx  (recent)")


def elide_name(name: str, metrics, width: float) -> str:
    """``name`` shortened to ``width`` in the middle of its stem, its extension whole: Qt's
    middle elision put the ellipsis against the extension's dot ("effic….onnx"), which read
    as four dots. Too narrow for both ends of the stem, cut at the right ("effici…")."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem):
        return metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, int(width))
    tail = dot + ext
    short = metrics.elidedText(stem, Qt.TextElideMode.ElideMiddle,
                               int(width - metrics.horizontalAdvance(tail)))
    if len(short) < 3 or short[0] == "…" or short[-1] == "…":
        return metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(width))
    return short + tail


class NameElide(QStyledItemDelegate):
    """Shortens an entry's file name by :func:`elide_name` before Qt draws it (its note,
    "(recent)", stays whole)."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        style = option.widget.style() if option.widget is not None else None
        margin = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1) \
            if style is not None else 6
        room = option.rect.width() - margin
        head, sep, note = option.text.partition(NOTE)
        if not sep or room <= 0:
            return
        wraps = bool(option.features & QStyleOptionViewItem.ViewItemFeature.WrapText)
        metrics = option.fontMetrics
        if not wraps:  # the note on the same line
            room -= metrics.horizontalAdvance(sep + note)
        option.text = elide_name(head, metrics, room) + sep + note


class Browser(QWidget):
    """Lists what can be opened; emits the chosen path or name."""

    model_chosen = Signal(str)
    dataset_chosen = Signal(str)
    open_model_requested = Signal()
    open_dataset_requested = Signal()
    download_requested = Signal()

    def __init__(self, state, settings, parent=None):
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.models = EntryList(objectName="modelBrowser")
        self.datasets = EntryList(objectName="datasetBrowser")
        for widget in (self.models, self.datasets):
            widget.setMaximumHeight(130)
            widget.setMinimumHeight(4 * widget.fontMetrics().height() + 8)  # four entries
            # a narrow dock shortens long names in the middle (the tooltip has the path)
            widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            widget.setTextElideMode(Qt.TextElideMode.ElideMiddle)
            widget.setItemDelegate(NameElide(widget))
            widget.setUniformItemSizes(True)
            widget.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.models.setUniformItemSizes(False)  # its ImageNet entry takes two lines
        self.models.setWordWrap(True)
        open_model = QPushButton("Open model…", objectName="openModelButton")
        open_data = QPushButton("Open dataset…", objectName="openDatasetButton")
        download = QPushButton("Download MNIST…", objectName="downloadButton")
        open_model.clicked.connect(self.open_model_requested)
        open_data.clicked.connect(self.open_dataset_requested)
        download.clicked.connect(self.download_requested)
        self.summary = ModelSummary(objectName="modelSummary")
        # plain text (it names the dataset), wrapped (a long name must not widen the dock),
        # from the top (centred, "accuracy on photos:" was cut through under the heading),
        # three lines at most: a long hint took nine and the model summary's room
        self.accuracy_label = LinesLabel("accuracy: —", lines=3, objectName="accuracyLabel")
        self._map_of = (None, False)  # (model, whether its output is a map): _measure
        self.progress = QProgressBar(objectName="accuracyProgress")
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Models</b>"))
        layout.addWidget(self.models)
        layout.addWidget(open_model)
        layout.addWidget(QLabel("<b>Datasets</b>"))
        layout.addWidget(self.datasets)
        layout.addWidget(open_data)  # one under the other: a side by side pair would keep
        layout.addWidget(download)   # the dock too wide for a 1024-pixel screen
        layout.addWidget(QLabel("<b>Model summary</b>"))
        layout.addWidget(self.accuracy_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary, 1)

        self.models.itemActivated.connect(lambda it: self._chosen(it, self.model_chosen))
        self.models.itemClicked.connect(lambda it: self._chosen(it, self.model_chosen))
        self.datasets.itemActivated.connect(lambda it: self._chosen(it, self.dataset_chosen))
        self.datasets.itemClicked.connect(lambda it: self._chosen(it, self.dataset_chosen))
        state.events.model.connect(lambda _m: self._on_model())
        state.events.model_path.connect(lambda _m: self.refresh())
        state.events.dataset_name.connect(lambda _m: self.refresh())
        state.events.accuracy.connect(lambda _a: self._on_accuracy())
        state.events.dataset.connect(lambda _d: self._on_accuracy())
        self.refresh()
        self._on_model()

    def _chosen(self, item, signal) -> None:
        value = item.data(PATH_ROLE)
        if value:
            signal.emit(value)

    def refresh(self) -> None:
        """Rebuild both lists: bundled entries first, then recent files."""
        # bundled models by the names the command line takes ("mnist-lenet5"): short enough
        # for a narrow dock (file names were cut to "mnist-d…ect.npz" at 1024 pixels)
        entries = [(p.stem, str(p), f"bundled; 'lrp' takes it as {p.stem}")
                   for p in bundled.bundled_models()]
        entries.append(_imagenet_entry())
        self._fill(self.models, entries, self.settings.recent("models"), self.state.model_path)
        datasets = [(n, n, "built in / download cache") for n in DATASET_NAMES]
        self._fill(self.datasets, datasets, self.settings.recent("datasets"),
                   self.state.dataset_name)
        # the built-in names are shown whole (recent files may be cut in the middle); a name
        # with a note in brackets wraps before it ("EfficientNet-Lite0" / "(ImageNet)")
        widest = max(self.models.fontMetrics().horizontalAdvance(word)
                     for label, _v, _t in entries + datasets for word in _lines(label))
        scroll = self.models.verticalScrollBar().sizeHint().width()
        for widget in (self.models, self.datasets):
            widget.setMinimumWidth(min(widest + scroll + 16, 240))

    @staticmethod
    def _fill(widget, bundled, recent, current) -> None:
        widget.blockSignals(True)
        widget.clear()
        seen = set()
        for label, value, tip in bundled:
            item = QListWidgetItem(label)
            if value is None:  # a note (how to get a model), not something to open
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                item.setToolTip(tip)
                widget.addItem(item)
                continue
            item.setData(PATH_ROLE, value)
            item.setToolTip(f"{no_markup(value)} ({tip})")
            widget.addItem(item)
            seen.add(value)
        recent = [v for v in recent if not any(_same_entry(v, known) for known in seen)]
        labels = _recent_labels(recent)  # e.g. a bundled model by a relative path left out
        for value in recent:
            if any(_same_entry(value, known) for known in seen):  # the same file twice
                continue
            item = QListWidgetItem(f"{no_markup(labels[value])}{NOTE}recent)")
            item.setData(PATH_ROLE, value)
            item.setToolTip(no_markup(value))  # a tooltip that looks like HTML is rendered
            widget.addItem(item)
            seen.add(value)
        for row in range(widget.count()):
            value = widget.item(row).data(PATH_ROLE)
            if current and value is not None and _same_entry(value, current):
                widget.setCurrentRow(row)
                f = widget.item(row).font()
                f.setBold(True)
                widget.item(row).setFont(f)
        widget.blockSignals(False)

    def _on_model(self) -> None:
        self.summary.show_model(self.state.model, self.state.model_path)
        self._on_accuracy()

    def _measure(self) -> str:
        """What the line measures: "accuracy", or of a segmentation model (a class per
        pixel) how often the class at the most pixels is a sample's one label: that is not
        its accuracy, which needs a mask of classes per sample."""
        model = self.state.model
        if self._map_of[0] is not model:
            from lrpcore.targets import model_map_shape  # noqa: PLC0415

            self._map_of = (model, model is not None and model_map_shape(model) is not None)
        return MAP_AGREEMENT if self._map_of[1] else "accuracy"

    def _on_accuracy(self) -> None:
        acc = self.state.accuracy
        name = self.state.dataset_name or "dataset"
        shown = printable_line(Path(name).name)
        hint = None
        what = self._measure()
        if self.state.dataset is None:  # closed: "accuracy on mnist-test: —" stayed behind
            self.accuracy_label.setText(f"{what}: no dataset open")
        elif acc is None and self.state.labels is None:
            hint = self.state.dataset.unlabelled_hint(self.state.model)
            more = f"; {printable_line(hint)}" if hint else ""  # as `lrp explain` says it
            self.accuracy_label.setText(f"{what} on {shown}: no labels{more}")
        elif acc is None:
            self.accuracy_label.setText(f"{what} on {shown}: —")
        else:
            seen = " (its training data)" if self._trained_on(name) else ""
            self.accuracy_label.setText(f"{what} on {shown}: {100 * acc:.2f} %"
                                        + seen)
        if what == MAP_AGREEMENT and hint is None:
            hint = MAP_AGREEMENT_HINT
        # the hint whole in the tooltip too: a short dock clips the label's last lines
        self.accuracy_label.setToolTip(no_markup(hint) if hint else "")

    def _trained_on(self, dataset_name) -> bool:
        """Whether the model's provenance names this dataset as its training data: an
        accuracy measured there says little about new samples."""
        model = self.state.model
        prov = model.meta.get("provenance") if model is not None else None
        trained = prov.get("dataset") if isinstance(prov, dict) else None
        if not isinstance(trained, str) or not trained.strip():
            return False
        return trained.split(" (")[0].strip() in (dataset_name, Path(dataset_name).name)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(done < total)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if done < total:
            self.accuracy_label.setToolTip("")
        what = self._measure()
        if done < total and self.state.labels is None:  # predictions only (grid, filters)
            self.accuracy_label.setText(f"{what}: no labels (predicting {done:,}/{total:,})")
        elif done < total:
            self.accuracy_label.setText(f"{what}: computing… {done:,}/{total:,}")
        else:
            self._on_accuracy()


# the accuracy line of a segmentation model: its per-sample labels say nothing about pixels
MAP_AGREEMENT = "class at the most pixels = label"
MAP_AGREEMENT_HINT = ("a segmentation model predicts a class per pixel: this is how often the "
                      "class at the most pixels of a sample is its one label, not the model's "
                      "accuracy (which needs a mask of classes per sample)")

IMAGENET_LABEL = "EfficientNet-Lite0 (ImageNet)"  # the name issue 13 gives it in the browser


def _imagenet_entry() -> tuple:
    """EfficientNet-Lite0 by name when its weights are installed, else how to get them."""
    from lrpcore.io import imagenet  # noqa: PLC0415

    if imagenet.available():
        return (IMAGENET_LABEL, "efficientnet-lite0",
                "real ImageNet weights, 1000 classes; 'lrp' and scripts take it as "
                "efficientnet-lite0; try the natural-images dataset")
    return (f"{IMAGENET_LABEL}: not installed", None, imagenet.INSTALL_HINT)


def _lines(label) -> list[str]:
    """How a bundled entry's label wraps: before a bracketed note, and after a colon."""
    head, sep, note = label.partition(" (")
    return [head, sep.strip() + note] if sep else label.split(": ")


def _recent_labels(paths) -> dict:
    """Each recent file by its name, with as many folders before it as tell it apart from
    the others of that name: five "x.npy  (recent)" entries could be told apart only by
    their tooltips."""
    labels = {}
    for value in paths:
        parts = Path(value).parts
        depth = 1
        while depth < len(parts) and any(
                other != value and Path(other).parts[-depth:] == parts[-depth:]
                for other in paths):
            depth += 1
        labels[value] = str(Path(*parts[-depth:]))
    return labels


def _same_entry(a, b) -> bool:
    if a == b:
        return True
    try:
        return _bundled_file(a).resolve() == _bundled_file(b).resolve()
    except (OSError, ValueError):
        return False


def _bundled_file(value) -> Path:
    """A bundled model's name as its file ("mnist-lenet5", as a relevance store or the command
    line records it, is models/mnist-lenet5.npz: not a second, "recent" entry)."""
    path = Path(value)
    if not path.exists() and path.name == str(value):
        for ext in bundled.MODEL_EXTENSIONS:
            candidate = bundled.MODELS_DIR / f"{value}{ext}"
            if candidate.is_file():
                return candidate
    return path
