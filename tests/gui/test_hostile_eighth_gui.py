"""Found by the eighth hostile review in the window: each test failed before its fix."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressDialog, QWidget

from lrpgui import services

from .waiting import HeldAfterFirst, settle


def test_a_second_batch_export_does_not_silently_cancel_the_first(make_window, qtbot,
                                                                  tmp_path, monkeypatch,
                                                                  dialogs_shown):
    """Batch export is reachable while one runs (its progress dialog is not modal): the
    second took the first's place in the controller, which cancelled the first without a
    word (its files thrown away, no 'cancelled' signal) and left the first's progress
    dialog on screen for good. Now the second is refused, naming the one that runs."""
    window = make_window()
    window.batch_chunk = 10
    gate = HeldAfterFirst(monkeypatch, services, "model_read")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    finished, cancelled = [], []
    window.export_finished.connect(lambda paths: finished.append(paths))
    window.export_cancelled.connect(lambda: cancelled.append(1))
    window.batch_export(str(first), scope="filtered", formats=("npy",))
    dialog = window.findChild(QWidget, "exportProgress")
    qtbot.waitUntil(lambda: dialog.value() > 0, timeout=20000)
    assert window.batch_export(str(second), scope="filtered", formats=("npy",)) == 0
    assert window.download_mnist(confirmed=True) == 0  # the other job with such a dialog
    assert [title for title, _ in dialogs_shown] == ["Please wait"] * 2
    assert "A batch export is running" in dialogs_shown[0][1]
    gate.release()
    settle(qtbot, window.controller)
    assert [len(p) for p in finished] == [2 * 120] and not cancelled
    assert len(list(first.iterdir())) == 2 * 120 and not list(second.iterdir())
    assert not [d for d in window.findChildren(QProgressDialog) if d.isVisible()]
    # the next export, once the first is done, runs
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.batch_export(str(second), scope="selection", formats=("npy",))
    assert list(second.iterdir())


def test_a_settings_file_of_hundreds_of_recent_files_lists_the_last_few(make_window,
                                                                      settings_file):
    """The explorer keeps 8 recent files, but read back whatever the settings file listed:
    1,000 (a file edited or written by a script; 300 here) froze the window for 96 s at its
    start and at every model or dataset opened, each entry compared with every other by
    resolved path."""

    from PySide6.QtCore import QSettings

    from lrpgui.settings import MAX_RECENT, Settings

    q = QSettings(str(settings_file), QSettings.Format.IniFormat)
    q.setValue("recent/models", [f"/nowhere/model_{i}.npz" for i in range(300)])
    q.sync()
    assert Settings(q).recent("models") == [f"/nowhere/model_{i}.npz"
                                            for i in range(MAX_RECENT)]
    window = make_window()  # its toy model comes first, then the file's first entries
    recent = window.settings.recent("models")
    assert recent[1:] == [f"/nowhere/model_{i}.npz" for i in range(MAX_RECENT - 1)]
    models = window.browser.models
    listed = [models.item(r).text() for r in range(models.count())]
    assert sum("(recent)" in text for text in listed) <= MAX_RECENT


def test_a_sweep_of_the_dataset_left_is_not_shown_over_the_next(make_window, qtbot,
                                                                 toy_files, tmp_path,
                                                                 monkeypatch):
    """Sweep and Sanity clear their results when another model opens, not when another
    dataset does: a sweep running on the first dataset finished after the second was open
    and showed its ranking and heatmaps (of the first dataset's samples) under it."""
    from pathlib import Path

    import numpy as np

    from lrpcore.insight.faithfulness import FlipScorer

    window = make_window(model=Path(__file__).resolve().parents[2] / "models" /
                         "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("sweep")
    panel.rule_edit.setText("alphabeta:2")
    panel.n_spin.setValue(6)
    panel.steps.setValue(5)
    gate = HeldAfterFirst(monkeypatch, FlipScorer, "score", timeout=120.0)
    panel.refresh()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60000)
    other = tmp_path / "other.npy"
    np.save(other, np.full((5, 28, 28), 90, np.uint8))
    assert window.open_dataset(str(other))
    gate.release()
    settle(qtbot, window.controller)
    assert window.state.dataset_name == str(other)
    assert panel.result is None and panel.rows == [] and panel.table.rowCount() == 0
    assert panel.run_button.isEnabled()


def _toy_store(toy_files, out, rule):
    """A relevance store of the toy data, as 'lrp explain --out R.zarr --rule RULE' writes it
    (an in-process Dask cluster)."""
    import distributed

    from lrpcore import distributed as dist

    model, images = toy_files
    source, _ = dist.open_source(images)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        args = {"model": str(model), "backend": "numpy", "dtype": "float32", "rule": rule,
                "layer_rules": {}, "target": "pred", "raw": False, "batch_size": 64,
                "source": source}
        assert dist.explain_to_store(args, out, client=client, progress=False).failed == []
    return out


def test_a_relevance_store_of_a_preset_opens_in_the_explorer(make_window, qtbot, toy_files,
                                                            tmp_path, dialogs_shown):
    """'lrp explain model.onnx x --out R.zarr' explains a graph model with EpsilonPlus, a
    preset, and stores that name: the explorer refused the store ('unknown rule
    EpsilonPlus': its rule was read as a plain rule spec). A store whose target the explorer
    cannot take was refused only half-way, after its model and dataset had been opened."""
    import pytest
    import zarr

    pytest.importorskip("distributed")
    from .waiting import settle

    store = _toy_store(toy_files, tmp_path / "R.zarr", "EpsilonPlus")
    window = make_window()
    assert window.open_relevance_store(store, quiet=True), window.last_error
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.precomputed, timeout=20000)
    assert window.state.rule == "EpsilonPlus"
    settle(qtbot, window.controller)
    group = zarr.open_group(store, mode="r+")
    group.attrs["lrp_run"] = {**group.attrs["lrp_run"], "target": "bogus"}
    window.close_dataset()
    assert not window.open_relevance_store(store, quiet=True)
    assert str(store) in window.last_error and "bogus" in window.last_error
    assert window.state.dataset is None  # nothing of the store was opened


