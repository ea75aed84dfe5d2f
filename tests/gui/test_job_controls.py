"""One helper (lrpgui.insight.job_controls) keeps Run, Cancel and the progress bar of every
background job in step with it: the Sweep, Sanity, SpRAy and pixel-flipping windows and the
RelMax references share it instead of four copies of the same button logic."""

from __future__ import annotations

from pathlib import Path

from lrpgui.insight.job_controls import JobControls

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_the_controls_follow_a_job(qtbot):
    runs, cancels = [], []
    jobs = JobControls("x", lambda: runs.append(1), lambda: cancels.append(1))
    for w in jobs.widgets():
        qtbot.addWidget(w)
    assert jobs.run_button.objectName() == "xRun" and not jobs.cancel_button.isEnabled()
    jobs.run_button.click()
    jobs.started()
    assert runs == [1] and jobs.cancel_button.isEnabled() and not jobs.run_button.isEnabled()
    jobs.step(2, 5)
    assert (jobs.progress.value(), jobs.progress.maximum()) == (2, 5)
    jobs.cancel_button.click()
    jobs.cancelled()
    assert cancels == [1] and jobs.progress.value() == 0
    assert jobs.run_button.isEnabled() and not jobs.cancel_button.isEnabled()
    jobs.started(3)
    jobs.finished()
    assert jobs.progress.value() == 3 and jobs.run_button.isEnabled()
    jobs.started()
    jobs.failed()
    assert jobs.run_button.isEnabled() and not jobs.cancel_button.isEnabled()
    live = JobControls("y", lambda: None, lambda: None, exclusive=False)
    live.started()
    assert live.run_button.isEnabled() and live.cancel_button.isEnabled()  # a rerun supersedes


def test_every_batch_window_uses_it(make_window, toy_files):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    for name in ("sweep", "sanity", "spray", "pixelflip"):
        panel = window.insight[name]
        assert isinstance(panel.jobs, JobControls), name
        assert (panel.progress, panel.run_button, panel.cancel_button) == panel.jobs.widgets()
    concepts = window.insight["concepts"]
    assert concepts.refs.run_button is concepts.refs_button
