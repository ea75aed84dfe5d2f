"""What the Sweep and Sanity windows share: a batch of the dataset judged on demand (Run,
Cancel, a progress bar) on their own worker, so that a long run never delays the main view's
explanations or the other insight tools."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSpinBox

from .panel import ToolPanel
from .trust_tasks import WORKER


class BatchPanel(ToolPanel):
    """Base of the two windows: computes only when Run is pressed."""

    follows_selection = False
    tool_name = "This tool"  # how its status message names it

    def __init__(self, runner, parent=None):
        super().__init__(runner.on_worker(WORKER), parent)
        self._stale = False  # nothing runs until the user asks
        self.result = None
        self.state.events.model.connect(lambda _m: self.clear_results())
        # results of the dataset left are not results of the next (a sweep that finished
        # after another dataset opened showed its ranking and maps under that one)
        self.state.events.dataset.connect(lambda _d: self.clear_results())

    def rule_field(self, name, tooltip) -> QLineEdit:
        """The rule to judge; empty means the app's rule, shown as the placeholder."""
        edit = QLineEdit(objectName=name)
        edit.setPlaceholderText(self.state.rule)
        edit.setToolTip(tooltip)
        self.state.events.rule.connect(edit.setPlaceholderText)
        return edit

    def batch_controls(self, n_default, prefix) -> QHBoxLayout:
        self.n_spin = QSpinBox(objectName=f"{prefix}Samples")
        self.n_spin.setRange(1, 100000)
        self.n_spin.setValue(n_default)
        self.n_spin.setToolTip("how many samples of the dataset are judged (spread evenly over it)")
        jobs = self.job_controls(prefix)
        self.run_button.setToolTip("start in the background (the window stays usable)")
        row = QHBoxLayout()
        row.addWidget(QLabel("samples"))
        row.addWidget(self.n_spin)
        row.addStretch(1)
        for w in jobs.widgets():
            row.addWidget(w)
        return row

    def submit(self, fn, on_done, on_progress=None) -> int:
        if self.state.target == "output":  # the task follows "pred" (TrustJob.target_value)
            self.state.status = (f"{self.tool_name} follows each sample's predicted class: "
                                 "target “all outputs” is no single class to follow")
        return super().submit(fn, on_done, on_progress)

    def clear_results(self) -> None:
        self.cancel()
        self.result = None
