"""The shared behaviour of the insight panels: follow the selection while visible, run the
work on the insight worker (Run, Cancel and progress through :class:`JobControls`), show
errors inline, announce each displayed result."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from lrpcore.errors import LRPError

from ..wording import gui_message
from .job_controls import JobControls
from .runner import is_cancellation


class ToolPanel(QWidget):
    """Base class: subclasses implement :meth:`start` (submit a job) and set ``key``."""

    updated = Signal()  # a new result is on display
    failed = Signal(str)  # a job failed; the message is also shown in ``error_label``

    key = "insight"
    follows_selection = True
    app_settings = None  # the window's Settings (last folders), set by install_insight_tools
    jobs: JobControls | None = None  # Run/Cancel/progress of the panel's job (job_controls)

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.state = runner.state
        self.last_error: str | None = None
        self.error_label = QLabel()
        self.error_label.setObjectName(f"{self.key}Error")
        self.error_label.setWordWrap(True)
        # messages quote file and node names: as HTML, <img src="/dev/zero"> would be read
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.hide()
        self._stale = True
        self._job = 0  # id of the job whose result this panel waits for (0: none)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(60)
        self._debounce.timeout.connect(self._refresh_now)
        if self.follows_selection:
            self.state.events.explanation.connect(self._on_explanation)
            self.state.events.model.connect(lambda _m: self.mark_stale())

    # -- when to recompute ------------------------------------------------------------------
    def _on_explanation(self, result) -> None:
        if result is not None:
            self.mark_stale()

    def mark_stale(self) -> None:
        """The shown result no longer matches the app: recompute now if visible, else later."""
        self._stale = True
        if self.isVisible():
            self.refresh()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        """The least height at ``width``: a tool's scroll area (``insight.tools.scrolled``)
        takes this as the panel's floor, and a word-wrapped line made the layout answer its
        preferred height, so Conservation and SpRAy scrolled in windows they fit."""
        layout = self.layout()
        if layout is None or not layout.hasHeightForWidth():
            return super().heightForWidth(width)
        return layout.totalMinimumHeightForWidth(width)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Ask for a recomputation soon (several changes in a row cost one job)."""
        self._debounce.start()

    def _refresh_now(self) -> None:
        self._stale = False
        try:
            self.start()
        except LRPError as exc:  # e.g. the selected sample cannot be read (NaN, bad file)
            self.show_error(str(exc))

    def start(self) -> int:
        raise NotImplementedError

    def job_controls(self, prefix, exclusive=True) -> JobControls:
        """Run, Cancel and a progress bar (also ``run_button``, ``cancel_button``,
        ``progress``) that start, follow and end with every job :meth:`submit` runs."""
        self.jobs = JobControls(prefix, self.refresh, self.cancel, exclusive=exclusive)
        self.run_button = self.jobs.run_button
        self.cancel_button = self.jobs.cancel_button
        self.progress = self.jobs.progress
        return self.jobs

    def submit(self, fn, on_done, on_progress=None) -> int:
        jobs = self.jobs

        def done(result):
            self._job = 0
            if jobs is not None:
                jobs.finished()
            on_done(result)

        def progress(n_done, total, payload):
            if jobs is not None:
                jobs.step(n_done, total)
            if on_progress is not None:
                on_progress(n_done, total, payload)

        if jobs is not None:
            jobs.started()
        self._job = self.runner.submit(
            self.key, fn, on_done=done, on_error=self._on_error,
            on_progress=progress if jobs is not None or on_progress is not None else None)
        return self._job

    def cancel(self) -> None:
        """Stop the running job (its result, if it still arrives, is dropped)."""
        self._debounce.stop()
        if self._job:
            self.runner.cancel(self.key)
            self._job = 0
            self.cancelled()

    # -- results ----------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        message = gui_message(message) if message else message
        self.last_error = message
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        if message:
            self.failed.emit(message)

    def clear_error(self) -> None:
        self.last_error = None
        self.error_label.clear()
        self.error_label.hide()

    def _on_error(self, exc) -> None:
        self._job = 0
        if is_cancellation(exc):
            self.cancelled()
            return
        if self.jobs is not None:
            self.jobs.failed()
        text = str(exc) if isinstance(exc, LRPError) else f"{type(exc).__name__}: {exc}"
        self.show_error(text)

    def cancelled(self) -> None:
        """Called when the job was cancelled (by the user or a newer request)."""
        if self.jobs is not None:
            self.jobs.cancelled()

    def busy(self) -> bool:
        return bool(self._job) or self._debounce.isActive()
