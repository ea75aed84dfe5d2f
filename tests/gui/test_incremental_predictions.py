"""The explorer's predictions arrive batch by batch without copying the whole array each time:
the worker sent every batch's progress with a copy of all predictions so far, the state compared
it with the previous array and the grid copied it again — three passes over the dataset every
500 samples, quadratic in its size. Now each batch carries its own samples
(:class:`lrpgui.services.Predicted`), written into one array in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrpgui.services import Predicted, Token, predict_dataset

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_each_progress_report_carries_only_its_batch():
    import lrpcore

    model = lrpcore.load_model("mnist-lenet5")
    images = np.random.default_rng(0).integers(0, 256, (1100, 28, 28, 1)).astype(np.uint8)
    data = lrpcore.Dataset(images, name="digits", source="test")
    reports = []
    preds = predict_dataset(model, data, Token(lambda d, t, p: reports.append((d, t, p))),
                            batch=500)
    assert [(d, t) for d, t, _ in reports] == [(500, 1100), (1000, 1100), (1100, 1100)]
    batches = [p for _, _, p in reports]
    assert all(isinstance(b, Predicted) for b in batches)
    assert [b.first for b in batches] == [True, False, False]
    assert [b.indices.size for b in batches] == [500, 500, 100]
    joined = np.full(1100, -1)
    for b in batches:
        joined[b.indices] = b.classes
    np.testing.assert_array_equal(joined, preds)


def test_the_window_writes_each_batch_in_place(make_window, qtbot, tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "digits_images.npy", rng.integers(0, 256, (1100, 28, 28, 1), np.uint8))
    np.save(tmp_path / "digits_labels.npy", rng.integers(0, 10, 1100))
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=tmp_path /
                         "digits_images.npy")
    s = window.state
    s.misclassified_only = True  # a filter that uses the predictions: refiltered per batch
    arrays, batches = [], []
    s.events.predictions.connect(arrays.append)
    s.events.predicted.connect(batches.append)
    with qtbot.waitSignal(window.predictions_done, timeout=60000):
        window.start_predictions()
    assert len([a for a in arrays if a is not None]) == 1  # one array, filled in place
    assert [b.indices.size for b in batches if b is not None] == [500, 500, 100]
    final = s.predictions
    assert final is arrays[-1] and np.all(final >= 0)
    wrong = np.flatnonzero(final != s.labels)
    assert wrong.size and sorted(window.grid.model.dataset_indices()) == list(wrong)


def test_a_new_job_writes_into_the_array_the_state_holds():
    """A job's first batch starts a fresh array of −1; when the state already holds an equal
    one (a job cancelled before its first batch), the batches go into that one, not into a
    copy the state never sees."""
    from lrpgui.session import Session
    from lrpgui.state import AppState

    session = Session(AppState())
    s = session.state
    s.predictions = np.full(6, -1)
    session.add_predicted(Predicted(np.array([0, 2]), np.array([7, 3]), first=True), 6)
    assert s.predictions.tolist() == [7, -1, 3, -1, -1, -1]
    session.add_predicted(Predicted(np.array([5]), np.array([1])), 6)
    assert s.predictions.tolist() == [7, -1, 3, -1, -1, 1]
