"""Run, Cancel and a progress bar for one background job, kept in step with the job.

Every insight window that runs long work (sweep, sanity checks, pixel-flipping, SpRAy, RelMax
references) shows the same three widgets under the same rules: while the job runs Cancel is
enabled (and Run disabled where a second run makes no sense), the bar follows the job's
progress reports, and the buttons come back when it finishes, fails or is cancelled. One
helper, so that the windows cannot drift apart; the job itself stays the panel's business.
"""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar, QPushButton

# the bar's text: none before a job (a "0%" beside Concepts' "Find references" read as a
# search that had found nothing), the share done once one runs; an idle bar is hidden (a
# blank one looked like an empty text box), keeping its place so the buttons stay put
IDLE, RUNNING = "", "%p%"


class JobControls:
    """The widgets (``run_button``, ``cancel_button``, ``progress``) and their states.

    ``exclusive``: Run is disabled while the job runs (a pixel-flipping panel that follows
    the selection keeps it enabled: a new run supersedes the old one).
    """

    def __init__(self, prefix, run, cancel, run_text="Run", exclusive=True, names=None):
        names = names or {}
        self.exclusive = exclusive
        self.run_button = QPushButton(run_text, objectName=names.get("run", f"{prefix}Run"))
        self.cancel_button = QPushButton("Cancel",
                                         objectName=names.get("cancel", f"{prefix}Cancel"))
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("stop the running job")
        self.progress = QProgressBar(objectName=names.get("progress", f"{prefix}Progress"))
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(IDLE)
        policy = self.progress.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.progress.setSizePolicy(policy)
        self.progress.hide()
        self.run_button.clicked.connect(lambda: run())
        self.cancel_button.clicked.connect(lambda: cancel())

    def widgets(self) -> tuple:
        return self.progress, self.run_button, self.cancel_button

    def started(self, total=1) -> None:
        self.progress.setFormat(RUNNING)
        self.progress.show()
        self.step(0, total)
        self.cancel_button.setEnabled(True)
        self.run_button.setEnabled(not self.exclusive)

    def step(self, done, total) -> None:
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))

    def finished(self) -> None:
        self._idle()
        self.progress.setValue(self.progress.maximum())

    def failed(self) -> None:
        self._idle()

    def cancelled(self) -> None:
        self._idle()
        self.progress.setValue(0)
        self.progress.setFormat(IDLE)
        self.progress.hide()

    def _idle(self) -> None:
        self.cancel_button.setEnabled(False)
        self.run_button.setEnabled(True)


__all__ = ["JobControls"]
