"""What the Sweep and Sanity windows share: a batch of the dataset judged on demand (Run,
Cancel, a progress bar) on their own worker, so that a long run never delays the main view's
explanations or the other insight tools."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox

from .panel import ToolPanel
from .trust_tasks import WORKER


class TrustRunner:
    """The insight runner's interface, submitting to the ``trust`` worker."""

    def __init__(self, runner):
        self.state = runner.state
        self.cache = runner.cache
        self.controller = runner.controller
        if WORKER not in self.controller.workers:
            self.controller.add_worker(WORKER, latest_only=False)

    def submit(self, key, fn, on_done=None, on_error=None, on_progress=None) -> int:
        return self.controller.submit(key, fn, on_done=on_done, on_error=on_error,
                                      on_progress=on_progress, worker=WORKER)

    def cancel(self, key) -> None:
        self.controller.cancel(key)

    def pending(self, key) -> bool:
        return self.controller.pending(key)


class BatchPanel(ToolPanel):
    """Base of the two windows: computes only when Run is pressed."""

    follows_selection = False

    def __init__(self, runner, parent=None):
        super().__init__(TrustRunner(runner), parent)
        self._stale = False  # nothing runs until the user asks
        self.result = None
        self.state.events.model.connect(lambda _m: self.clear_results())

    def batch_controls(self, n_default, prefix) -> QHBoxLayout:
        self.n_spin = QSpinBox(objectName=f"{prefix}Samples")
        self.n_spin.setRange(1, 100000)
        self.n_spin.setValue(n_default)
        self.n_spin.setToolTip("how many samples of the dataset are judged (spread evenly over it)")
        self.run_button = QPushButton("Run", objectName=f"{prefix}Run")
        self.run_button.setToolTip("start in the background (the window stays usable)")
        self.cancel_button = QPushButton("Cancel", objectName=f"{prefix}Cancel")
        self.cancel_button.setToolTip("stop the running job")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(objectName=f"{prefix}Progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.run_button.clicked.connect(self.refresh)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(QLabel("samples"))
        row.addWidget(self.n_spin)
        row.addStretch(1)
        row.addWidget(self.progress)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        return row

    def started(self, total) -> None:
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self.run_button.setEnabled(False)

    def stopped(self) -> None:
        self.cancel_button.setEnabled(False)
        self.run_button.setEnabled(True)

    def step_done(self, done, total) -> None:
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))

    def cancelled(self) -> None:
        self.stopped()
        self.progress.setValue(0)

    def _on_error(self, exc) -> None:
        self.stopped()
        super()._on_error(exc)

    def clear_results(self) -> None:
        self.cancel()
        self.result = None