def test_a_spray_result_opened_while_a_run_goes_on_stays_on_display(make_window, qtbot,
                                                                    tmp_path, monkeypatch):
    """Opening a saved SpRAy result while a SpRAy run was still going showed it, then the
    run's own result replaced it when the run ended, without a word."""
    import threading

    import numpy as np

    from lrpcore.spray import SprayResult
    from lrpgui.insight import spray_window

    window = make_window()
    panel = window.insight.show("spray")
    n = 12
    rng = np.random.default_rng(0)
    saved = SprayResult(indices=np.arange(n), labels=np.zeros(n, np.int64),
                        heatmaps=rng.normal(size=(n, 28, 28)),
                        features=rng.normal(size=(n, 64)), clusters=np.arange(n) % 2,
                        eigenvalues=np.linspace(0, 1, 6), embedding=rng.normal(size=(n, 2)),
                        meta={"class": 0})
    path = tmp_path / "saved.npz"
    saved.save(path)
    gate, real = threading.Event(), spray_window.spray_task
    monkeypatch.setattr(spray_window, "spray_task",
                        lambda *a: (gate.wait(20), real(*a))[1])
    panel.class_box.setCurrentIndex(panel.class_box.findData(None))
    panel.k_spin.setValue(2)
    panel.refresh()
    qtbot.waitUntil(panel.busy, timeout=10000)
    qtbot.waitUntil(lambda: bool(panel._job), timeout=10000)
    opened = panel.open(str(path))
    assert opened is not None and panel.result is opened
    gate.set()
    settle(qtbot, window.controller)
    assert panel.result is opened and panel.run_button.isEnabled()
