"""The main window: wires AppState, the widgets and the controller together.

``MainWindow(model=PATH, dataset=PATH)`` reads both on the file worker (a photograph model and
its image folder held the GUI thread before the window appeared), then opens them, takes back
the last session's sample and per-layer rules where they fit and asks the worker for the first
explanation; ``opened`` is emitted then. It returns with them open (it serves events while they
are read), as scripts have always been given it; ``wait=False``, as the app starts it, returns
at once with the window showing "Opening …" (``window.opening`` is True until ``opened``;
``wait_opened()`` serves events until then).
``open_model``/``open_dataset`` do what the menu actions do. Errors become non-blocking
dialogs and leave the previous model, dataset and results in place.

Driving it from a test: change a widget or ``window.state`` (sample_index, rule, target,
layer_rules, ...); every change that needs a new explanation sets ``state.relevance`` (and
``scores``) to None at once, and the worker's answer fills them in, so
``qtbot.waitUntil(lambda: window.state.relevance is not None)`` waits for exactly that
answer. ``explanation_shown`` is emitted with the sample index when it is on display.
Questions to the user go through :mod:`lrpgui.dialogs`, whose functions tests replace.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QByteArray, QEventLoop, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from lrpcore.text import error_line, printable_line

from . import dialogs, flows, gui_collector, help_dialogs, rendering, services, sources
from .controller import Controller
from .dock_room import share_growth
from .insight import install_insight_tools
from .services import Cancelled, ExplainService
from .session import (
    REMEMBERED_KEYS,
    VIEW_KEYS,
    Declined,
    OpenError,
    Session,
    StartupData,
    message,
)
from .settings import Settings
from .state import AppState
from .tooltips import fill_tooltips
from .widgets.browser import Browser
from .widgets.colour_panel import BusyIndicator, ColourPanel
from .widgets.rule_panel import RulePanel
from .widgets.sample_grid import SampleGrid
from .widgets.views import ImagePair, ScoresPlot
from .wording import gui_message

MIN_VIEWS = (420, 230)  # the least the input and heatmap views get, docks or not
OPENING = "Opening the model and dataset…"  # the window's message while they are read
# errors that refuse a setting (a rule typed into the table, a command-line option): they
# leave the status bar when the settings change (MainWindow._drop_setting_refusal)
SETTING_REFUSALS = ("Invalid setting: ", "Invalid option: ")
MODEL_FILTER = "Models (*.npz *.txt *.nn *.onnx);;All files (*)"
DATASET_FILTER = ("Datasets (*.npy *.npz *.mat *.txt *.gz *.idx *-ubyte *.png *.jpg *.jpeg);;"
                  "All files (*)")


class MainWindow(QMainWindow):
    """LRP Explorer's window. ``window.state`` is the single application state."""

    explanation_shown = Signal(int)  # dataset index of the sample on display
    predictions_done = Signal()
    export_finished = Signal(object)  # list of written paths
    export_cancelled = Signal()
    error_shown = Signal(str)
    opened = Signal()  # the start-up files are open (or refused): ``opening`` is False

    def __init__(self, model=None, dataset=None, settings: Settings | None = None, *,
                 wait: bool = True):
        """``wait``: return with the start-up files open (read on the file worker while this
        serves events), as scripts and tests have always been given the window; the app
        passes False to show the window at once while they are read."""
        super().__init__()
        gui_collector.COLLECTOR.hold(self)  # Qt garbage is freed on this thread, not a worker's
        self.setWindowTitle("LRP Explorer")
        apply_look(self)
        self.state = AppState(colormap=rendering.default_colormap())
        self.settings = settings or Settings()
        self.controller = Controller(self)
        self.session = Session(self.state, cancel=self.controller.cancel)  # the Qt-free logic
        self.exports = flows.Exports(self.session)  # the export rules, Qt-free too
        self.service = ExplainService()
        self.errors: list[str] = []
        self.last_error: str | None = None
        self._reads = 0  # files read off the GUI thread so far (a later one supersedes)
        self._waiting: list[QEventLoop] = []  # their waits, ended when the window closes
        self._opening = 0  # the job reading the start-up files while it runs (0: none)
        self._startup = StartupData()  # what it shares with a dataset opened meanwhile
        self._message_error: str | None = None  # the error the window's message repeats
        self._progress_dialog = None
        self._progress_job = None
        self._error_status = None  # the status bar's text of the last error, while it is up
        self.batch_chunk = 256  # samples explained per step of a batch export
        self._build()
        install_insight_tools(self)  # Tools menu and docks of lrpgui/insight
        self._help_menu()
        fill_tooltips(self)
        self._restore_settings()
        self._open_initial(model, dataset)
        self.grid.view.setFocus()
        if wait:
            self.wait_opened()

    # -- construction -----------------------------------------------------------------------
    def _build(self) -> None:
        s = self.state
        self.views = ImagePair(s)
        self.scores = ScoresPlot(s)
        self.message = QLabel(objectName="emptyMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it quotes file names
        self.message.hide()
        self.export_png_button = QPushButton("PNG…", objectName="exportPngButton")
        self.export_figure_button = QPushButton("figure…",
                                                objectName="exportFigureButton")
        self.export_figure_button.clicked.connect(lambda: self.export_figure())
        self.export_npy_button = QPushButton(".npy…", objectName="exportNpyButton")
        self.export_all_button = QPushButton("all colormaps…", objectName="exportAllButton")
        self.batch_button = QPushButton("batch…", objectName="batchExportButton")
        self.export_png_button.clicked.connect(lambda: self.export_png())
        self.export_npy_button.clicked.connect(lambda: self.export_npy())
        self.export_all_button.clicked.connect(lambda: self.export_all_colormaps())
        self.batch_button.clicked.connect(lambda: self.batch_export())
        self.reset_zoom_button = QPushButton("fit", objectName="resetZoomButton")
        self.reset_zoom_button.clicked.connect(lambda: self.views.reset_zoom())
        for button, tip in (
                (self.export_png_button, "Save input | heatmap as PNG in the LRP Toolbox's "
                 "layout (what 'lrp explain --png' writes), plus a JSON sidecar (Ctrl+E)"),
                (self.export_figure_button, "Save a figure for a paper: input | heatmap | "
                 "colour bar at a chosen scale, titled with rule, class and score "
                 "(Ctrl+Shift+F)"),
                (self.export_npy_button, "Save the relevance array (model input layout) as "
                 ".npy, plus a JSON sidecar"),
                (self.export_all_button, "Save the heatmap in every colormap into a folder"),
                (self.batch_button, "Explain and export the selected or all listed samples "
                 "(Ctrl+Shift+E)"),
                (self.reset_zoom_button, "Fit both images into their views again (Home, or "
                 "double-click a view)")):
            button.setToolTip(tip)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Export:"))
        for b in (self.export_png_button, self.export_figure_button, self.export_npy_button,
                  self.export_all_button, self.batch_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_zoom_button)
        # docking a tool never squeezes the images below a readable size
        self.views.setMinimumSize(*MIN_VIEWS)
        # arrow keys move through the samples from the start: the image views and the
        # scores plot and the colour bar (mouse only) never take the keyboard focus from the
        # sample grid, nor stop Tab
        for view in (self.views.input_widget, self.views.heat_widget, self.views.bar_widget,
                     self.scores):
            view.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.message)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.views)
        split.addWidget(self.scores)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.setCentralWidget(central)

        self.browser = Browser(s, self.settings)
        self.rules = RulePanel(s)
        self.grid = SampleGrid(s)
        self._dock("Browser", "browserDock", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Explanation", "ruleDock", self.rules, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Samples", "sampleDock", self.grid, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.colour = ColourPanel(s)
        self.colour.export_requested.connect(lambda: self.export_overlay())
        self.colour_dock = self._dock("Colour and overlay", "colourDock", self.colour,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.colour_dock.hide()  # shown when a model of colour images opens
        self.colour.follow(s, self.colour_dock, self._give_overlay_room)

        self.browser.model_chosen.connect(self._model_chosen)
        self.browser.dataset_chosen.connect(self._dataset_chosen)
        self.browser.open_model_requested.connect(lambda: self.open_model())
        self.browser.open_dataset_requested.connect(lambda: self.open_dataset())
        self.browser.download_requested.connect(self.download_mnist)
        self.rules.error.connect(lambda msg: self.show_error("Invalid setting", msg))
        self.views.hovered.connect(lambda text: self.hover_label.setText(text))
        self.rules.region.draw_requested.connect(self.views.set_drawing)
        self.views.region_drawn.connect(self.rules.region.take_drawn)

        bar = self.statusBar()
        self.hover_label = QLabel(objectName="hoverLabel")
        self.backend_label = QLabel(objectName="backendLabel")
        # short texts, the details in tooltips: at 1024 pixels beside EfficientNet's warning
        # the long ones left the status messages ten pixels
        self.time_label = QLabel(objectName="timeLabel")
        self.time_label.setToolTip("How long the explanation on display took")
        self.conservation_label = QLabel(objectName="conservationLabel")
        bar.addWidget(self.hover_label, 1)
        self.busy = BusyIndicator()
        bar.addPermanentWidget(self.busy)
        for w in (self.backend_label, self.time_label, self.conservation_label):
            bar.addPermanentWidget(w)
        self._menus()

        for name in ("sample_index", "rule", "layer_rules", "target", "region", "dtype",
                     "backend"):
            getattr(s.events, name).connect(lambda _v: self.request_explanation())
        s.events.status.connect(self._show_status)
        bar.messageChanged.connect(lambda text: text or bar.setToolTip(""))
        self.resize(_initial_size(self))

    def _give_overlay_room(self) -> None:
        """The overlay preview shown for a colour model takes the room the docks can spare:
        the sample grid down to its least height (one row of thumbnails) and the Explanation
        dock down to its least (its rule table still scrolls). At 1400×900 the preview was a
        115-pixel picture under the Explanation dock."""
        rule_dock = self.findChild(QDockWidget, "ruleDock")
        sample_dock = self.findChild(QDockWidget, "sampleDock")
        vertical = Qt.Orientation.Vertical
        if sample_dock.isVisible() and not sample_dock.isFloating():
            self.resizeDocks([sample_dock], [sample_dock.minimumSizeHint().height()], vertical)
        if rule_dock.isVisible() and not rule_dock.isFloating() \
                and self.dockWidgetArea(rule_dock) == self.dockWidgetArea(self.colour_dock):
            self.resizeDocks([rule_dock, self.colour_dock],
                             [rule_dock.minimumSizeHint().height(), self.height()], vertical)

    def _dock(self, title, name, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self, objectName=name)
        dock.setWidget(widget)
        # closable: Qt disables the View menu's toggle of a dock that cannot be closed
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        view_menu = self.menuBar().addMenu("&View")
        view_menu.setObjectName("viewMenu")
        self.view_menu = view_menu

        def action(menu, text, slot, shortcut=None, name=None):
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            if name:
                act.setObjectName(name)
            act.triggered.connect(lambda _checked=False: slot())
            menu.addAction(act)
            return act

        self.open_model_action = action(file_menu, "Open model…", self.open_model, "Ctrl+O",
                                        "openModelAction")
        action(file_menu, "Open dataset…", self.open_dataset, "Ctrl+Shift+O")
        action(file_menu, "Open image folder…", self.open_image_folder, None,
               "openImageFolderAction")
        action(file_menu, "Close dataset", self.close_dataset, None, "closeDatasetAction")
        action(file_menu, "Open relevance store (.zarr)…", self.open_relevance_store, None,
               "openRelevanceStoreAction")
        action(file_menu, "Download MNIST…", self.download_mnist)
        file_menu.addSeparator()
        self.export_action = action(file_menu, "Export PNG (input | heatmap)…", self.export_png,
                                    "Ctrl+E", "exportAction")
        self.export_figure_action = action(file_menu, "Export figure (scale, colour bar, "
                                           "title)…", self.export_figure, "Ctrl+Shift+F",
                                           "exportFigureAction")
        action(file_menu, "Export relevance (.npy)…", self.export_npy)
        action(file_menu, "Export all colormaps…", self.export_all_colormaps)
        self.batch_action = action(file_menu, "Batch export…", self.batch_export,
                                   "Ctrl+Shift+E", "batchExportAction")
        file_menu.addSeparator()
        action(file_menu, "Quit", self.close, "Ctrl+Q")
        self.reset_zoom_action = action(view_menu, "Fit view (reset zoom)",
                                        lambda: self.views.reset_zoom(), "Home",
                                        "resetZoomAction")
        view_menu.addSeparator()
        view_menu.aboutToShow.connect(self.fill_view_menu)
        self.fill_view_menu()

    def _help_menu(self) -> None:
        """Help comes last in the menu bar, after the insight tools' menu."""
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        for text, slot, keys, name in (
                ("Keyboard shortcuts", lambda: help_dialogs.show_shortcuts(self), "F1",
                 "shortcutsAction"),
                ("About LRP Explorer", lambda: help_dialogs.show_about(self), None,
                 "aboutAction")):
            act = QAction(text, self, objectName=name)
            if keys:
                act.setShortcut(QKeySequence(keys))
            act.triggered.connect(lambda _c=False, f=slot: f())
            help_menu.addAction(act)

    def fill_view_menu(self) -> None:
        """The View menu lists every dock, the insight tools' included (they are made after
        the menus), each with a check mark that shows and hides it."""
        menu = self.view_menu
        for act in menu.actions()[2:]:
            menu.removeAction(act)
        for dock in self.findChildren(QDockWidget):
            act = dock.toggleViewAction()
            act.setText(dock.windowTitle())
            menu.addAction(act)

    # -- settings ---------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        st = self.settings
        geometry = st.get("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        layout = st.get("window/state")
        if isinstance(layout, QByteArray):
            self.restoreState(layout)
        self.session.restore({name: st.get(f"state/{name}") for name in REMEMBERED_KEYS})

    def save_settings(self) -> None:
        st = self.settings
        st.set("window/geometry", self.saveGeometry())
        st.set("window/state", self.saveState())
        for name, value in {**self.session.remembered(),
                            **self.session.remembered_view()}.items():
            st.set(f"state/{name}", value)
        if self.state.model_path:
            st.set("last/model", self.state.model_path)
        if self.state.dataset_name:
            st.set("last/dataset", self.state.dataset_name)
        problem = st.sync()
        if problem:  # the window is closing: said where a script or terminal sees it
            print(f"lrp-explorer: warning: {problem}", file=sys.stderr)

    def _open_initial(self, model, dataset) -> None:
        """Open what was asked for; else the last session's files; else the bundled ones,
        read on the file worker (:meth:`Session.read_initial`) while the window shows.

        Files named by the caller that cannot be opened get an error dialog (non-modal) and
        the reason stays in the window's message; remembered or default files fail quietly.
        A file the user opens meanwhile wins: a model replaces the start-up read
        (:meth:`_stop_opening`), a dataset (or Close dataset) its dataset only
        (:meth:`_supersede_startup_data`): the model read still opens. The start-up read has
        a worker of its own, so that the user's file is read beside it, not after it.
        """
        last_model = self.settings.get_str("last/model")
        last_dataset = self.settings.get_str("last/dataset")
        startup = self._startup = StartupData()

        def read(token):
            try:
                return Session.read_initial(model, dataset, last_model, last_dataset,
                                            wants_data=lambda: startup.wanted(token.cancelled),
                                            on_model=startup.publish)
            finally:
                startup.model_ready.set()  # also when it failed: nobody waits for ever

        self.controller.add_worker("start-up")
        self._opening = self.controller.submit(
            "open-initial", read, worker="start-up", on_done=self._initial_read,
            on_error=self._initial_failed)
        self.busy.set_busy(bool(self._opening))
        self._update_message()

    def _initial_read(self, read) -> None:
        """The start-up files were read: open them, then the last session's sample and
        per-layer rules where they fit (said in the status bar where they do not)."""
        self._opening = 0
        if self._startup.superseded.is_set():  # the user opened (or closed) a dataset meanwhile
            read = read.without_data()
        self._open_start(read)

    def _open_start(self, read) -> None:
        """Open what the start-up read found (its model part alone when a dataset the user
        opened came first)."""
        view = {name: self.settings.get_str(f"state/{name}") for name in VIEW_KEYS}
        try:
            problems = self.session.commit_initial(read, view)
        except OpenError as exc:  # (the read was for the state it meets: not expected)
            problems = [(exc, False)]
        for exc, quiet in problems:
            self.show_error(exc.title, str(exc), quiet=quiet)
        s = self.state
        if s.model is not None:
            self._remember("models", "last/model", s.model_path)
        if s.dataset is not None:
            self._remember("datasets", "last/dataset", s.dataset_name)
        # one prediction pass and one explanation for both: started per file, the first
        # prediction pass (all of natural-images through EfficientNet) ran to its end before
        # the second began, doubling the wait for the accuracy
        self._start_work()
        self.busy.set_busy(self.controller.pending("explain"))
        self.opened.emit()

    def _initial_failed(self, exc) -> None:
        """An internal fault while reading (a refusal is a problem of ``read_initial``'s):
        said like any error; the window stays, empty. Cancelled: the user opened a file."""
        if isinstance(exc, Cancelled):
            return
        self._opening = 0
        self.busy.set_busy(False)
        self.show_error("Cannot open", message(exc))
        self.opened.emit()

    def _stop_opening(self) -> None:
        """A model the user opens while the start-up files are read is the one that counts:
        the start-up read is dropped, not opened over it (a dataset replaces only the start-up
        dataset: :meth:`_supersede_startup_data`)."""
        if self._opening:
            self.controller.cancel("open-initial")
            self._opening = 0
            self.busy.set_busy(self.controller.pending("explain"))
            self._update_message()
            self.opened.emit()

    def _supersede_startup_data(self) -> StartupData | None:
        """A dataset the user opens (or closes) while the start-up files are read replaces
        the start-up dataset, not its model: that read goes on, skips (or drops) its dataset,
        and opens its model. Returns what it shares (None when nothing is being read)."""
        if not self._opening:
            return None
        self._startup.superseded.set()
        return self._startup

    @property
    def opening(self) -> bool:
        """Whether the start-up files are still being read."""
        return bool(self._opening)

    def wait_opened(self, timeout=None) -> bool:
        """Serve events until the start-up files are open or refused (for scripts and
        ``--sample``, which set the view they open into); False after ``timeout`` seconds
        or when the window closed first."""
        if not self.opening:
            return True
        loop = QEventLoop()
        quit_loop = loop.quit
        self.opened.connect(quit_loop)
        if timeout is not None:
            QTimer.singleShot(max(0, int(1000 * timeout)), loop, quit_loop)
        self._waiting.append(loop)
        try:
            if self.opening:
                loop.exec()
        finally:
            self._waiting.remove(loop)
            self.opened.disconnect(quit_loop)
        return not self.opening

    @property
    def last_result(self):
        """The ExplainResult on display (the session's)."""
        return self.session.last_result

    def _update_message(self) -> None:
        text = OPENING if self.opening else self.session.missing()
        if text and self._message_error:
            text += f"\n\nLast error: {self._message_error}"
        self.message.setText(text)
        self.message.setVisible(bool(text))
        # with nothing to draw the empty views give the message their room: kept at their
        # least height they overlapped the scores plot's title once the message took three
        # lines (after File → Close dataset in a window of the first start's size)
        self.views.setMinimumHeight(0 if text else MIN_VIEWS[1])

    # -- opening ----------------------------------------------------------------------------
    def _model_chosen(self, path) -> None:
        if path != self.state.model_path:
            self.open_model(path)

    def _dataset_chosen(self, name) -> None:
        """An entry of the browser's list: a built-in name or a file as the window holds it
        (a file by its absolute path), opened as it is."""
        if name != self.state.dataset_name:
            self._open_held_dataset(name)

    def open_model(self, path=None, quiet=False, data_follows=False) -> bool:
        """Open a model file (asks for one when ``path`` is None). True on success.
        ``data_follows``: the caller opens the model's own data next (a relevance store's), so
        an open dataset the model does not fit is closed without asking "Close the dataset
        and open the model? Then open data that fits it" (the store brings that data)."""
        if path is None:
            path = dialogs.ask_open_file(self, "Open model", self.settings.last_dir("models"),
                                         MODEL_FILTER)
            if not path:
                return False
            self.settings.set_last_dir("models", os.path.dirname(path))
        path = os.fspath(path)
        self._stop_opening()
        had_data = self.state.dataset is not None
        before = self.state.status  # what the open says comes after this
        ask = None if quiet else (lambda title, text: dialogs.ask_close_dataset(self, title,
                                                                               text))
        if data_follows:
            ask = lambda title, text: True  # noqa: E731 (the data that fits comes next)
        try:
            self.session.open_model(path, close_unfitting=ask)
        except OpenError as exc:  # declined: the question said it all; the status bar keeps it
            self.show_error(exc.title, str(exc), quiet=quiet or isinstance(exc, Declined))
            return False
        if had_data and self.state.dataset is None:  # closed for this model (the user agreed)
            self._dataset_closed()
        # an earlier refusal ("close the dataset first") no longer describes the window
        self._message_error = None
        self._opened("models", "last/model", self.state.model_path, before)
        return True

    def _opened(self, recent, last, path, before=None) -> None:
        """After a model or dataset opened: remember it, show it, and start computing. A
        refusal still in the status bar goes: "Dataset does not fit the model: natural-images
        …" stood beside the digits opened next, as if they had been refused."""
        if self._error_status is not None and self.state.status == self._error_status:
            self.state.status = ""
        self._error_status = None
        self._remember(recent, last, path)
        self._start_work(before)

    def _remember(self, recent, last, path) -> None:
        self.settings.add_recent(recent, path)
        self.settings.set(last, path)

    def _start_work(self, before=None) -> None:
        """Show what is open and start its predictions and the explanation on display.
        ``before``: the status bar's text before the open, so that what the open itself said
        (no labels, so target true class → predicted class; a 16-bit note) stays beside the
        warnings about what it opened instead of giving way to them."""
        self.browser.refresh()
        self._update_message()
        concerns = self.session.concerns()
        if concerns:  # e.g. a toolbox .txt cut short: it loads as a smaller model
            said = self.state.status
            said = said if said and said != before and not said.startswith("⚠ ") else ""
            self.state.status = "; ".join(["⚠ " + "; ".join(concerns)] + [said] * bool(said))
        self.start_predictions()
        self.request_explanation()

    def open_dataset(self, path=None, quiet=False) -> bool:
        """Open a dataset file or name (asks when ``path`` is None). True on success. A path
        typed comes first, as for ``lrp``: a folder ``mnist-test`` here is that folder."""
        if path is None:
            path = dialogs.ask_open_file(self, "Open dataset",
                                         self.settings.last_dir("datasets"), DATASET_FILTER)
            if not path:
                return False
            self.settings.set_last_dir("datasets", os.path.dirname(path))
        return self._open_held_dataset(sources.held_name(path), quiet)

    def _open_held_dataset(self, name, quiet=False) -> bool:
        """Open a dataset as the window holds it (``sources.held_name``: a file absolute, a
        bare built-in name the built-in dataset). While the start-up files are read, it is
        read for their model as soon as that is read, beside their dataset, which it
        replaces; their model opens with it."""
        startup = self._startup if self._opening else None  # its dataset waits for this one
        if startup is not None:
            startup.asked()
        model = self.state.model

        def read_for_model(token):  # on the file worker, beside the start-up read if any
            if startup is not None:
                return self.session.read_dataset(name, startup.model(token.cancelled))
            return self.session.read_dataset(name, model)

        read = None
        try:
            read = self._off_gui_thread(read_for_model)
            if read is None:  # another dataset asked for meanwhile, or the window closed
                return False
            if startup is not None:
                startup.superseded.set()  # this one opens: the start-up dataset is dropped
            if startup is not None and startup is self._startup and self._opening \
                    and startup.model_part is not None:  # its dataset is still being read
                self.controller.cancel("open-initial")  # that dataset is dropped when read
                self._opening = 0
                self._open_start(startup.model_part)
            before = self.state.status  # what the open says comes after this
            self.session.commit_dataset(read)
        except OpenError as exc:  # the start-up dataset, if any, still opens
            self.show_error(exc.title, str(exc), quiet=quiet)
            return False
        finally:
            if startup is not None:
                startup.answered(opened=read is not None)
        unread = read.dataset.unreadable_note()
        if unread and not quiet:  # said in the status bar too (Session.concerns)
            dialogs.show_warning(self, "Some images left out", f"{name}: {unread}")
        if self.state.model is not None:  # else the reason it is missing stays in the message
            self._message_error = None
        self._opened("datasets", "last/dataset", self.state.dataset_name, before)
        return True

    def _off_gui_thread(self, read):
        """``read(token)`` on the file worker, the GUI thread serving events meanwhile (an
        image folder of 2,000 photographs held it 0.1–0.4 s): its result, raised error, or
        None when a later read superseded it or the window closed first."""
        self._reads += 1
        mine, box, loop = self._reads, {}, QEventLoop()

        def settle(key, value):
            box[key] = value
            loop.quit()

        self.controller.add_worker("files")
        if not self.controller.submit(f"read-{mine}", read, worker="files",
                                      on_done=lambda r: settle("result", r),
                                      on_error=lambda e: settle("error", e)):
            return None  # closed
        self._waiting.append(loop)
        try:
            if not box:
                loop.exec()
        finally:
            self._waiting.remove(loop)
        if mine != self._reads or not box or isinstance(box.get("error"), Cancelled):
            return None
        if "error" in box:
            raise box["error"]
        return box["result"]

    def open_image_folder(self, quiet=False) -> bool:
        """A folder of PNG/JPEG images (one subfolder per class, or none) as the dataset:
        Open dataset…'s file dialog picks files only, so a folder could not be chosen."""
        path = dialogs.ask_folder(self, "Open image folder", self.settings.last_dir("datasets"))
        if not path:
            return False
        self.settings.set_last_dir("datasets", os.path.dirname(os.path.normpath(path)))
        return self.open_dataset(path, quiet=quiet)

    def open_relevance_store(self, path=None, quiet=False) -> bool:
        """Open an ``R.zarr`` of ``lrp explain`` (e.g. computed on a cluster): its model,
        dataset and settings, with heatmaps read from the store instead of computed."""
        if path is None:
            path = dialogs.ask_folder(self, "Open relevance store (.zarr)",
                                      self.settings.last_dir("datasets"))
            if not path:
                return False
        try:
            source = self.session.open_relevance_store(path)
        except OpenError as exc:
            self.show_error(exc.title, str(exc), quiet=quiet)
            return False
        if self.session.needs_model(source) and not self.open_model(
                source.model_path, quiet=quiet, data_follows=True):
            return False
        if not self._open_held_dataset(source.dataset_path, quiet=quiet):  # as the store has it
            return False
        self.session.use_relevance_store(source, self.service)
        self.request_explanation()
        return True

    def close_dataset(self) -> None:
        """Close the open dataset (the model stays), e.g. to open a model for other data;
        while the start-up files are read, their dataset is not opened (their model is)."""
        self._supersede_startup_data()
        self.session.close_dataset()
        self._dataset_closed()
        self.browser.refresh()
        self._update_message()

    def _show_status(self, text: str) -> None:
        """A status message for 8 s, shortened in the middle with "…" to the room the
        permanent labels leave (Qt cut it off at the edge), the whole text as tooltip."""
        bar = self.statusBar()
        bar.setToolTip(text)
        if not bar.isVisible():  # not laid out yet: no room to measure (the window opens)
            bar.showMessage(text, 8000)
            return
        shown = [w for w in bar.findChildren(QWidget) if w.parent() is bar and w.isVisible()
                 and w is not self.hover_label and w.x() > self.hover_label.x()]
        right = min((w.x() for w in shown), default=bar.width())
        room = max(right - self.hover_label.x() - 8, 40)
        bar.showMessage(bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, room),
                        8000)

    def _dataset_closed(self) -> None:
        """Forget the closed dataset, and the status bar's figures of its last explanation
        (they described a picture no longer on display)."""
        self.settings.remove("last/dataset")
        for label in (self.backend_label, self.time_label, self.conservation_label):
            label.clear()

    # -- errors -----------------------------------------------------------------------------
    def show_error(self, title: str, message: str, quiet=False) -> None:
        """Record the error and show it in a non-blocking dialog (status bar when quiet)."""
        title, message = printable_line(title), error_line(gui_message(message))
        self.errors.append(message)
        self.last_error = self._message_error = message
        self.state.status = self._error_status = f"{title}: {message}"
        if not quiet:
            dialogs.show_error(self, title, message)
        self._update_message()
        self.error_shown.emit(message)

    def _drop_setting_refusal(self) -> None:
        """A refused setting's error leaves the status bar once the settings change: after a
        valid per-layer rule, "Invalid setting: layer 5: ε must be > 0, got -1" stayed beside
        the rule it had refused, as if the valid one had been refused too."""
        status = self._error_status
        if status is not None and status.startswith(SETTING_REFUSALS) \
                and self.state.status == status:
            self.state.status = ""
            self._error_status = None

    # -- explanation ------------------------------------------------------------------------
    def request_explanation(self) -> int:
        """Ask the interactive worker to explain the current sample; returns the job id."""
        self._drop_setting_refusal()
        try:  # a lazily read sample can be broken (NaN, unreadable file in a folder)
            req = self.session.explain_request()
        except Exception as exc:
            self.controller.cancel("explain")  # an older request is no answer either
            self._explain_failed(exc)
            return 0
        if req is None:
            return 0
        service = self.service
        # Until the answer arrives the results of the previous settings are not the answer
        # (the session set them to None): tests and scripts wait for ``state.relevance``.
        job = self.controller.submit(  # progress: the heatmap, before its diagnosis
            "explain", lambda token: service.run(req, token),
            on_done=self._explained, on_error=self._explain_failed,
            on_progress=lambda _done, _total, result: self._explained(result))
        self.busy.set_busy(True)
        return job

    def _explained(self, result) -> None:
        self.busy.set_busy(self.controller.pending("explain"))
        if not self.session.accept_explanation(result):
            return  # stale: the selection moved on; a newer request is on its way
        self.backend_label.setText(f"{result.backend} · {result.device} · "
                                   f"{result.request.dtype}")
        ms = 1000 * result.seconds
        self.time_label.setText(f"{ms:.{1 if ms < 100 else 0}f} ms"
                                + (" · cached" if result.forward_reused else "")
                                + (" · precomputed" if result.precomputed else ""))
        self.time_label.setToolTip(
            "How long the explanation on display took"
            + ("; cached: the forward pass was reused" if result.forward_reused else "")
            + ("; precomputed: read from a relevance store" if result.precomputed else ""))
        total, output = result.relevance_sum, result.explained_output
        self.conservation_label.setText(_conservation_text(total, output))
        self.conservation_label.setToolTip(
            f"ΣR = {total:.5g}, f(x) = {output:.5g}: the relevance summed over the input "
            "against the explained output (1 for a conserving rule without biases)")
        self.explanation_shown.emit(result.index)

    def _explain_failed(self, exc) -> None:
        self.busy.set_busy(self.controller.pending("explain"))
        if isinstance(exc, Cancelled):
            return
        self.session.explanation_failed()  # the previous results stay, as the dialog says
        self.show_error("Explanation failed", message(exc))

    # -- predictions and accuracy -----------------------------------------------------------
    def start_predictions(self) -> int:
        job = self.session.predict_job()
        if job is None:
            return 0
        self.browser.show_progress(0, len(self.state.dataset))
        return self.controller.submit(
            "predict", job,
            on_done=self._predicted, on_error=self._predict_failed,
            on_progress=self._predict_progress, worker="batch")

    def _predict_progress(self, done, total, batch) -> None:
        self.browser.show_progress(done, total)
        if batch is not None:
            self.session.add_predicted(batch, total)

    def _predicted(self, predictions) -> None:
        self.browser.show_progress(1, 1)
        unread = self.session.accept_predictions(predictions)
        if unread:
            self.state.status = (f"{unread:,} of {predictions.size:,} samples could not be "
                                 "read; the accuracy counts the others")
        self.predictions_done.emit()

    def _predict_failed(self, exc) -> None:
        self.browser.show_progress(1, 1)
        if not isinstance(exc, Cancelled):
            self.show_error("Accuracy failed", message(exc))

    # -- exports (the rules live in lrpgui.flows; here: questions, progress, status) --------
    def _ask_path(self, title, suggestion, filters) -> str | None:
        folder = self.settings.last_dir("export")
        path = dialogs.ask_save_file(self, title, os.path.join(folder, suggestion), filters)
        if not path:
            return None
        self.settings.set_last_dir("export", os.path.dirname(path))
        return path

    def _ask_folder(self, title) -> str | None:
        folder = dialogs.ask_folder(self, title, self.settings.last_dir("export"))
        if not folder:
            return None
        self.settings.set_last_dir("export", folder)
        return folder

    def _ask_scale(self, result) -> int:
        # offered: the scale last chosen for maps of this size, else one from the size
        scale = dialogs.ask_figure_scale(self, flows.figure_scale(
            self.settings.get_str("export/figure_scale"), result.relevance,
            self.settings.get_str("export/figure_side")))
        if scale:
            self.settings.set("export/figure_scale", str(scale))
            self.settings.set("export/figure_side", str(flows.figure_side(result.relevance)))
        return scale

    def export(self, kind, path=None, scale=None) -> list:
        """Export ``kind`` (a key of :data:`lrpgui.flows.SINGLE_EXPORTS`) of the explanation
        on display, asking for what is not given; returns the written paths ([]: none)."""
        spec = flows.SINGLE_EXPORTS[kind]
        try:
            result = self.exports.current()
            self.exports.check(kind, result)  # before asking for a file name
        except flows.Refused as exc:
            self.show_error(exc.title, str(exc))
            return []
        if spec.needs_scale and scale is None:
            scale = self._ask_scale(result)
            if not scale:
                return []
        if path is None:
            path = (self._ask_folder(spec.title) if spec.filters is None else
                    self._ask_path(spec.title, self.exports.suggested_name(kind, result),
                                   spec.filters))
            if path is None:
                return []
        try:
            paths = self.exports.write(kind, path, result, scale)
        except flows.Refused as exc:
            self.show_error(exc.title, str(exc))
            return []
        self.state.status = flows.written_status(paths)
        return paths

    def export_png(self, path=None) -> list:
        """Write input | heatmap as PNG (+ JSON sidecar); returns the written paths."""
        return self.export("png", path)

    def export_figure(self, path=None, scale=None) -> list:
        """Write the paper figure of the explanation on display (+ JSON sidecar)."""
        return self.export("figure", path, scale)

    def export_npy(self, path=None) -> list:
        """Write the relevance (model input layout) as .npy (+ JSON sidecar)."""
        return self.export("npy", path)

    def export_overlay(self, path=None) -> list:
        """Write the heatmap blended over the greyscale input as PNG and .npy (+ sidecars)."""
        return self.export("overlay", path)

    def export_all_colormaps(self, folder=None) -> list:
        return self.export("colormaps", folder)

    def batch_export(self, folder=None, scope=None, formats=None) -> int:
        """Explain and export the selection or the filtered set on the batch worker."""
        s = self.state
        if s.model is None or s.dataset is None:
            self.show_error("Nothing to export", "open a model and a dataset first")
            return 0
        if self._busy():
            return 0
        selected = self.grid.selected_indices()
        filtered = self.grid.model.dataset_indices()
        if folder is None or scope is None or formats is None:
            answer = dialogs.ask_batch_export(self, len(selected), len(filtered),
                                              folder or self.settings.last_dir("export"))
            if not answer:
                return 0
            folder, scope, formats = answer
            self.settings.set_last_dir("export", folder)
        try:
            req = self.exports.batch_job(folder, scope, formats, selected, filtered,
                                         self.batch_chunk)
        except flows.Refused as exc:
            self.show_error(exc.title, str(exc))
            return 0
        n = int(req.indices.size)
        dlg = self._open_progress(f"Exporting {n:,} samples…", n, "exportProgress", "export")
        return self.controller.submit(
            "export", lambda token: services.batch_export(req, token),
            on_done=self._batch_done, on_error=self._batch_failed,
            on_progress=lambda d, t, _p: self._set_progress(dlg, d), worker="batch")

    def _busy(self) -> bool:
        """Whether a job with a progress dialog (batch export, download) runs, said in an
        error box: a second one took the first's place, cancelled it without a word (a
        first export's files were thrown away) and left its dialog on screen for good."""
        if self._progress_dialog is None:
            return False
        what = {"export": "A batch export", "download": "A download"}.get(self._progress_job,
                                                                         "A job")
        self.show_error("Please wait", f"{what} is running; wait for it to finish or cancel "
                        "it first")
        return True

    def _open_progress(self, text, maximum, name, job) -> QProgressDialog:
        """A progress dialog whose Cancel cancels the controller's ``job``."""
        dlg = QProgressDialog(text, "Cancel", 0, maximum, self)
        dlg.setObjectName(name)
        # Non-modal on purpose: a modal QProgressDialog runs processEvents() inside setValue(),
        # which could deliver "finished" and delete the dialog under its own feet.
        dlg.setWindowModality(Qt.WindowModality.NonModal)
        dlg.setMinimumDuration(0)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        dlg.canceled.connect(lambda: self.controller.cancel(job))
        # Escape where the dialog's own Escape shortcut does not fire (it is not the active
        # window) is QDialog's reject(): it hid the dialog, and the job went on out of sight
        dlg.rejected.connect(lambda: self.controller.cancel(job))
        dlg.show()
        self._progress_dialog = dlg
        self._progress_job = job
        return dlg

    def _set_progress(self, dlg, value, maximum=None, label=None) -> None:
        if self._progress_dialog is not dlg:
            return  # the dialog was closed already
        if dlg.wasCanceled():  # QProgressDialog.cancel() called directly emits no ``canceled``
            self.controller.cancel(self._progress_job)
            return
        if maximum is not None:
            dlg.setMaximum(maximum)
        if label is not None:
            dlg.setLabelText(label)
        dlg.setValue(int(value))

    def _close_progress(self) -> None:
        if self._progress_dialog is not None:
            self._progress_dialog.blockSignals(True)
            self._progress_dialog.setObjectName("")  # findChild finds the next one, not this
            self._progress_dialog.close()
            self._progress_dialog.deleteLater()
            self._progress_dialog = None

    def _batch_done(self, paths) -> None:
        self._close_progress()
        self.state.status = self.exports.batch_status(paths)
        self.export_finished.emit(paths)

    def _batch_failed(self, exc) -> None:
        self._close_progress()
        if isinstance(exc, Cancelled):
            self.state.status = self.exports.BATCH_CANCELLED
            self.export_cancelled.emit()
            return
        self.show_error("Batch export failed", message(exc))

    # -- download ---------------------------------------------------------------------------
    def download_mnist(self, kind="all", confirmed=False) -> int:
        """Download MNIST on the batch worker, after the user said yes (``confirmed``
        skips the question, for scripts)."""
        if self._busy():
            return 0
        try:
            what = flows.download_question(kind)
        except flows.Refused as exc:
            self.show_error(exc.title, str(exc))
            return 0
        if not confirmed and not dialogs.ask_download(self, what):
            self.state.status = flows.NOT_STARTED
            return 0
        dlg = self._open_progress("Downloading MNIST…", 100, "downloadProgress", "download")

        def progress(done, total, name):
            self._set_progress(dlg, done, max(int(total or 0), 1), f"Downloading {name}…")

        def done(_result):
            self._close_progress()
            self.state.status = flows.DOWNLOADED
            self.browser.refresh()

        def failed(exc):
            self._close_progress()
            if not isinstance(exc, Cancelled):
                self.show_error("Download failed", flows.download_failure(exc))

        return self.controller.submit("download", flows.download_job(kind), on_done=done,
                                      on_error=failed, on_progress=progress, worker="batch")

    # -- closing ----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """A wider window widens its side docks too (:mod:`lrpgui.dock_room`)."""
        super().resizeEvent(event)
        old = event.oldSize().width()
        if old > 0 and self.isVisible():
            share_growth(self, event.size().width() - old)

    def closeEvent(self, event) -> None:
        for loop in self._waiting:  # an open in progress ends unopened
            loop.quit()
        self.save_settings()
        self._close_progress()
        self.controller.shutdown()
        gui_collector.COLLECTOR.release(self)
        super().closeEvent(event)


def apply_look(window) -> None:
    """The icon on the window and (through the application) on its dialogs, and the style
    sheet of ``resources/`` once per application."""
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from .resource_files import app_icon, style_sheet  # noqa: PLC0415

    icon = app_icon()
    window.setWindowIcon(icon)
    app = QApplication.instance()
    if app is not None and app.property("lrpLookApplied") is None:
        app.setWindowIcon(icon)
        app.setStyleSheet(app.styleSheet() + style_sheet())
        app.setProperty("lrpLookApplied", True)


def _initial_size(window, wanted=(1400, 900)) -> QSize:
    """The first-run size, shrunk to the screen's free area (a 1366×768 laptop shows the
    whole window, status bar and sample grid included); never below the layout's minimum."""
    w, h = wanted
    screen = window.screen()
    if screen is not None:
        free = screen.availableGeometry()
        w, h = min(w, free.width()), min(h, free.height())
    least = window.minimumSizeHint()
    return QSize(max(w, least.width()), max(h, least.height()))


def _conservation_text(total, output) -> str:
    """'ΣR / f(x) = 1.000': how much of the explained output the relevance keeps (1 for a
    conserving rule without biases); ΣR and f(x) are in the label's tooltip."""
    ratio = f"{total / output:.4g}" if output else "—"
    return f"ΣR / f(x) = {ratio}"
